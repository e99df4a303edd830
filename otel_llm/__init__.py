"""otel-llm: a two-way bridge between OpenTelemetry LLM spans and LangSmith-style runs.

The public API is what `__all__` lists; everything else is private and may change.
"""

from __future__ import annotations

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
from otel_llm.model import (
    ObservationType,
    Run,
    SpanEvent,
    SpanKind,
    SpanLink,
    SpanRecord,
    StatusCode,
)

__all__ = [
    "DEFAULT_EMIT",
    "ObservationType",
    "Run",
    "SpanEvent",
    "SpanKind",
    "SpanLink",
    "SpanRecord",
    "StatusCode",
    "classify",
    "observation_of",
    "otel_ids",
    "run_to_span",
    "runs_to_spans",
    "span_to_run",
    "spans_to_runs",
]
