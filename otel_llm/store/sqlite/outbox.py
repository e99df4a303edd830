"""The forwarding outbox: which runs each forward destination still has to receive.

The ingest transaction itself (`Outbox.enqueue`, called from `SQLiteStore.ingest_rows`)
appends, for each destination, one row that lists the ids of the runs it stored (two
when some had not ended: those are due later), so whatever a client was told is stored
is also queued for every destination, atomically. Appending keeps this cheap for the
writer, which is what bounds ingest: a row per run, keyed by its random id, cost ~30%
of the writer's time (random b-tree pages written to the WAL on every commit).

The forwarder takes due rows in batches (`batch_end`, `entries_between`), sends the runs
as they are stored at that moment, and deletes the rows once sent (`settle`). A change
to a run appends another row, so a change that arrives while a batch is in flight is
sent again afterwards. A run is rendered when it is sent, from its newest state: changes
that fall in one batch go out once, changes in different batches once each (OTLP
backends upsert spans by span id, LangSmith endpoints merge runs by id). A row of runs
that had not ended is due after the wait; by then a run that ended has been sent from
its own later row, so only the runs still open are sent from it. `bytes` is the size of
the runs' stored data, and the sum per destination is what the outbox bound measures.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from otel_llm._gc import collector_paused
from otel_llm.ids import uuid_from_int
from otel_llm.model import Run, mark_incomplete

OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS forward_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a batch in flight names its rows
    destination TEXT NOT NULL,
    due INTEGER NOT NULL,
    queued INTEGER NOT NULL,
    runs INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    open INTEGER NOT NULL,
    run_ids TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS forward_outbox_due ON forward_outbox (destination, due);
"""
# The first layout (schema version 2): a row per (destination, run), updated in place, so
# whether its run was open cannot be told: moved as not open (the run is sent as stored).
_FIRST_LAYOUT_MOVE = """
INSERT INTO forward_outbox (destination, due, queued, runs, bytes, open, run_ids)
SELECT destination, due, queued, 1, bytes, 0, run_id FROM outbox;
DROP TABLE outbox;
"""
_INSERT = (
    "INSERT INTO forward_outbox (destination, due, queued, runs, bytes, open, run_ids) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_ROW_OVERHEAD = 200  # bytes of a run's fixed columns, roughly
_SEP = ","  # between the ids of `run_ids` (UUID text has none)
_CHUNK = 500  # ids per `IN (...)` query

# Positions in a runs-table row (see schema._RUN_COLUMNS) that the hook reads.
_ID, _END = 0, 10
_JSON_COLUMNS = (11, 12, 13, 14, 15, 16, 17, 18)  # error, inputs ... serialized


def prepare_outbox(conn: sqlite3.Connection) -> None:
    """Create the outbox table if the file lacks it, and move what the first layout
    queued into it (inside a write transaction)."""
    for statement in OUTBOX_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    first = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox'")
    if first.fetchone():
        for statement in _FIRST_LAYOUT_MOVE.split(";"):
            if statement.strip():
                conn.execute(statement)


class Entry(NamedTuple):
    """One queued run for one destination: its id, the outbox row it is in, when that
    change was stored, and whether the run had not ended then. A tuple: batches of them
    travel back from the render workers."""

    run_id: str
    row: int
    queued_ns: int
    open: bool = False


# A place in a destination's due order: (due, row id). Batches are ranges of it, so the
# forwarder can pick the next batch while earlier ones are still rendered or sent.
Position = tuple[int, int]
START: Position = (-1, -1)  # before every row


@dataclass(frozen=True, slots=True)
class Depth:
    """What waits for one destination: runs, their stored bytes, the oldest change."""

    runs: int
    bytes: int
    oldest_queued_ns: int | None


class Outbox:
    """The ingest transaction's hook.

    Args:
        destinations: names of the destinations every stored run is queued for.
        open_wait_ns: a run that has not ended is due this long after it was stored
            (runs that never end are still forwarded); an ended run is due at once.
    """

    def __init__(self, destinations: Sequence[str], open_wait_ns: int) -> None:
        self.destinations = tuple(destinations)
        self.open_wait_ns = open_wait_ns
        self.last_enqueue = 0.0  # time.monotonic() of the last ingest: the forwarder yields

    def enqueue(self, conn: sqlite3.Connection, rows: Iterable[list[Any]]) -> None:
        """Queue `rows` (runs-table rows being upserted) for every destination; runs
        inside the ingest transaction, on the writer's connection."""
        if not self.destinations:
            return
        self.last_enqueue = time.monotonic()
        now = time.time_ns()
        rows = list(rows)
        still_open = _still_open(conn, [row[_ID] for row in rows if row[_END] is None])
        ended: list[str] = []
        open_: list[str] = []
        sizes = [0, 0]
        for row in rows:
            is_open = row[_ID] in still_open
            (open_ if is_open else ended).append(row[_ID])
            sizes[is_open] += _ROW_OVERHEAD + sum(len(row[i]) for i in _JSON_COLUMNS if row[i])
        conn.executemany(
            _INSERT,
            [
                (d, due, now, len(ids), size, is_open, _SEP.join(ids))
                for ids, due, size, is_open in (
                    (ended, now, sizes[0], False),
                    (open_, now + self.open_wait_ns, sizes[1], True),
                )
                if ids
                for d in self.destinations
            ],
        )


def _still_open(conn: sqlite3.Connection, run_ids: list[str]) -> set[str]:
    """Which of these just-upserted runs have no end time as stored (a row without one
    may be a change to a run that has ended: that change is due now, not after the
    wait)."""
    found: set[str] = set()
    for i in range(0, len(run_ids), _CHUNK):
        chunk = run_ids[i : i + _CHUNK]
        found.update(
            r[0]
            for r in conn.execute(
                f"SELECT id FROM runs WHERE id IN ({', '.join('?' * len(chunk))}) "
                "AND end_time IS NULL",
                chunk,
            )
        )
    return found


def _entries(rows: Iterable[tuple[int, int, int, str]]) -> list[Entry]:
    """The runs of outbox rows (id, queued, open, run_ids), in order."""
    return [
        Entry(run_id, row, queued, bool(is_open))
        for row, queued, is_open, ids in rows
        for run_id in ids.split(_SEP)
    ]


def batch_end(
    conn: sqlite3.Connection, destination: str, after: Position, now_ns: int, limit: int
) -> Position | None:
    """Where the next batch ends: at the row that brings it to `limit` runs due by
    `now_ns` after `after` (at least one row; or the last one, when fewer are due);
    None when none is."""
    last, runs = None, 0
    for due, row, count in conn.execute(
        "SELECT due, id, runs FROM forward_outbox WHERE destination = ? AND due <= ? "
        "AND (due, id) > (?, ?) ORDER BY due, id LIMIT ?",
        (destination, now_ns, *after, limit),
    ):
        last, runs = (due, row), runs + count
        if runs >= limit:
            break
    return last


def entries_between(
    conn: sqlite3.Connection, destination: str, after: Position, last: Position
) -> list[Entry]:
    """The runs of `destination`'s rows after `after` up to `last` (a batch), in order."""
    return _entries(
        conn.execute(
            "SELECT id, queued, open, run_ids FROM forward_outbox WHERE destination = ? "
            "AND (due, id) > (?, ?) AND (due, id) <= (?, ?) ORDER BY due, id",
            (destination, *after, *last),
        )
    )


def due_entries(conn: sqlite3.Connection, destination: str, now_ns: int) -> list[Entry]:
    """Every run of `destination` due by `now_ns`, earliest due first."""
    return _entries(
        conn.execute(
            "SELECT id, queued, open, run_ids FROM forward_outbox WHERE destination = ? "
            "AND due <= ? ORDER BY due, id",
            (destination, now_ns),
        )
    )


def settle(
    conn: sqlite3.Connection,
    destination: str,
    entries: Iterable[Entry],
    held: Sequence[Entry] = (),
    due_ns: int = 0,
) -> None:
    """Delete the rows of `entries` and `held` (inside a write transaction): their runs
    were sent, or are gone; the `held` runs are queued again in one row due at `due_ns`
    (e.g. runs still waiting for their parent)."""
    rows = {e.row for e in entries} | {e.row for e in held}
    conn.executemany(
        "DELETE FROM forward_outbox WHERE id = ? AND destination = ?",
        [(r, destination) for r in rows],
    )
    for is_open in (False, True):
        again = [e for e in held if e.open == is_open]
        if again:
            queued = min(e.queued_ns for e in again)
            size = _ROW_OVERHEAD * len(again)  # roughly: they are few, and sent soon
            ids = _SEP.join(e.run_id for e in again)
            conn.execute(_INSERT, (destination, due_ns, queued, len(again), size, is_open, ids))


def depth(conn: sqlite3.Connection, destination: str) -> Depth:
    runs, size, oldest = conn.execute(
        "SELECT COALESCE(SUM(runs), 0), COALESCE(SUM(bytes), 0), MIN(queued) "
        "FROM forward_outbox WHERE destination = ?",
        (destination,),
    ).fetchone()
    return Depth(runs, size, oldest)


def oldest_rows(
    conn: sqlite3.Connection, destination: str, limit: int
) -> list[tuple[list[Entry], int]]:
    """The earliest-due rows of a destination: their runs and stored bytes (for the
    outbox bound)."""
    return [
        (_entries([(row, queued, is_open, ids)]), size)
        for row, queued, is_open, ids, size in conn.execute(
            "SELECT id, queued, open, run_ids, bytes FROM forward_outbox "
            "WHERE destination = ? ORDER BY due, id LIMIT ?",
            (destination, limit),
        )
    ]


# --- the runs as stored, for sending ---------------------------------------------------

_STORED_RUN_SQL = (
    "SELECT r.id, p.name, r.trace_id, r.parent_run_id, r.dotted_order, r.incomplete, r.name, "
    "r.run_type, r.start_time, r.end_time, r.error, r.inputs, r.outputs, r.extra, r.metadata, "
    "r.tags, r.events, r.serialized, r.reference_example_id, r.attachments "
    "FROM runs r LEFT JOIN projects p ON p.id = r.project_id WHERE r.id IN ({})"
)


@collector_paused()  # thousands of new dicts that hold no cycles
def stored_runs(conn: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, Run]:
    """The runs with these ids as stored now (ids no longer stored are left out)."""
    out: dict[str, Run] = {}
    for i in range(0, len(run_ids), _CHUNK):
        chunk = run_ids[i : i + _CHUNK]
        sql = _STORED_RUN_SQL.format(", ".join("?" * len(chunk)))
        # Fetched whole, then decoded: the read ends at once (a long one would keep the
        # checkpointer from recycling the WAL the writer is filling).
        for row in conn.execute(sql, chunk).fetchall():
            out[row[0]] = _run(row)
    return out


def _run(row: tuple[Any, ...]) -> Run:
    (
        rid,
        project,
        trace,
        parent,
        dotted,
        incomplete,
        name,
        run_type,
        start,
        end,
        error,
        inputs,
        outputs,
        extra_raw,
        metadata,
        tags,
        events,
        serialized,
        reference,
        attachments,
    ) = row
    extra: dict[str, Any] = orjson.loads(extra_raw) if extra_raw else {}
    if metadata:
        extra["metadata"] = orjson.loads(metadata)
    mark_incomplete(extra, bool(incomplete))
    return Run(
        id=_uuid(rid),
        name=name,
        run_type=run_type,
        trace_id=_uuid(trace),
        parent_run_id=_uuid(parent) if parent else None,
        dotted_order=dotted,
        start_time_ns=start,
        end_time_ns=end,
        inputs=orjson.loads(inputs) if inputs else {},
        outputs=orjson.loads(outputs) if outputs else None,
        error=error,
        extra=extra,
        tags=orjson.loads(tags) if tags else [],
        events=orjson.loads(events) if events else [],
        serialized=orjson.loads(serialized) if serialized else None,
        session_name=project,
        reference_example_id=_uuid(reference) if reference else None,
        attachments=orjson.loads(attachments) if attachments else {},
    )


def _uuid(text: str) -> uuid.UUID:
    """A stored (canonical, valid) UUID's text as a UUID, without the constructor's checks."""
    return uuid_from_int(int(text.replace("-", ""), 16))
