"""Run sinks: one small interface (`RunSink.export(runs) -> SinkResult`), several
implementations."""

from otel_llm.sinks.base import RunSink, SinkResult
from otel_llm.sinks.jsonl import JsonlRunSink
from otel_llm.sinks.langsmith import LangSmithRunSink
from otel_llm.sinks.memory import InMemoryRunSink
from otel_llm.sinks.spill import ReplayReport, SpillDirectory, replay
from otel_llm.sinks.store import StoreRunSink

__all__ = [
    "InMemoryRunSink",
    "JsonlRunSink",
    "LangSmithRunSink",
    "ReplayReport",
    "RunSink",
    "SinkResult",
    "SpillDirectory",
    "StoreRunSink",
    "replay",
]
