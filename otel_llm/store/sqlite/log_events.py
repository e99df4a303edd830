"""OTLP log records joined to the runs of their spans, in any arrival order.

Every log record is kept in `log_events` (keyed by a hash of the record, so a retried
export stores it once). A record that names a span (trace id + span id) and is a GenAI
event (a `gen_ai.*` event name or `gen_ai.*` attributes) joins that span's run exactly as
if it had been a span event: the run's span context, its operation and the records (as
span events, attributes `gen_ai.*` as span attributes) go through `span_to_run`, and what
that reads (messages, tool calls, usage, model) fills what the stored run lacks. Fields a
join filled are remembered in `log_joins` and recomputed from all of the span's records
at every join (unless the span itself has since brought them), so the result does not
depend on the order in which records and the span arrive, nor on how they are split
into requests.

A record whose span is not stored yet waits (its `run_id` is NULL) and is joined in the
transaction that stores the span. `gen_ai.evaluation.result` records become feedback on
the run when they join. Records with no span context, that are not GenAI events, or whose
span does not arrive are kept and counted (`log_event_counts`, `unjoined_log_events`),
per project: a record's `project` (the server sets it from the request's project header),
else its resource's (`otel_llm.projects.project_for`).

Deleting a trace deletes the records joined to its runs and those waiting for its spans;
retention deletes unjoined records by the time they were received (`delete_*` below).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson

from otel_llm.convert import span_to_run
from otel_llm.evaluations import EVALUATION_EVENT, evaluation_feedback
from otel_llm.ids import run_id_from_span_id, span_id_from_run_id, uuid_str
from otel_llm.model import Run, SpanEvent, SpanKind, SpanRecord
from otel_llm.otlp.logs import LogRecord, span_attributes_of
from otel_llm.projects import DEFAULT_PROJECT, project_for
from otel_llm.store.base import UnstorableRun
from otel_llm.store.sqlite.rows import Row, SQLiteRowBuilder
from otel_llm.store.sqlite.schema import chunks, placeholders

ReadRun = Callable[[sqlite3.Connection, str], "dict[str, Any] | None"]

_OPERATION = {"llm": "chat", "embedding": "embeddings", "tool": "execute_tool"}


def is_gen_ai(record: dict[str, Any]) -> bool:
    """Whether a record (LogRecord dict) is a GenAI event."""
    name = record.get("event_name") or ""
    if name.startswith("gen_ai."):
        return True
    return any(k.startswith("gen_ai.") for k in record.get("attributes") or ())


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_SORT_KEYS)


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def store_log_events(
    conn: sqlite3.Connection, records: Sequence[dict[str, Any]]
) -> set[tuple[str, str]]:
    """Keep new records (a record sent again is stored once); returns the (trace, span)
    hex pairs of the GenAI records among them, which may join now."""
    now = time.time_ns()
    spans: set[tuple[str, str]] = set()
    rows = []
    for record in records:
        text = _dumps(record)
        key = hashlib.sha256(text).hexdigest()
        trace, span = record.get("trace_id") or "", record.get("span_id") or ""
        joinable = int(bool(trace and span and is_gen_ai(record)))
        project = record.get("project")
        if not isinstance(project, str) or not project:
            resource = record.get("resource")
            project = project_for(resource if isinstance(resource, dict) else {})
        if joinable:
            spans.add((trace, span))
        rows.append(
            (
                key,
                trace,
                span,
                joinable,
                int(record.get("time_unix_nano") or 0),
                record.get("event_name") or "",
                text.decode(),
                now,
                project,
            )
        )
    conn.executemany(
        "INSERT OR IGNORE INTO log_events (key, trace_id, span_id, joinable, time, "
        "event_name, record, received_time, project) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return spans


def spans_of_runs(conn: sqlite3.Connection, run_ids: Iterable[str]) -> set[tuple[str, str]]:
    """The (trace, span) pairs of stored runs that have joined or waiting records."""
    ids = list(run_ids)
    found: set[tuple[str, str]] = set()
    if not ids:
        return found
    for chunk in chunks(ids):
        marks = placeholders(chunk)
        found.update(
            conn.execute(
                f"SELECT DISTINCT trace_id, span_id FROM log_events WHERE run_id IN ({marks})",
                chunk,
            )
        )
    waiting = conn.execute(
        "SELECT 1 FROM log_events WHERE run_id IS NULL AND joinable = 1 LIMIT 1"
    ).fetchone()
    if waiting is None:
        return found
    for chunk in chunks(ids):
        marks = placeholders(chunk)
        for run_id, otel_trace, span_hex in conn.execute(
            f"SELECT id, otel_trace_id, json_extract(extra, '$.otel.span_id') FROM runs "
            f"WHERE id IN ({marks}) AND otel_trace_id IN "
            "(SELECT trace_id FROM log_events WHERE run_id IS NULL AND joinable = 1)",
            chunk,
        ):
            if not isinstance(span_hex, str):
                span_hex = span_id_from_run_id(_uuid(run_id)).hex()
            found.add((otel_trace, span_hex.lower()))
    return found


def _uuid(text: str) -> uuid.UUID:
    return uuid.UUID(text)


def run_of_span(conn: sqlite3.Connection, trace: str, span: str) -> str | None:
    """The stored run of a span: by the run id derived from its span id, else (a span that
    carried its own run id) by the span id kept in the run's extra."""
    try:
        candidate = uuid_str(run_id_from_span_id(bytes.fromhex(span)))
    except ValueError:
        return None
    row = conn.execute(
        "SELECT id FROM runs WHERE id = ? AND otel_trace_id = ?", (candidate, trace)
    ).fetchone()
    if row is not None:
        return str(row[0])
    row = conn.execute(
        "SELECT id FROM runs WHERE trace_key = (SELECT key FROM traces WHERE otel_trace_id = ?)"
        " AND json_extract(extra, '$.otel.span_id') = ?",
        (trace, span),
    ).fetchone()
    return None if row is None else str(row[0])


