"""otel-llm: a two-way bridge between OpenTelemetry LLM spans and LangSmith-style runs.

The public API is what `__all__` lists; everything else is private and may change.
"""

from otel_llm.convert import (
    DEFAULT_EMIT,
    classify,
    observation_of,
    otel_ids,
    run_to_span,
    runs_to_spans,
    span_to_run,
    spans_to_runs,
)
from otel_llm.exporter import ConventionSpanExporter
from otel_llm.instrumentation import observe
from otel_llm.model import (
    ObservationType,
    Run,
    SpanEvent,
    SpanKind,
    SpanLink,
    SpanRecord,
    StatusCode,
)
from otel_llm.otlp import OTLPDecodeError
from otel_llm.processor import ProcessorStats, RunLogProcessor, RunSpanProcessor
from otel_llm.redaction import BUILTIN_PATTERNS, DEFAULT_KEYS, Redactor
from otel_llm.sampling import TraceSampler
from otel_llm.sinks import (
    InMemoryRunSink,
    JsonlRunSink,
    LangSmithRunSink,
    RunSink,
    SinkResult,
    StoreRunSink,
)

__all__ = [
    "BUILTIN_PATTERNS",
    "DEFAULT_EMIT",
    "DEFAULT_KEYS",
    "ConventionSpanExporter",
    "InMemoryRunSink",
    "JsonlRunSink",
    "LangSmithRunSink",
    "OTLPDecodeError",
    "ObservationType",
    "ProcessorStats",
    "Redactor",
    "Run",
    "RunLogProcessor",
    "RunSink",
    "RunSpanProcessor",
    "SinkResult",
    "SpanEvent",
    "SpanKind",
    "SpanLink",
    "SpanRecord",
    "StatusCode",
    "StoreRunSink",
    "TraceSampler",
    "classify",
    "observation_of",
    "observe",
    "otel_ids",
    "run_to_span",
    "runs_to_spans",
    "span_to_run",
    "spans_to_runs",
]
