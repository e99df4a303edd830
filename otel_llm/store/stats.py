"""Run statistics over a query (LangSmith's `POST /runs/stats`, `Client.get_run_stats`).

The runs are the ones `SQLiteStore.query_runs` would page through for the same query
(same conditions, same filter compiler), without the page: counts, the error and
streaming rates, latency and time-to-first-token percentiles (p50, p99; nearest rank),
tokens and cost.

Tokens and cost count each token once. A generation (llm, embedding) carries its own
usage and every other run the sum of the generations below it, so adding up every
matching run would count a generation again in each matching ancestor. The sums take a
matching run's usage only when none of its ancestors matched too: with `is_root=true`
they are the traces' totals, with `run_type="llm"` the generations' own, and with both
a root and its generations matching, the root's (which holds theirs).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from otel_llm.model import iso_to_ns, ns_to_iso
from otel_llm.store.base import RunQuery

if TYPE_CHECKING:
    from otel_llm.store.sqlite.reads import SQLiteReads

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
PERCENTILES = (50, 99)
_USAGE = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_cost",
    "completion_cost",
    "total_cost",
)


def _nearest_rank(ordered: Sequence[int], p: int) -> float | None:
    """The p-th percentile (nearest rank) of sorted nanoseconds, in seconds."""
    if not ordered:
        return None
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)] / 1e9


def run_stats(store: SQLiteReads, q: RunQuery, end_time: str | None = None) -> dict[str, Any]:
    """Aggregates over the runs `q` selects (its limit, cursor, select and order are
    ignored).

    Args:
        store: the store, read on its reader connection.
        q: which runs.
        end_time: only runs that started at or before this ISO 8601 time.

    Returns:
        LangSmith's run-stats shape: `run_count`, `error_rate`, `streaming_rate`,
        `latency_p50` / `latency_p99` and `first_token_p50` / `first_token_p99` in
        seconds, `prompt_tokens` / `completion_tokens` / `total_tokens`, `median_tokens`
        (p50 of total_tokens over runs with usage), the three costs, and
        `last_run_start_time`; `feedback_stats` None and `run_facets` empty (the store
        keeps no feedback).

    Raises:
        ValueError: for a bad time; `FilterSyntaxError` (a ValueError) for a bad filter.
    """
    conn = store._reader()
    conds, params = store._conditions(conn, q)
    empty = conds is None
    conds = list(conds or [])
    if q.session is not None:
        if not q.session:
            empty = True
        conds.append(f"r.project_id IN ({', '.join('?' * len(q.session))})")
        params = [*params, *q.session]
    if end_time is not None:
        try:
            end_ns = iso_to_ns(end_time)
        except ValueError:
            raise ValueError(f"end_time is not an ISO 8601 time: {end_time!r}") from None
        conds.append("r.start_time <= ?")
        params.append(min(max(end_ns, _INT64_MIN), _INT64_MAX))
    where = " AND ".join(conds) or "1"
    if empty:
        where, params = "0", []

    # One pass for the counts and both percentiles (reading the matching rows is the
    # cost: a pass per figure took ~5x as long over a large project), one for usage.
    count = errors = 0
    last_start: int | None = None
    latencies: list[int] = []
    first_tokens: list[int] = []
    for latency, first_token, failed, start in conn.execute(
        "SELECT r.end_time - r.start_time, r.first_token_time - r.start_time, "
        f"r.error IS NOT NULL, r.start_time FROM runs r WHERE {where}",
        params,
    ):
        count += 1
        errors += failed
        if latency is not None:
            latencies.append(latency)
        if first_token is not None:
            first_tokens.append(first_token)
        if last_start is None or start > last_start:
            last_start = start
    latencies.sort()
    first_tokens.sort()
    stats: dict[str, Any] = {"run_count": count}
    for p in PERCENTILES:
        stats[f"latency_p{p}"] = _nearest_rank(latencies, p)
    for p in PERCENTILES:
        stats[f"first_token_p{p}"] = _nearest_rank(first_tokens, p)
    streamed = len(first_tokens)
    stats.update(_usage(conn, where, params))
    stats["error_rate"] = errors / count if count else None
    stats["streaming_rate"] = streamed / count if count else None
    stats["last_run_start_time"] = store_iso(last_start)
    stats["feedback_stats"] = None
    stats["run_facets"] = []
    return stats


def store_iso(ns: int | None) -> str | None:
    return None if ns is None else ns_to_iso(ns)


def _usage(conn: sqlite3.Connection, where: str, params: Sequence[Any]) -> dict[str, Any]:
    """Token and cost sums, each run's usage taken once (see the module's docstring), and
    the median of total_tokens over the runs counted."""
    rows = conn.execute(
        f"SELECT r.trace_key, r.trace_id, r.dotted_order, {', '.join('r.' + c for c in _USAGE)} "
        f"FROM runs r WHERE {where} AND (r.total_tokens IS NOT NULL OR r.total_cost IS NOT NULL "
        "OR r.prompt_tokens IS NOT NULL OR r.completion_tokens IS NOT NULL) "
        "ORDER BY r.trace_key, r.trace_id, r.dotted_order",
        params,
    )
    sums = [0, 0, 0, 0.0, 0.0, 0.0]
    seen = [False] * len(_USAGE)
    totals: list[int] = []
    kept_trace: tuple[int, str] | None = None
    kept_prefix = ""
    for key, trace, dotted, *usage in rows:
        # Sorted by dotted order within a trace: a matching ancestor comes right before
        # its descendants, whose dotted orders start with its own and a dot.
        if kept_trace == (key, trace) and dotted.startswith(kept_prefix):
            continue
        kept_trace, kept_prefix = (key, trace), dotted + "."
        for i, value in enumerate(usage):
            if value is not None:
                sums[i] += value
                seen[i] = True
        if usage[2] is not None:
            totals.append(usage[2])
    out: dict[str, Any] = {name: (sums[i] if seen[i] else 0) for i, name in enumerate(_USAGE)}
    totals.sort()
    out["median_tokens"] = totals[max(math.ceil(len(totals) / 2) - 1, 0)] if totals else None
    return out
