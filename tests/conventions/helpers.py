"""Small helpers for the reader tests: build a span, read it, look at what was kept."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from otel_llm import Run, SpanEvent, SpanKind, SpanRecord, runs_to_spans, span_to_run, spans_to_runs
from otel_llm.convert import PROBLEMS_KEY
from otel_llm.otlp import decode_otlp_protobuf, encode_otlp_protobuf

T0 = 1_763_000_000_000_000_000
TRACE = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
SPAN_ID = bytes.fromhex("00f067aa0ba902b7")
PARENT_ID = bytes.fromhex("53995c3f42cd8ad8")


def span(
    attrs: dict[str, Any],
    *,
    name: str = "span",
    parent: bytes = b"",
    events: Sequence[SpanEvent] = (),
    status: int = 0,
    status_message: str = "",
    scope: str = "app",
    kind: int = SpanKind.INTERNAL,
) -> SpanRecord:
    return SpanRecord(
        trace_id=TRACE,
        span_id=SPAN_ID,
        parent_span_id=parent,
        name=name,
        kind=kind,
        start_time_unix_nano=T0,
        end_time_unix_nano=T0 + 2_000_000_000,
        attributes=dict(attrs),
        events=list(events),
        status_code=status,
        status_message=status_message,
        scope_name=scope,
    )


def read(attrs: dict[str, Any], **kw: Any) -> Run:
    """The run made of one span with these attributes."""
    run = span_to_run(span(attrs, **kw))
    assert run is not None
    return run


def raw(run: Run) -> dict[str, Any]:
    """The span attributes no reader mapped, kept verbatim."""
    attrs: dict[str, Any] = (run.extra.get("otel") or {}).get("attributes") or {}
    return attrs


def problems(run: Run) -> list[str]:
    found: list[str] = run.metadata.get(PROBLEMS_KEY, [])
    return found


def metadata(run: Run) -> dict[str, Any]:
    return {k: v for k, v in run.metadata.items() if k != PROBLEMS_KEY}


def assert_round_trip(run: Run) -> None:
    """run -> span (every family) -> OTLP bytes -> run gives the run back."""
    wire = decode_otlp_protobuf(encode_otlp_protobuf(runs_to_spans([run])))
    assert spans_to_runs(wire) == [run]
