"""Bytes of one OTLP export request -> store rows grouped by project, ready to commit.

This is the CPU-heavy half of ingest (decompress, decode, screen, convert, and the
store's own runs -> rows step). It is a plain function of picklable values so that it
runs in a worker process while the server process does I/O and commits: only plain rows
travel back, which cost a fraction of Run objects to unpickle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from otel_llm.convert import spans_to_runs
from otel_llm.evaluations import feedback_of_runs
from otel_llm.model import Run, SpanRecord
from otel_llm.otlp import OTLPDecodeError, decode_otlp_json, decode_otlp_protobuf, span_problem
from otel_llm.server.body import Media, decompress
from otel_llm.server.projects import project_for
from otel_llm.server.status import Failure, RequestError
from otel_llm.store.base import RowBuilder, StoreChanges, UnstorableRun

_DECODERS: dict[Media, Callable[[bytes], list[SpanRecord]]] = {
    Media.PROTOBUF: decode_otlp_protobuf,
    Media.JSON: decode_otlp_json,
}
_MEDIA_NAMES = {Media.PROTOBUF: "protobuf", Media.JSON: "JSON"}

# How many distinct problems a partial-success message lists before "and N more".
_PROBLEMS_SHOWN = 3


@dataclass(slots=True)
class Prepared:
    """What one request became.

    Args:
        batches: (project, store rows) pairs, committed with `store.commit`.
        span_count: spans in the request.
        rejected: spans that cannot be stored (each is described in `problems`).
        problems: why, one English sentence per rejected span.
        decoded_bytes: size of the request after decompression.
        feedback: the runs' `gen_ai.evaluation.result` events as feedback.
    """

    batches: list[tuple[str, list[Any]]] = field(default_factory=list)
    span_count: int = 0
    rejected: int = 0
    problems: list[str] = field(default_factory=list)
    decoded_bytes: int = 0
    feedback: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run_count(self) -> int:
        return sum(len(rows) for _, rows in self.batches)

    def changes(self) -> StoreChanges:
        """What to commit."""
        return StoreChanges(
            rows=[row for _, rows in self.batches for row in rows], feedback=self.feedback
        )

    def rejection_message(self) -> str:
        """The partial-success `error_message`: how many spans, and the first reasons."""
        if not self.rejected:
            return ""
        shown = "; ".join(self.problems[:_PROBLEMS_SHOWN])
        more = len(self.problems) - _PROBLEMS_SHOWN
        tail = f"; and {more} more" if more > 0 else ""
        return f"rejected {self.rejected} of {self.span_count} spans: {shown}{tail}"


def prepare(
    data: bytes,
    media: Media,
    content_encoding: str,
    project_header: str | None,
    max_body_bytes: int,
    row_builder: RowBuilder,
) -> Prepared:
    """Decode, screen and convert one export request.

    Args:
        data: the body as received (gRPC: the serialized ExportTraceServiceRequest).
        media: protobuf or JSON.
        content_encoding: gzip, deflate or "" (checked by `body.check_encoding`).
        project_header: the request's project header, which wins over resources.
        max_body_bytes: the limit after decompression.
        row_builder: the store's runs -> rows function.

    Raises:
        RequestError: MALFORMED for bytes that are not OTLP; TOO_LARGE after
            decompression.
    """
    body = decompress(data, content_encoding, max_body_bytes)
    try:
        spans = _DECODERS[media](body)
    except OTLPDecodeError as exc:
        raise RequestError(
            Failure.MALFORMED,
            f"body is not a valid OTLP {_MEDIA_NAMES[media]} ExportTraceServiceRequest: {exc}",
        ) from None
    prepared = Prepared(span_count=len(spans), decoded_bytes=len(body))
    for project, group in _by_project(_screen(spans, prepared), project_header).items():
        runs = _convert(group, prepared)
        rows = _rows(runs, project, row_builder, prepared)
        if rows:
            prepared.feedback += feedback_of_runs(runs)
        if rows:
            prepared.batches.append((project, rows))
    return prepared


def _screen(spans: Iterable[SpanRecord], prepared: Prepared) -> list[SpanRecord]:
    """The spans OTLP allows us to accept; the others are counted as rejected."""
    accepted: list[SpanRecord] = []
    for index, span in enumerate(spans):
        problem = span_problem(span)
        if problem is None:
            accepted.append(span)
        else:
            prepared.rejected += 1
            prepared.problems.append(f"span #{index} ({span.name!r}): {problem}")
    return accepted


def _by_project(spans: list[SpanRecord], header: str | None) -> dict[str, list[SpanRecord]]:
    groups: dict[str, list[SpanRecord]] = {}
    # Spans of one ResourceSpans share their resource dict: decide once per resource.
    decided: dict[int, str] = {}
    for span in spans:
        key = id(span.resource)
        project = decided.get(key)
        if project is None:
            project = decided[key] = project_for(span.resource, header)
        groups.setdefault(project, []).append(span)
    return groups


def _convert(spans: list[SpanRecord], prepared: Prepared) -> list[Run]:
    """All spans as runs; if the batch fails, span by span, rejecting the ones that fail."""
    try:
        return spans_to_runs(spans)
    except Exception:  # isolate the span that breaks conversion below
        pass
    runs: list[Run] = []
    for span in spans:
        try:
            runs.extend(spans_to_runs([span]))
        except Exception as exc:  # one bad span must not fail the request
            prepared.rejected += 1
            prepared.problems.append(
                f"span {span.span_id.hex()} ({span.name!r}) could not be converted: {exc}"
            )
    return runs


def _rows(runs: list[Run], project: str, row_builder: RowBuilder, prepared: Prepared) -> list[Any]:
    """The store's rows of all runs; runs the store cannot hold are rejected one by one
    (each run comes from one span), so the others are still stored."""
    try:
        return row_builder(runs, project)
    except UnstorableRun:
        pass
    rows: list[Any] = []
    for run in runs:
        try:
            rows.extend(row_builder([run], project))
        except UnstorableRun as exc:
            prepared.rejected += 1
            prepared.problems.append(f"span of run {run.name!r} cannot be stored: {exc}")
    return rows
