"""Rendering a batch: read its outbox rows and runs as stored now, make the payload.

This is the forwarder's CPU work (reading a run back, `runs_to_spans`, encoding: about
as much CPU a span as ingesting it). A server with decode workers does it in render
worker processes that only use CPU nothing else wants (Linux `SCHED_IDLE`; elsewhere
the lowest nice value): an export request waits on its commit, a forwarded batch waits
on nobody, so ingest gets the cores when it wants them and the outbox absorbs the
difference (bounded, and drained as soon as ingest leaves CPU to spare). A mere lower
nice value was not enough: the server's threads wake thousands of times a second (each
request, commit and GIL hand-over), and each wake-up could wait for a render worker to
be preempted. In bench/bench_forward.py, ingest with forwarding on was 0.71-0.94x of
ingest alone (medians of four runs) at nice +10, and 0.85x and 1.04x at SCHED_IDLE.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

from otel_llm.forward.destinations import LANGSMITH, DestinationSpec, render
from otel_llm.server.pipeline import worker_init
from otel_llm.store.sqlite.outbox import Entry, Position, entries_between, stored_runs

RENDER_NICENESS = 19  # where SCHED_IDLE is missing


@dataclass(frozen=True)
class Rendered:
    """A batch ready to send: its payloads (one request each) and the outbox entries
    it covers."""

    payloads: list[Any]
    sent: list[Entry]
    held: list[Entry]  # incomplete runs a LangSmith destination should not get yet
    gone: list[Entry]  # no longer stored
    # Not sent from here: queued while open and ended since (sent from the row of their
    # end), or in the batch already (changed again: sent once, in the newest state).
    skipped: list[Entry]

    @property
    def settled(self) -> list[Entry]:
        """What leaves the outbox once the payloads are delivered."""
        return self.sent + self.gone + self.skipped


def render_stored(
    conn: sqlite3.Connection,
    spec: DestinationSpec,
    entries: list[Entry],
    hold_after_ns: int,
    per_request: int = 1000,
) -> Rendered:
    """Read the runs of `entries` as stored now and render them for `spec`, at most
    `per_request` runs a payload."""
    runs = stored_runs(conn, [e.run_id for e in entries])
    sent, held, gone, skipped, batch = [], [], [], [], []
    seen: set[str] = set()
    for entry in entries:
        run = runs.get(entry.run_id)
        if run is None:
            gone.append(entry)
        elif entry.run_id in seen or (entry.open and run.end_time_ns is not None):
            skipped.append(entry)
        elif (
            spec.kind == LANGSMITH
            and entry.queued_ns > hold_after_ns
            and (run.extra.get("otel") or {}).get("incomplete")
        ):
            held.append(entry)  # its parent may still come and complete its dotted order
            seen.add(entry.run_id)
        else:
            sent.append(entry)
            batch.append(run)
            seen.add(entry.run_id)
    payloads = [render(spec, batch[i : i + per_request]) for i in range(0, len(batch), per_request)]
    return Rendered(payloads, sent, held, gone, skipped)


def render_range(
    conn: sqlite3.Connection,
    spec: DestinationSpec,
    after: Position,
    last: Position,
    hold_after_ns: int,
    per_request: int,
) -> Rendered:
    """Render the batch of `spec`'s outbox rows after `after` up to `last`."""
    entries = entries_between(conn, spec.name, after, last)
    return render_stored(conn, spec, entries, hold_after_ns, per_request)


_connections = threading.local()  # a render worker's read connection, per store file


def render_range_in_worker(db_path: str, *args: Any) -> Rendered:
    """`render_range` in a render worker process, on its own read connection."""
    by_path: dict[str, sqlite3.Connection] = _connections.__dict__.setdefault("by_path", {})
    conn = by_path.get(db_path)
    if conn is None:
        conn = by_path[db_path] = sqlite3.connect(db_path, isolation_level=None, timeout=30.0)
        conn.execute("PRAGMA query_only = 1")
    return render_range(conn, *args)


def render_worker_init() -> None:
    """As the decode workers (collector tuned, signals left to the server, exit with
    it), on CPU time nothing else wants."""
    worker_init()
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux
        os.nice(RENDER_NICENESS)
