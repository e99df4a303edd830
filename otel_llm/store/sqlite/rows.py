"""Runs -> rows of the runs table (JSON columns, usage, cost), with no database access:
the CPU-heavy half of ingest, which the server runs in its decode workers."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import orjson

from otel_llm.ids import dotted_segment, uuid_str
from otel_llm.model import Run, iso_to_ns, model_names, total_tokens
from otel_llm.pricing import PriceTable
from otel_llm.sessions import session_of
from otel_llm.store.base import (
    DEFAULT_PROJECT,
    UnstorableRun,
)
from otel_llm.store.sqlite.schema import FIRST_TOKEN_EVENTS, GENERATION_TYPES, USAGE

Row = list[Any]
"""One run as a row of the runs table; the project is still a name (or session UUID)."""


class SQLiteRowBuilder:
    """Runs -> rows of the runs table: JSON columns, usage and cost (no database access).

    Picklable (the price table travels with it), so `otel-llm serve` runs it in its decode
    workers and its writer thread only commits.

    Args:
        prices: the price table that costs generation runs.
    """

    def __init__(self, prices: PriceTable) -> None:
        self.prices = prices

    def __call__(self, runs: Iterable[Run], project: str | None = None) -> list[Row]:
        """The rows of `runs` (see `SQLiteStore.ingest` for `project`).

        Raises:
            UnstorableRun: for a run with a parent but neither trace_id nor dotted_order,
                or a time the store cannot hold (an integer column holds 64 bits:
                nanoseconds from 1677 to 2262).
        """
        return [self._row(run, project) for run in runs]

    def _row(self, run: Run, project: str | None) -> Row:
        """A run as a row of the runs table (project still a name or session id)."""
        extra = run.extra
        otel = extra.get("otel")
        run_id = uuid_str(run.id)  # trace and parent ids recur: uuid_str remembers them
        parent = uuid_str(run.parent_run_id) if run.parent_run_id is not None else None
        incomplete = parent is not None and run.otel_incomplete
        start, end = run.start_time_ns, run.end_time_ns
        if not _fits_int64(start) or (end is not None and not _fits_int64(end)):
            bad = "start_time" if not _fits_int64(start) else "end_time"
            raise UnstorableRun(
                run_id,
                f"{bad} {getattr(run, bad + '_ns')} ns is outside "
                "what the store holds (nanoseconds from 1677 to 2262)",
            )
        dotted = run.dotted_order
        if dotted is None:
            dotted = dotted_segment(run.start_time_ns, run.id)
            incomplete = parent is not None
        trace = run.trace_id
        if trace is None:
            if parent is not None:
                raise UnstorableRun(
                    run_id,
                    "it has a parent but no trace_id or dotted_order: it cannot be "
                    "placed in a trace",
                )
            trace = run.id
        otel_trace = otel.get("trace_id") if otel else None
        if not isinstance(otel_trace, str):
            otel_trace = trace.hex
        metadata = extra.get("metadata")
        if metadata is not None:
            extra = {k: v for k, v in extra.items() if k != "metadata"}
        row: Row = [
            run_id,
            project or run.session_name or run.session_id or DEFAULT_PROJECT,
            uuid_str(trace),
            otel_trace.lower(),
            parent,
            dotted,
            int(incomplete),
            run.name,
            run.run_type,
            start,
            end,
            run.error,
            _dumps(run.inputs),
            _dumps(run.outputs),
            _dumps(extra),
            _dumps(metadata),
            _dumps(run.tags),
            _dumps(run.events),
            _dumps(run.serialized),
            str(run.reference_example_id) if run.reference_example_id else None,
            _dumps(run.attachments),
            None,
            None,
            None,
            None,
            None,
            None,
            _first_token_ns(run),
            session_of(metadata),
            None,  # trace_key, given by the ingest transaction
        ]
        if run.run_type in GENERATION_TYPES:
            usage = run.usage
            if usage:
                row[USAGE] = self._usage_columns(usage, metadata, run.extra)
        return row

    def _usage_columns(
        self, usage: dict[str, Any], metadata: Any, extra: dict[str, Any]
    ) -> list[Any]:
        prompt = _int(usage.get("input_tokens"))
        completion = _int(usage.get("output_tokens"))
        total = total_tokens(prompt, completion, _int(usage.get("total_tokens")))
        cost = None
        for model in model_names(extra):
            cost = self.prices.cost(model, usage)
            if cost is not None:
                break
        else:
            cost = self.prices.cost(None, usage)
        if cost is None:
            return [prompt, completion, total, None, None, None]
        return [prompt, completion, total, cost.prompt, cost.completion, cost.total]


_DUMPS_OPTS = orjson.OPT_NON_STR_KEYS


def _dumps(value: Any) -> str | None:
    """JSON text, or None for an empty/absent value (stored as NULL)."""
    if not value:
        return None
    try:
        return orjson.dumps(value, default=str, option=_DUMPS_OPTS).decode()
    except TypeError:  # an integer beyond 64 bits (a run posted as JSON may hold one)
        return orjson.dumps(_wide_ints_as_text(value), default=str, option=_DUMPS_OPTS).decode()


def _wide_ints_as_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and not _fits_int64(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _wide_ints_as_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wide_ints_as_text(v) for v in value]
    return value


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _fits_int64(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


# Token counts beyond this are not real usage; they stay in the run's JSON but out of
# the count columns, whose sums over a trace must never overflow 64 bits.
_MAX_COUNT = 2**40


def _int(value: Any) -> int | None:
    """A count for an INTEGER column; None for what is not a plausible finite count."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    number = int(value)
    return number if -_MAX_COUNT <= number <= _MAX_COUNT else None


def int_details(value: Any) -> dict[str, int] | None:
    if not isinstance(value, dict):
        return None
    if all(type(v) is int for v in value.values()):
        return value
    return {
        k: int(v)
        for k, v in value.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def _first_token_ns(run: Run) -> int | None:
    """When the first token arrived: the first `new_token` event of a streaming run."""
    for event in run.events:
        if isinstance(event, dict) and event.get("name") in FIRST_TOKEN_EVENTS:
            ns = event.get("time_unix_nano")
            if not isinstance(ns, int):
                try:
                    ns = iso_to_ns(event["time"])
                except (KeyError, TypeError, ValueError):
                    continue
            return ns if _fits_int64(ns) else None
    return None
