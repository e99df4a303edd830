"""The forwarding outbox: which runs each forward destination still has to receive.

One row per (destination, run): written by the ingest transaction itself
(`Outbox.enqueue`, called from `SQLiteStore.ingest_rows`), so whatever a client was told
is stored is also queued for every destination, atomically. The forwarder reads due
rows, sends the runs as they are stored at that moment, and deletes a row only when its
`seq` is unchanged since it was read (`ack`): a change that arrived while the batch was
in flight bumped `seq` and keeps the row, so it is sent again.

The rows hold ids, not payloads: a run is rendered when it is sent, so a run changed
three times before it is sent goes out once, in its latest form. `bytes` is the size of
the run's stored data, and the sum per destination is what the outbox bound measures.
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
CREATE TABLE IF NOT EXISTS outbox (
    destination TEXT NOT NULL,
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    due INTEGER NOT NULL,
    queued INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (destination, run_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (destination, due);
"""

# A change to a queued run takes the newest seq and size; `due` only moves earlier (a
# run that ended is due now, even if an earlier open version was due later); `queued`
# stays the time of the oldest change not yet sent (the lag).
_ENQUEUE = (
    "INSERT INTO outbox (destination, run_id, seq, due, queued, bytes) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (destination, run_id) DO UPDATE SET "
    "seq = excluded.seq, due = min(outbox.due, excluded.due), bytes = excluded.bytes"
)
_ACK = "DELETE FROM outbox WHERE destination = ? AND run_id = ? AND seq = ?"
_DEFER = "UPDATE outbox SET due = ? WHERE destination = ? AND run_id = ? AND seq = ?"
_ROW_OVERHEAD = 200  # bytes of a run's fixed columns, roughly

# Positions in a runs-table row (see schema._RUN_COLUMNS) that the hook reads.
_ID, _END = 0, 10
_JSON_COLUMNS = (11, 12, 13, 14, 15, 16, 17, 18)  # error, inputs ... serialized


class Entry(NamedTuple):
    """One queued run for one destination, as read (`seq` identifies the version).
    A tuple: batches of them travel back from the render workers."""

    run_id: str
    seq: int
    queued_ns: int


# A place in a destination's due order: (due, run_id). Batches are ranges of it, so the
# forwarder can pick the next batch while earlier ones are still rendered or sent.
Position = tuple[int, str]
START: Position = (-1, "")  # before every row


@dataclass(frozen=True, slots=True)
class Depth:
    """What waits for one destination: runs, their stored bytes, the oldest change."""

    runs: int
    bytes: int
    oldest_queued_ns: int | None


class Outbox:
    """The ingest transaction's hook and the outbox's SQL.

    Args:
        destinations: names of the destinations every stored run is queued for.
        open_wait_ns: a run that has not ended is due this long after it was stored
            (runs that never end are still forwarded); an ended run is due at once.
    """

    def __init__(self, destinations: Sequence[str], open_wait_ns: int) -> None:
        self.destinations = tuple(destinations)
        self.open_wait_ns = open_wait_ns
        self._seq: int | None = None

    def enqueue(self, conn: sqlite3.Connection, rows: Iterable[list[Any]]) -> None:
        """Queue `rows` (runs-table rows being upserted) for every destination; runs
        inside the ingest transaction, on the writer's connection."""
        if not self.destinations:
            return
        if self._seq is None:
            self._seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0]
        self._seq += 1  # one per transaction: any later change gets a greater one
        seq, now = self._seq, time.time_ns()
        later = now + self.open_wait_ns
        values: list[tuple[str, str, int, int, int, int]] = []
        for row in rows:
            size = _ROW_OVERHEAD + sum(len(row[i]) for i in _JSON_COLUMNS if row[i])
            due = now if row[_END] is not None else later
            values.extend((d, row[_ID], seq, due, now, size) for d in self.destinations)
        conn.executemany(_ENQUEUE, values)


