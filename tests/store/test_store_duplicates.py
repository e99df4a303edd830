"""Double instrumentation in the store: one provider call recorded as two nested LLM runs
(real OpenInference and openai-v2 spans) counts once in the trace's, the agent's and the
project's totals, in every arrival order, batching, restart, retry and late patch; both
runs stay readable and the inner one says which run counts its usage."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from otel_llm.convert import spans_to_runs
from otel_llm.duplicates import DUPLICATE_OF_KEY
from otel_llm.ids import run_id_from_span_id
from otel_llm.model import Run
from otel_llm.otlp import span_from_readable
from otel_llm.store.base import StoreChanges
from otel_llm.store.sqlite import SQLiteStore
from tests.store.double_instrumentation import CALL_TOKENS, ORDERS, double_call

INNER, OUTER, AGENT = range(3)
# How the three spans arrive: each tuple is one request (converted on its own).
ARRIVALS = [
    *([(i,) for i in p] for p in itertools.permutations(range(3))),
    [(INNER, OUTER, AGENT)],
    [(INNER,), (OUTER, AGENT)],
    [(OUTER, AGENT), (INNER,)],
    [(INNER, AGENT), (OUTER,)],
]


def run_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return str(run_id_from_span_id(span.context.span_id.to_bytes(8, "big")))


def runs_of(spans: Sequence[ReadableSpan]) -> list[Run]:
    return spans_to_runs([span_from_readable(s) for s in spans])


def check_counted_once(store: SQLiteStore, spans: Sequence[ReadableSpan]) -> None:
    inner, outer, agent = (store.get_run(run_id(s)) for s in spans)
    assert inner is not None and outer is not None and agent is not None
    # Both LLM runs are kept and show the call's usage; the inner one is marked.
    for run in (inner, outer):
        assert run["run_type"] == "llm"
        assert (run["prompt_tokens"], run["completion_tokens"], run["total_tokens"]) == (
            CALL_TOKENS["prompt"],
            CALL_TOKENS["completion"],
            CALL_TOKENS["total"],
        )
    assert inner["extra"]["metadata"][DUPLICATE_OF_KEY] == outer["id"]
    assert DUPLICATE_OF_KEY not in (outer["extra"].get("metadata") or {})
    # The agent's rollup, the trace's totals and the project's count the call once.
    assert agent["total_tokens"] == CALL_TOKENS["total"]
    assert agent["total_cost"] == outer["total_cost"]
    trace = store.get_trace(agent["trace_id"])
    assert trace is not None and trace["run_count"] == 3 and not trace["incomplete"]
    assert (trace["prompt_tokens"], trace["completion_tokens"], trace["total_tokens"]) == (
        CALL_TOKENS["prompt"],
        CALL_TOKENS["completion"],
        CALL_TOKENS["total"],
    )
    assert trace["total_cost"] == outer["total_cost"]
    (project,) = store.list_projects()
    assert project["total_tokens"] == CALL_TOKENS["total"]


@pytest.mark.parametrize("order", list(ORDERS))
@pytest.mark.parametrize("arrival", ARRIVALS, ids=str)
def test_counted_once_in_any_arrival(
    tmp_path: Path, order: str, arrival: list[tuple[int, ...]]
) -> None:
    spans = double_call(order)
    with SQLiteStore(tmp_path / "runs.db") as store:
        for request in arrival:
            store.ingest(runs_of([spans[i] for i in request]), "p")
        check_counted_once(store, spans)
        for request in arrival:  # a retried export changes nothing
            store.ingest(runs_of([spans[i] for i in request]), "p")
        check_counted_once(store, spans)


def test_counted_once_across_restarts(tmp_path: Path) -> None:
    spans = double_call("openinference inside")
    for i in (OUTER, AGENT, INNER):
        with SQLiteStore(tmp_path / "runs.db") as store:
            store.ingest(runs_of([spans[i]]), "p")
    with SQLiteStore(tmp_path / "runs.db") as store:
        check_counted_once(store, spans)


def _without_usage(run: Run) -> dict[str, Any]:
    d = run.to_dict()
    metadata = dict(d["extra"].get("metadata") or {})
    metadata.pop("usage_metadata", None)
    d["extra"] = {**d["extra"], "metadata": metadata}
    if d.get("outputs"):
        d["outputs"] = {k: v for k, v in d["outputs"].items() if k != "usage_metadata"}
    return d


def _usage_patch(run: Run) -> dict[str, Any]:
    d = run.to_dict()
    return {"id": d["id"], "extra": d["extra"], "outputs": d["outputs"]}


@pytest.mark.parametrize("patch_first", [False, True])
def test_usage_patched_in_later_is_counted_once(tmp_path: Path, patch_first: bool) -> None:
    """LangSmith-style: the runs are posted without usage and patched with it later, the
    inner run's patch first (and, once, before its run is even posted)."""
    spans = double_call("openai-v2 inside")
    runs = runs_of(spans)
    with SQLiteStore(tmp_path / "runs.db") as store:
        if patch_first:
            store.commit(StoreChanges(patches=[_usage_patch(runs[INNER])]))
        posted = [Run.from_dict(_without_usage(r)) for r in runs]
        store.commit(StoreChanges(rows=store.row_builder(posted, "p")))
        trace = store.get_trace(str(runs[AGENT].id))
        assert trace is not None
        assert trace["total_tokens"] == (CALL_TOKENS["total"] if patch_first else 0)
        store.commit(StoreChanges(patches=[_usage_patch(runs[INNER])]))
        assert store.get_trace(str(runs[AGENT].id))["total_tokens"] == CALL_TOKENS["total"]  # type: ignore[index]
        store.commit(StoreChanges(patches=[_usage_patch(runs[OUTER])]))
        check_counted_once(store, spans)


