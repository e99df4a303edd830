"""Patches of runs (LangSmith's `PATCH /runs/{id}` and `patch.{id}` parts), in any order.

A patch gives some fields of a run (end_time, outputs, error, ...). When its run is
stored, the patch is merged into it (the fields it gives win) and the merged run goes
through the ordinary ingest, so rollups and trace totals move by the difference. When
the run is not stored yet (the patch overtook its post), the patch waits in
`pending_patches` and is applied in the transaction that stores the post.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson

from otel_llm.model import Run
from otel_llm.store.base import UnstorableRun
from otel_llm.store.sqlite.rows import Row, SQLiteRowBuilder
from otel_llm.store.sqlite.schema import chunks, placeholders

# A patch never moves a run: its tree and project come from its post.
_FIXED = frozenset(
    (
        "id",
        "trace_id",
        "dotted_order",
        "parent_run_id",
        "session_id",
        "session_name",
        "project_name",
        "project_id",
    )
)

ReadRun = Callable[[sqlite3.Connection, str], "dict[str, Any] | None"]


def merged(stored: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The stored run (SDK shape) with the fields the patch gives."""
    out = dict(stored)
    for key, value in patch.items():
        if value is not None and key not in _FIXED:
            out[key] = value
    return out


def combine(first: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Two patches of one run as one: the later's fields win."""
    return {**first, **{k: v for k, v in later.items() if v is not None}}


def patched_rows(
    conn: sqlite3.Connection,
    patches: Sequence[dict[str, Any]],
    read_run: ReadRun,
    row_builder: SQLiteRowBuilder,
) -> list[Row]:
    """Rows of the stored runs with their patches merged; patches whose run is not
    stored wait in `pending_patches`.

    Raises:
        UnstorableRun: when a merged run is not a valid run (e.g. a bad end_time).
    """
    by_id: dict[str, dict[str, Any]] = {}
    for patch in patches:
        run_id = str(patch["id"])
        by_id[run_id] = combine(by_id[run_id], patch) if run_id in by_id else patch
    rows: list[Row] = []
    waiting: list[tuple[str, dict[str, Any]]] = []
    for run_id, patch in by_id.items():
        stored = read_run(conn, run_id)
        if stored is None:
            waiting.append((run_id, patch))
            continue
        try:
            run = Run.from_dict(merged(stored, patch))
        except ValueError as exc:
            raise UnstorableRun(run_id, f"patch: {exc}") from None
        rows += row_builder([run], None)
    _wait(conn, waiting)
    return rows


def take_pending(conn: sqlite3.Connection, run_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The waiting patches of these runs, removed from `pending_patches`."""
    found: list[dict[str, Any]] = []
    for chunk in chunks(list(run_ids)):
        marks = placeholders(chunk)
        found += [
            orjson.loads(p)
            for (p,) in conn.execute(
                f"SELECT patch FROM pending_patches WHERE run_id IN ({marks})", chunk
            )
        ]
        if found:
            conn.execute(f"DELETE FROM pending_patches WHERE run_id IN ({marks})", chunk)
    return found


def pending_count(conn: sqlite3.Connection) -> int:
    count: int = conn.execute("SELECT count(*) FROM pending_patches").fetchone()[0]
    return count


def _wait(conn: sqlite3.Connection, waiting: list[tuple[str, dict[str, Any]]]) -> None:
    now = time.time_ns()
    for run_id, patch in waiting:
        row = conn.execute(
            "SELECT patch FROM pending_patches WHERE run_id = ?", (run_id,)
        ).fetchone()
        if row is not None:
            patch = combine(orjson.loads(row[0]), patch)
        conn.execute(
            "INSERT INTO pending_patches (run_id, patch, received_time) VALUES (?, ?, ?) "
            "ON CONFLICT (run_id) DO UPDATE SET patch = excluded.patch",
            (run_id, orjson.dumps(patch, default=str), now),
        )