def join_spans(
    conn: sqlite3.Connection,
    spans: Iterable[tuple[str, str]],
    read_run: ReadRun,
    row_builder: SQLiteRowBuilder,
) -> tuple[list[Row], list[dict[str, Any]]]:
    """Rows of the runs of these spans with all their records joined, and the feedback
    of their evaluation records. Spans not stored yet are left waiting."""
    rows: list[Row] = []
    feedback: list[dict[str, Any]] = []
    for trace, span in sorted(spans):
        run_id = run_of_span(conn, trace, span)
        if run_id is None:
            continue
        stored = read_run(conn, run_id)
        if stored is None:
            continue
        found = conn.execute(
            "SELECT record FROM log_events WHERE trace_id = ? AND span_id = ? AND joinable = 1 "
            "ORDER BY time, key",
            (trace, span),
        ).fetchall()
        if not found:
            continue
        conn.execute(
            "UPDATE log_events SET run_id = ? WHERE trace_id = ? AND span_id = ?",
            (run_id, trace, span),
        )
        records = [LogRecord.from_dict(orjson.loads(r)) for (r,) in found]
        known = conn.execute("SELECT fields FROM log_joins WHERE run_id = ?", (run_id,)).fetchone()
        try:
            run, filled = joined_run(stored, records, orjson.loads(known[0]) if known else {})
        except ValueError as exc:
            raise UnstorableRun(run_id, f"log events: {exc}") from None
        conn.execute(
            "INSERT INTO log_joins (run_id, fields) VALUES (?, ?) "
            "ON CONFLICT (run_id) DO UPDATE SET fields = excluded.fields",
            (run_id, orjson.dumps(filled)),
        )
        rows += row_builder([run], None)
        trace_run = str(run.trace_id) if run.trace_id is not None else run_id
        for record in records:
            if record.event_name == EVALUATION_EVENT:
                item = evaluation_feedback(
                    run_id, trace_run, record.attributes, record.time_unix_nano
                )
                if item is not None:
                    feedback.append(item)
    return rows, feedback


def joined_run(
    stored: dict[str, Any], records: Sequence[LogRecord], previous: dict[str, str]
) -> tuple[Run, dict[str, str]]:
    """The stored run (SDK dict shape) with its span's log records applied as span events,
    and what they filled (path -> hash of the value).

    `previous` is what an earlier join filled: a field still holding that value is
    recomputed from every record; one that changed since (the span brought its own) stays.

    Raises:
        ValueError: when the stored run is not a valid run.
    """
    base = Run.from_dict(stored)
    _remove_filled(base, previous)
    first = records[0]
    attrs: dict[str, Any] = {}
    operation = _OPERATION.get(base.run_type)
    if operation is not None:
        attrs["gen_ai.operation.name"] = operation
    for record in records:
        for key, value in span_attributes_of(record).items():
            attrs.setdefault(key, value)
    end = base.end_time_ns if base.end_time_ns is not None else base.start_time_ns
    span = SpanRecord(
        trace_id=first.trace_id,
        span_id=first.span_id,
        name=base.name,
        kind=SpanKind.CLIENT if operation else SpanKind.INTERNAL,
        start_time_unix_nano=base.start_time_ns,
        end_time_unix_nano=end,
        attributes=attrs,
        events=[
            SpanEvent(r.event_name, r.time_unix_nano or base.start_time_ns, r.event_attributes())
            for r in records
        ],
        resource=dict(first.resource),
        scope_name=first.scope_name,
        scope_version=first.scope_version,
    )
    read = span_to_run(span)
    filled: dict[str, str] = {}
    if read is not None:
        _fill(base, read, filled)
    return base, filled


def _hash(value: Any) -> str:
    return hashlib.sha256(_dumps(value)).hexdigest()[:16]


