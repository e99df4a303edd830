"""`ConventionSpanExporter(inner, emit=...)`: rewrites spans of any LLM convention into
the project's conventions (official `gen_ai.*` plus the selected compatibility families)
and hands them to any OTel exporter, so one pipeline feeds every backend.

The `opentelemetry_traces_exporter` entry points, configured from the environment, live
in `otel_llm.from_env`.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Collection, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_llm.convert import DEFAULT_EMIT, run_to_span, spans_to_runs
from otel_llm.otlp import span_from_readable, spans_to_readable

logger = logging.getLogger(__name__)

# Written from an incomplete run (its ancestors were in another batch), these would
# name a provisional trace and a partial dotted order; LangSmith's OTLP endpoint trusts
# them over the span ids, so they are left out and the backend derives the tree.
_TREE_KEYS_OF_INCOMPLETE = ("langsmith.trace.id", "langsmith.span.dotted_order")


class ConventionSpanExporter(SpanExporter):
    """Normalises LLM spans of any convention, then exports them with `inner`.

    Span, trace and parent ids, times, status, events, links, resource and scope are
    kept; attributes are rewritten: what a known convention says is written in the
    project's conventions, everything else is kept as it was.

    Args:
        inner: any SpanExporter (OTLP gRPC/HTTP, console, in-memory, ...).
        emit: convention families to write besides `otel_llm.*` (default: all of
            "gen_ai", "openinference", "langsmith", "langfuse").
    """

    def __init__(self, inner: SpanExporter, emit: Collection[str] = DEFAULT_EMIT) -> None:
        self.inner = inner
        self.emit = frozenset(emit)
        unknown = self.emit - DEFAULT_EMIT
        if unknown:
            raise ValueError(
                f"unknown emit families {sorted(unknown)}; choose from {sorted(DEFAULT_EMIT)}"
            )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Rewrite the spans and hand them to the inner exporter.

        Args:
            spans: a batch from the span processor (children usually before parents).
        """
        try:
            out = []
            for run in spans_to_runs(span_from_readable(s) for s in spans):
                record = run_to_span(run, self.emit)
                if run.otel_incomplete:
                    for key in _TREE_KEYS_OF_INCOMPLETE:
                        record.attributes.pop(key, None)
                out.append(record)
            readable = spans_to_readable(out)
        except Exception:
            logger.exception("otel-llm: could not rewrite %d spans; sending them as they are",
                             len(spans))  # fmt: skip
            readable = list(spans)
        return self.inner.export(readable)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.inner.shutdown()


# Names that moved to otel_llm.from_env, still importable from here. Looked up on first
# use: from_env builds on this module, so importing it here would be circular.
_MOVED_TO_FROM_ENV = frozenset(
    {
        "ConventionConsoleExporter",
        "ConventionOTLPExporter",
        "RunExporter",
        "emit_from_env",
        "otlp_exporter_from_env",
        "processor_from_env",
        "sink_from_env",
    }
)


def __getattr__(name: str) -> Any:
    if name in _MOVED_TO_FROM_ENV:
        return getattr(importlib.import_module("otel_llm.from_env"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
