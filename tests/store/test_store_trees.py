"""Trees completed on ingest, whatever the arrival order, and aggregates that never
double count."""

from __future__ import annotations

import itertools
import random
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_llm.convert import spans_to_runs
from otel_llm.model import SpanRecord
from otel_llm.store import RunQuery, SQLiteStore
from tests.store.helpers import make_span, new_span_id, new_trace_id, random_trace

_USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
_COST_FIELDS = ("prompt_cost", "completion_cost", "total_cost")


def _snapshot(store: SQLiteStore, otel_trace: bytes) -> dict[str, Any]:
    """Everything tree completion and aggregation decide, comparable across stores."""
    runs = store.trace_runs(otel_trace.hex())
    trace = store.get_trace(otel_trace.hex())
    assert trace is not None
    return {
        "runs": {
            r["id"]: (
                r["trace_id"],
                r["dotted_order"],
                r["parent_run_id"],
                bool(r["extra"].get("otel", {}).get("incomplete")),
                tuple(r[f] for f in _USAGE_FIELDS),
                tuple(round(r[f] or 0, 9) for f in _COST_FIELDS),
                r["child_run_ids"],
            )
            for r in runs
        },
        "trace": {
            k: round(v, 9) if isinstance(v, float) else v
            for k, v in trace.items()
            if k != "session_id"  # a random project id in each store
        },
    }


def _ingest_batches(store: SQLiteStore, batches: list[list[SpanRecord]]) -> None:
    for batch in batches:
        store.ingest(spans_to_runs(batch), "p")


def _split(spans: list[SpanRecord], order: list[int], cuts: list[int]) -> list[list[SpanRecord]]:
    ordered = [spans[i] for i in order]
    bounds = sorted({c % (len(spans) + 1) for c in cuts} | {0, len(spans)})
    return [ordered[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@st.composite
def _arrivals(draw: st.DrawFn) -> tuple[int, list[int], list[int], list[tuple[int, int]]]:
    size = draw(st.integers(min_value=1, max_value=14))
    seed = draw(st.integers(min_value=0, max_value=2**32))
    order = draw(st.permutations(list(range(size))))
    cuts = draw(st.lists(st.integers(min_value=0, max_value=size), max_size=size))
    # (after how many batches, which earlier batch) a client resends
    retries = draw(st.lists(st.tuples(st.integers(0, size), st.integers(0, size)), max_size=3))
    return seed, list(order), cuts, retries


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_arrivals())
def test_any_arrival_order_gives_the_one_batch_result(
    tmp_path_factory: pytest.TempPathFactory,
    arrival: tuple[int, list[int], list[int], list[tuple[int, int]]],
) -> None:
    seed, order, cuts, retries = arrival
    spans = random_trace(random.Random(seed), len(order))
    tmp = tmp_path_factory.mktemp("trees")
    with SQLiteStore(tmp / "one.db") as one, SQLiteStore(tmp / "many.db") as many:
        _ingest_batches(one, [spans])
        expected = _snapshot(one, spans[0].trace_id)
        batches = _split(spans, order, cuts)
        sent: list[list[SpanRecord]] = []
        for batch in batches:
            sent.append(batch)
            _ingest_batches(many, [batch])
            # A client resends a batch whose answer it lost: nothing changes.
            for after, which in retries:
                if after % len(batches) == len(sent) - 1:
                    _ingest_batches(many, [sent[which % len(sent)]])
        assert _snapshot(many, spans[0].trace_id) == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_arrivals())
def test_complete_runs_in_any_order_roll_up_the_same(
    tmp_path_factory: pytest.TempPathFactory,
    arrival: tuple[int, list[int], list[int], list[tuple[int, int]]],
) -> None:
    """Runs that arrive with full ids and dotted order (as the LangSmith SDK sends
    them), children before parents: the rollups still match one complete batch."""
    seed, order, cuts, _ = arrival
    spans = random_trace(random.Random(seed), len(order))
    runs = spans_to_runs(spans)
    tmp = tmp_path_factory.mktemp("sdk")
    with SQLiteStore(tmp / "one.db") as one, SQLiteStore(tmp / "many.db") as many:
        one.ingest(runs, "p")
        expected = _snapshot(one, spans[0].trace_id)
        ordered = [runs[i] for i in order]
        bounds = sorted({c % (len(runs) + 1) for c in cuts} | {0, len(runs)})
        for a, b in itertools.pairwise(bounds):
            if b > a:
                many.ingest(ordered[a:b], "p")
        assert _snapshot(many, spans[0].trace_id) == expected