def _places(run: Run) -> dict[str, dict[str, Any]]:
    places: dict[str, dict[str, Any]] = {"inputs": run.inputs}
    if run.outputs is not None:
        places["outputs"] = run.outputs
    for part in ("metadata", "invocation_params"):
        got = run.extra.get(part)
        if isinstance(got, dict):
            places[f"extra.{part}"] = got
    return places


def _remove_filled(run: Run, previous: dict[str, str]) -> None:
    places = _places(run)
    for path, digest in previous.items():
        if path == "events":
            continue
        place, _, key = path.rpartition(".")
        target = places.get(place)
        if target is not None and key in target and _hash(target[key]) == digest:
            del target[key]
    if run.outputs is not None and not run.outputs:
        run.outputs = None
    ours = {d for p, d in previous.items() if p.startswith("events:")}
    if ours:
        run.events = [e for e in run.events if _hash(e) not in ours]


def _fill(base: Run, read: Run, filled: dict[str, str]) -> None:
    if base.outputs is None and read.outputs:
        base.outputs = {}
    for place, got in _places(read).items():
        if place.startswith("extra."):
            have = base.extra.setdefault(place[len("extra.") :], {})
        else:
            have = _places(base).get(place)
        if not isinstance(have, dict):
            continue
        for key, value in got.items():
            if key not in have:
                have[key] = value
                filled[f"{place}.{key}"] = _hash(value)
    seen = {_hash(e) for e in base.events}
    for event in read.events:
        digest = _hash(event)
        if digest not in seen:
            base.events.append(event)
            filled[f"events:{digest}"] = digest
    if base.outputs is not None and not base.outputs:
        base.outputs = None


# Records stored before log_events had a project column are in the default project.
_PROJECT = f"COALESCE(project, '{DEFAULT_PROJECT}')"


def _in_project(project: str | None) -> tuple[str, tuple[str, ...]]:
    """The SQL condition (and its parameter) for one project's records; any for None."""
    if project is None:
        return "1", ()
    return f"{_PROJECT} = ?", (project,)


def log_event_counts(
    conn: sqlite3.Connection, wait_ns: int, now_ns: int | None = None, project: str | None = None
) -> dict[str, int]:
    """joined, waiting (for their span, within `wait_ns`) and unjoined records, of one
    project (by name) or of all (None)."""
    now = time.time_ns() if now_ns is None else now_ns
    where, params = _in_project(project)
    joined, waiting, unjoined = conn.execute(
        "SELECT COALESCE(SUM(run_id IS NOT NULL), 0), "
        "COALESCE(SUM(run_id IS NULL AND joinable = 1 AND received_time >= ?), 0), "
        "COALESCE(SUM(run_id IS NULL AND (joinable = 0 OR received_time < ?)), 0) "
        f"FROM log_events WHERE {where}",
        (now - wait_ns, now - wait_ns, *params),
    ).fetchone()
    return {"joined": int(joined), "waiting": int(waiting), "unjoined": int(unjoined)}


def unjoined_log_events(
    conn: sqlite3.Connection,
    wait_ns: int,
    limit: int = 100,
    offset: int = 0,
    now_ns: int | None = None,
    project: str | None = None,
) -> list[dict[str, Any]]:
    """Records that joined no run: no span context, not a GenAI event, or their span did
    not arrive within `wait_ns`; oldest first; of one project (by name) or of all."""
    now = time.time_ns() if now_ns is None else now_ns
    where, params = _in_project(project)
    out = []
    for record, received in conn.execute(
        "SELECT record, received_time FROM log_events WHERE run_id IS NULL AND "
        f"(joinable = 0 OR received_time < ?) AND {where} "
        "ORDER BY received_time, key LIMIT ? OFFSET ?",
        (now - wait_ns, *params, limit, offset),
    ):
        item = orjson.loads(record)
        item["received_time_unix_nano"] = received
        out.append(item)
    return out


def delete_for_traces(conn: sqlite3.Connection, marks: str, keys: Sequence[int]) -> None:
    """Delete the records of traces about to be deleted (by trace key, `marks` being
    their placeholders): those joined to their runs, and those waiting for their spans.
    Runs before the traces' rows are deleted."""
    runs = f"SELECT id FROM runs WHERE trace_key IN ({marks})"
    conn.execute(f"DELETE FROM log_events WHERE run_id IN ({runs})", keys)
    conn.execute(f"DELETE FROM log_joins WHERE run_id IN ({runs})", keys)
    conn.execute(
        "DELETE FROM log_events WHERE run_id IS NULL AND trace_id IN "
        f"(SELECT otel_trace_id FROM traces WHERE key IN ({marks}))",
        keys,
    )


def delete_unjoined(conn: sqlite3.Connection, received_before_ns: int, project: str | None) -> int:
    """Delete the records that joined no run and were received before this time, of one
    project (by name) or of all; returns how many."""
    where, params = _in_project(project)
    deleted: int = conn.execute(
        f"DELETE FROM log_events WHERE run_id IS NULL AND received_time < ? AND {where}",
        (received_before_ns, *params),
    ).rowcount
    return deleted