def due_entries(conn: sqlite3.Connection, destination: str, now_ns: int, limit: int) -> list[Entry]:
    """Up to `limit` rows of `destination` due by `now_ns`, earliest due first."""
    return [
        Entry(*row)
        for row in conn.execute(
            "SELECT run_id, seq, queued FROM outbox WHERE destination = ? AND due <= ? "
            "ORDER BY due LIMIT ?",
            (destination, now_ns, limit),
        )
    ]


def batch_end(
    conn: sqlite3.Connection, destination: str, after: Position, now_ns: int, limit: int
) -> Position | None:
    """Where the next batch ends: the `limit`-th row due by `now_ns` after `after` (or
    the last one, when fewer are due); None when none is. Reads the index only."""
    row = conn.execute(
        "SELECT due, run_id FROM (SELECT due, run_id FROM outbox WHERE destination = ? "
        "AND due <= ? AND (due, run_id) > (?, ?) ORDER BY due, run_id LIMIT ?) "
        "ORDER BY due DESC, run_id DESC LIMIT 1",
        (destination, now_ns, *after, limit),
    ).fetchone()
    return None if row is None else (row[0], row[1])


def entries_between(
    conn: sqlite3.Connection, destination: str, after: Position, last: Position
) -> list[Entry]:
    """The rows of `destination` after `after` up to `last` (a batch), in due order."""
    return list(
        map(
            Entry._make,
            conn.execute(
                "SELECT run_id, seq, queued FROM outbox WHERE destination = ? "
                "AND (due, run_id) > (?, ?) AND (due, run_id) <= (?, ?) ORDER BY due, run_id",
                (destination, *after, *last),
            ),
        )
    )


def ack(conn: sqlite3.Connection, destination: str, entries: Iterable[Entry]) -> int:
    """Delete rows sent (inside a write transaction); a row whose run changed since it
    was read keeps its place. Returns the rows deleted."""
    cur = conn.executemany(_ACK, [(destination, e.run_id, e.seq) for e in entries])
    return cur.rowcount


def defer(
    conn: sqlite3.Connection, destination: str, entries: Iterable[Entry], due_ns: int
) -> None:
    """Make rows due later (inside a write transaction), e.g. runs still waiting for
    their parent."""
    conn.executemany(_DEFER, [(due_ns, destination, e.run_id, e.seq) for e in entries])


def depth(conn: sqlite3.Connection, destination: str) -> Depth:
    runs, size, oldest = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(bytes), 0), MIN(queued) FROM outbox WHERE destination = ?",
        (destination,),
    ).fetchone()
    return Depth(runs, size, oldest)


def oldest_entries(
    conn: sqlite3.Connection, destination: str, limit: int
) -> list[tuple[Entry, int]]:
    """The earliest-due rows of a destination with their sizes (for the outbox bound)."""
    return [
        (Entry(rid, seq, queued), size)
        for rid, seq, queued, size in conn.execute(
            "SELECT run_id, seq, queued, bytes FROM outbox WHERE destination = ? "
            "ORDER BY due LIMIT ?",
            (destination, limit),
        )
    ]


def destinations_queued(conn: sqlite3.Connection) -> list[str]:
    """Every destination that has rows (configured now or in an earlier run)."""
    return [d for (d,) in conn.execute("SELECT DISTINCT destination FROM outbox")]


# --- the runs as stored, for sending ---------------------------------------------------

_STORED_RUN_SQL = (
    "SELECT r.id, p.name, r.trace_id, r.parent_run_id, r.dotted_order, r.incomplete, r.name, "
    "r.run_type, r.start_time, r.end_time, r.error, r.inputs, r.outputs, r.extra, r.metadata, "
    "r.tags, r.events, r.serialized, r.reference_example_id, r.attachments "
    "FROM runs r LEFT JOIN projects p ON p.id = r.project_id WHERE r.id IN ({})"
)
_CHUNK = 500


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