def test_a_different_usage_is_a_different_call(tmp_path: Path) -> None:
    """A nested run whose usage differs is not the same call: both count; and a mark
    made earlier is cleared (totals move back) when a patch makes them differ."""
    spans = double_call("openinference inside")
    runs = runs_of(spans)
    with SQLiteStore(tmp_path / "runs.db") as store:
        store.ingest(runs, "p")
        check_counted_once(store, spans)
        inner = copy.deepcopy(runs[INNER].to_dict())
        usage = {"input_tokens": 100, "output_tokens": 1, "total_tokens": 101}
        inner["extra"]["metadata"]["usage_metadata"] = usage
        if inner.get("outputs"):
            inner["outputs"].pop("usage_metadata", None)
        store.commit(StoreChanges(patches=[{"id": inner["id"], "extra": inner["extra"]}]))
        run = store.get_run(inner["id"])
        assert run is not None and run["total_tokens"] == 101
        assert DUPLICATE_OF_KEY not in run["extra"]["metadata"]
        trace = store.get_trace(str(runs[AGENT].id))
        assert trace is not None and trace["total_tokens"] == CALL_TOKENS["total"] + 101
        agent = store.get_run(str(runs[AGENT].id))
        assert agent is not None and agent["total_tokens"] == CALL_TOKENS["total"] + 101
        # The same usage again: the same call again, counted once.
        store.ingest([runs[INNER]], "p")
        check_counted_once(store, spans)


def test_an_older_store_gets_the_duplicate_column(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.executescript(
        "DROP INDEX log_events_project; ALTER TABLE runs DROP COLUMN duplicate_of; "
        "ALTER TABLE log_events DROP COLUMN project; PRAGMA user_version = 3;"
    )
    conn.close()
    spans = double_call("openinference inside")
    with SQLiteStore(path) as store:
        store.ingest(runs_of(spans), "p")
        check_counted_once(store, spans)


def test_otel_llm_trace_says_which_run_counts(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from otel_llm.cli import main

    spans = double_call("openinference inside")
    db = tmp_path / "runs.db"
    with SQLiteStore(db) as store:
        store.ingest(runs_of(spans), "p")
    agent = spans[AGENT]
    assert agent.context is not None
    result = CliRunner().invoke(
        main, ["trace", "--db", str(db), f"{agent.context.trace_id:032x}"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "tokens" in line]
    assert len(lines) == 3 and all(f"{CALL_TOKENS['total']} tokens" in line for line in lines)
    (marked,) = [line for line in lines if "counted there" in line]
    assert spans[INNER].name in marked