def test_one_batch_trace_is_complete_and_rolled_up(tmp_path: Path) -> None:
    spans = random_trace(random.Random(7), 12)
    with SQLiteStore(tmp_path / "s.db") as store:
        store.ingest(spans_to_runs(spans), "p")
        root_id = spans_to_runs(spans[:1])[0].id
        runs = store.trace_runs(str(root_id))
        assert len(runs) == 12
        assert {r["trace_id"] for r in runs} == {str(root_id)}
        by_id = {r["id"]: r for r in runs}
        generations = [r for r in runs if r["run_type"] in ("llm", "embedding")]
        for run in runs:
            assert run["dotted_order"].split(".")[-1].endswith(run["id"])
            assert "incomplete" not in run["extra"].get("otel", {})
            if run["parent_run_id"] is not None:
                assert run["dotted_order"].startswith(by_id[run["parent_run_id"]]["dotted_order"])
            if run["run_type"] not in ("llm", "embedding"):
                below = [
                    g
                    for g in generations
                    if g["dotted_order"].startswith(run["dotted_order"] + ".")
                ]
                assert run["total_tokens"] == (sum(g["total_tokens"] for g in below) or None)
        trace = store.get_trace(str(root_id))
        assert trace is not None
        # The root's own (aggregated) usage, 2 x 99,999 tokens, is never counted.
        assert trace["total_tokens"] == sum(g["total_tokens"] for g in generations)
        assert trace["run_count"] == 12
        assert trace["root_run_id"] == str(root_id)
        assert by_id[str(root_id)]["total_tokens"] == (trace["total_tokens"] or None)


def test_children_first_across_requests(tmp_path: Path) -> None:
    tid = new_trace_id()
    root, agent, llm, tool = (new_span_id() for _ in range(4))
    usage = {"input_tokens": 1000, "output_tokens": 204, "total_tokens": 1204}
    spans = {
        "llm": make_span(
            tid,
            llm,
            agent,
            name="chat gpt-4o-mini",
            run_type="llm",
            start_ms=20,
            duration_ms=1900,
            usage=usage,
            model="gpt-4o-mini",
        ),
        "tool": make_span(
            tid,
            tool,
            agent,
            name="search_web",
            run_type="tool",
            start_ms=30,
            duration_ms=310,
            error="TimeoutError: slow",
        ),
        "agent": make_span(
            tid, agent, root, name="agent", start_ms=10, duration_ms=2400, agent=True
        ),
        "root": make_span(tid, root, name="workflow", start_ms=0, duration_ms=2500),
    }
    with SQLiteStore(tmp_path / "s.db") as store:
        store.ingest(spans_to_runs([spans["llm"]]), "p")
        store.ingest(spans_to_runs([spans["tool"]]), "p")
        # Before the parents arrive: stored, queryable, marked incomplete.
        waiting = store.trace_runs(tid.hex())
        assert {r["name"] for r in waiting} == {"chat gpt-4o-mini", "search_web"}
        assert all(r["extra"]["otel"]["incomplete"] for r in waiting)
        assert store.get_trace(tid.hex())["incomplete"] is True  # type: ignore[index]
        store.ingest(spans_to_runs([spans["agent"]]), "p")
        agent_run = next(r for r in store.trace_runs(tid.hex()) if r["name"] == "agent")
        assert agent_run["total_tokens"] == 1204
        assert sorted(agent_run["child_run_ids"]) == sorted(r["id"] for r in waiting)
        store.ingest(spans_to_runs([spans["root"]]), "p")
        runs = store.trace_runs(tid.hex())
        root_run = runs[0]
        assert root_run["name"] == "workflow"
        assert {r["trace_id"] for r in runs} == {root_run["id"]}
        assert all("incomplete" not in r["extra"].get("otel", {}) for r in runs)
        assert root_run["total_tokens"] == 1204
        assert root_run["total_cost"] == pytest.approx(1000 * 0.15e-6 + 204 * 0.6e-6)
        # The OTel trace id, as hex or as a UUID, names every run of the trace.
        otel_uuid = str(uuid.UUID(bytes=tid))
        page, _ = store.query_runs(RunQuery(trace=otel_uuid))
        assert len(page) == 4
        page, _ = store.query_runs(RunQuery(trace=root_run["id"], is_root=False))
        assert len(page) == 3
        trace = store.get_trace(root_run["id"])
        assert trace is not None
        assert trace["incomplete"] is False
        assert (trace["run_count"], trace["error_count"], trace["total_tokens"]) == (4, 1, 1204)
        assert trace["latency"] == pytest.approx(2.5)


def test_root_never_arrives_runs_stay_queryable(tmp_path: Path) -> None:
    tid = new_trace_id()
    missing, a, b = new_span_id(), new_span_id(), new_span_id()
    with SQLiteStore(tmp_path / "s.db") as store:
        store.ingest(spans_to_runs([make_span(tid, a, missing, name="a")]), "p")
        store.ingest(spans_to_runs([make_span(tid, b, a, name="b", start_ms=1)]), "p")
        runs = store.trace_runs(tid.hex())
        assert [r["name"] for r in runs] == ["a", "b"]
        # b found its parent a; both still wait for `missing`.
        assert runs[1]["dotted_order"].startswith(runs[0]["dotted_order"] + ".")
        assert all(r["extra"]["otel"]["incomplete"] for r in runs)
        assert runs[0]["parent_run_id"].endswith(missing.hex()[:4] + "-" + missing.hex()[4:])


def test_same_run_twice_in_one_batch_counts_once(tmp_path: Path) -> None:
    tid, sid = new_trace_id(), new_span_id()
    usage = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    span = make_span(tid, sid, run_type="llm", usage=usage, model="gpt-4o")
    with SQLiteStore(tmp_path / "s.db") as store:
        runs = spans_to_runs([span]) + spans_to_runs([span])
        assert store.ingest(runs, "p") == 1
        assert store.ingest(runs, "p") == 1
        trace = store.get_trace(tid.hex())
        assert trace is not None
        assert (trace["run_count"], trace["total_tokens"]) == (1, 15)
