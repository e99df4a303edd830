"""Double instrumentation in the store: `otel_llm.duplicates.is_duplicate_call` applied
durably, whatever the order in which the two runs, their patches and log records arrive.

A run that records the same provider call as its parent is marked: `runs.duplicate_of`
holds the parent's id. The invariant: a trace's totals and a non-generation run's
rollup hold the usage of every generation below it that is not marked. Ingest keeps it
as if no mark changed (a new run is unmarked; a marked run's usage moves nothing, and
`SUBTREE_USAGE` skips marked runs); `mark_duplicates` then decides again every
parent-child pair of generations the batch touched, and for each mark it sets or clears
moves the totals and rollups by that run's usage.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from otel_llm.duplicates import Call, is_duplicate_call, models_of
from otel_llm.store.sqlite.schema import (
    ADD_ROLLUP,
    GEN_SQL,
    GENERATION_TYPES,
    OTEL,
    PARENT,
    TYPE,
    ZERO,
    Usage,
    chunks,
    loads,
    placeholders,
)

_FACTS = (
    "SELECT id, parent_run_id, run_type, start_time, end_time, extra, metadata, duplicate_of, "
    "trace_key, dotted_order, prompt_tokens, completion_tokens, total_tokens, prompt_cost, "
    "completion_cost, total_cost FROM runs WHERE id IN ({})"
)
# Generation children of a stored run: its subtree on the (trace_key, dotted_order) index.
_CHILDREN = (
    "SELECT id FROM runs WHERE trace_key = ? AND dotted_order > ? AND dotted_order < ? "
    f"AND parent_run_id = ? AND (run_type IN {GEN_SQL} OR duplicate_of IS NOT NULL)"
)
_MOVE_TRACE = (
    "UPDATE traces SET prompt_tokens = prompt_tokens + ?, "
    "completion_tokens = completion_tokens + ?, total_tokens = total_tokens + ?, "
    "prompt_cost = prompt_cost + ?, completion_cost = completion_cost + ?, "
    "total_cost = total_cost + ? WHERE key = ?"
)


@dataclass(frozen=True, slots=True)
class _Stored:
    call: Call
    duplicate_of: str | None
    trace_key: int
    dotted_order: str
    usage: Usage  # own usage (zero for a run that is not a generation)


def mark_duplicates(
    conn: sqlite3.Connection,
    rows: dict[str, list[Any]],
    marked: set[str],
    were_calls: set[str],
    known_traces: set[str],
) -> None:
    """Decide again every generation pair the batch touched (run in the ingest
    transaction, after its upserts and aggregates).

    Args:
        conn: the writer, in the transaction.
        rows: the batch's rows by id, placed.
        marked: ids of the batch that were stored marked before it.
        were_calls: ids of the batch that were stored as generations before it.
        known_traces: OTel trace ids stored before the batch (only their runs can have
            stored children).
    """
    children: set[str] = set()
    parents: set[str] = set()  # batch runs whose stored children are decided again
    for rid, row in rows.items():
        parent = row[PARENT]
        is_call = row[TYPE] in GENERATION_TYPES
        if parent is not None and (is_call or rid in marked):
            source = rows.get(parent)
            if source is None:
                if row[OTEL] in known_traces:
                    children.add(rid)  # its parent may be stored
            elif source[TYPE] in GENERATION_TYPES or rid in marked or parent in were_calls:
                children.add(rid)
        if (is_call or rid in were_calls) and row[OTEL] in known_traces:
            parents.add(rid)
    if not children and not parents:
        return
    stored = _facts(conn, children | parents)
    for rid in parents:
        run = stored.get(rid)
        if run is not None:
            dotted = run.dotted_order
            children.update(
                r[0]
                for r in conn.execute(_CHILDREN, (run.trace_key, dotted + ".", dotted + "/", rid))
            )
    stored.update(_facts(conn, children - stored.keys()))
    parent_ids = {
        s.call.parent_run_id
        for c in children
        if (s := stored.get(c)) is not None and s.call.parent_run_id is not None
    }
    stored.update(_facts(conn, parent_ids - stored.keys()))
    for rid in children:
        child = stored.get(rid)
        if child is None or child.call.parent_run_id is None:
            continue
        parent_id = child.call.parent_run_id
        parent_run = stored.get(parent_id)
        duplicate = parent_run is not None and is_duplicate_call(parent_run.call, child.call)
        if duplicate != (child.duplicate_of is not None):
            _remark(conn, rid, child, parent_id if duplicate else None)


def _remark(conn: sqlite3.Connection, rid: str, child: _Stored, duplicate_of: str | None) -> None:
    """Set or clear a run's mark and move what counts its usage: its trace's totals and
    its ancestors' rollups."""
    sign = -1 if duplicate_of is not None else 1
    delta = [sign * u for u in child.usage]
    if any(delta):
        conn.execute(_MOVE_TRACE, (*delta, child.trace_key))
        conn.executemany(
            ADD_ROLLUP,
            [(*delta, segment[-36:]) for segment in child.dotted_order.split(".")[:-1]],
        )
    conn.execute("UPDATE runs SET duplicate_of = ? WHERE id = ?", (duplicate_of, rid))


def _facts(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, _Stored]:
    out: dict[str, _Stored] = {}
    for chunk in chunks(list(ids)):
        for (
            rid,
            parent,
            run_type,
            start,
            end,
            extra,
            metadata,
            duplicate_of,
            trace_key,
            dotted,
            *usage,
        ) in conn.execute(_FACTS.format(placeholders(chunk)), chunk):
            call = Call(
                run_id=rid,
                parent_run_id=parent,
                run_type=run_type,
                models=models_of(
                    loads(extra) if extra else None, loads(metadata) if metadata else None
                ),
                start_ns=start,
                end_ns=end,
                prompt_tokens=usage[0],
                completion_tokens=usage[1],
            )
            own: Usage = (
                tuple(u or 0 for u in usage)  # type: ignore[assignment]
                if run_type in GENERATION_TYPES
                else ZERO
            )
            out[rid] = _Stored(call, duplicate_of, trace_key, dotted, own)
    return out
