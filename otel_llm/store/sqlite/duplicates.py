"""Double instrumentation in the store: `otel_llm.duplicates.is_duplicate_call` applied
durably, whatever the order in which the two runs, their patches and log records arrive.

A run that records the same provider call as its parent is marked: `runs.duplicate_of`
holds the parent's id. The invariant: a trace's totals and a non-generation run's
rollup hold the usage of every generation below it that is not marked. Ingest keeps it
as if no mark changed (a new run is unmarked; a marked run's usage moves nothing, and
`SUBTREE_USAGE` skips marked runs); `mark_duplicates` then decides again every
parent-child pair of generations the batch touched (nested generations only: most
batches have none), and each mark it sets or clears moves the totals and rollups by
that run's usage.
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
# The generation children of a stored run (or marked ones): its subtree on the
# (trace_key, dotted_order) index.
_CHILDREN = (
    "SELECT c.id FROM runs p JOIN runs c ON c.trace_key = p.trace_key "
    "AND c.dotted_order > p.dotted_order || '.' AND c.dotted_order < p.dotted_order || '/' "
    f"WHERE p.id = ? AND c.parent_run_id = p.id AND (c.run_type IN {GEN_SQL} "
    "OR c.duplicate_of IS NOT NULL)"
)
_GENERATIONS = f"SELECT id FROM runs WHERE run_type IN {GEN_SQL} AND id IN ({{}})"
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
    # child -> parent of the pairs to decide; cheap tests first, run contents last.
    pairs: dict[str, str] = {}
    unknown: dict[str, str] = {}  # child -> a parent the batch does not hold
    for rid, row in rows.items():
        parent = row[PARENT]
        is_call = row[TYPE] in GENERATION_TYPES
        if parent is not None and (is_call or rid in marked):
            source = rows.get(parent)
            if source is None:
                if row[OTEL] in known_traces:  # its parent may be stored
                    unknown[rid] = parent
            elif source[TYPE] in GENERATION_TYPES or rid in marked or parent in were_calls:
                pairs[rid] = parent
        if (is_call or rid in were_calls) and row[OTEL] in known_traces:
            pairs.update((child, rid) for (child,) in conn.execute(_CHILDREN, (rid,)))
    if unknown:
        calls = _generations(conn, set(unknown.values()))
        pairs.update((c, p) for c, p in unknown.items() if p in calls or c in marked)
    if not pairs:
        return
    stored = _facts(conn, pairs.keys() | pairs.values())
    for child_id, parent_id in pairs.items():
        child = stored.get(child_id)
        if child is None:
            continue
        parent = stored.get(parent_id)
        duplicate = parent is not None and is_duplicate_call(parent.call, child.call)
        if duplicate != (child.duplicate_of is not None):
            _remark(conn, child_id, child, parent_id if duplicate else None)


def _generations(conn: sqlite3.Connection, ids: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(list(ids)):
        found.update(r[0] for r in conn.execute(_GENERATIONS.format(placeholders(chunk)), chunk))
    return found


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
