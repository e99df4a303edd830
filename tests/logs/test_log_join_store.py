"""The store's join of log records to runs: order, batching, retries, own run ids."""

from __future__ import annotations

import itertools
import os
import uuid
from pathlib import Path

import pytest

from otel_llm.convert import spans_to_runs
from otel_llm.model import SpanRecord
from otel_llm.otlp.logs import LogRecord
from otel_llm.store.base import StoreChanges
from otel_llm.store.sqlite import SQLiteStore

T0 = 1_700_000_000_000_000_000


def _telemetry(own_run_id: str | None = None) -> tuple[SpanRecord, list[LogRecord]]:
    tid, sid = os.urandom(16), os.urandom(8)
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.system": "openai"}
    if own_run_id is not None:
        attrs["langsmith.span.id"] = own_run_id
        attrs["langsmith.trace.id"] = own_run_id
    span = SpanRecord(
        tid,
        sid,
        "chat",
        kind=3,
        start_time_unix_nano=T0,
        end_time_unix_nano=T0 + 10**9,
        attributes=attrs,
    )
    base = {"gen_ai.system": "openai"}
    records = [
        LogRecord(T0 + 1, tid, sid, "gen_ai.system.message", base, {"content": "be brief"}),
        LogRecord(T0 + 2, tid, sid, "gen_ai.user.message", base, {"content": "hi"}),
        LogRecord(
            T0 + 3,
            tid,
            sid,
            "gen_ai.choice",
            {
                **base,
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 5,
                "gen_ai.usage.output_tokens": 7,
            },
            {"index": 0, "finish_reason": "stop", "message": {"content": "hello"}},
        ),
    ]
    return span, records


def _joined(store: SQLiteStore, run_id: str) -> dict[str, object]:
    run = store.get_run(run_id)
    assert run is not None
    assert run["inputs"] == {
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    }
    assert run["outputs"]["messages"][0]["content"] == "hello"
    return run


@pytest.mark.parametrize("position", range(4))
def test_every_order_and_batching_gives_the_same_run(tmp_path: Path, position: int) -> None:
    span, records = _telemetry()
    results = []
    for n, permutation in enumerate(itertools.permutations(range(4))):
        if n % 4 != position:
            continue  # a quarter of the 24 orders per test case
        store = SQLiteStore(tmp_path / f"{n}.db")
        rows = store.row_builder(spans_to_runs([span]), "p")
        for item in permutation:
            if item == 3:
                store.commit(StoreChanges(rows=rows))
            else:
                store.commit(StoreChanges(log_events=[records[item].to_dict()]))
        (run_id,) = {r[0] for r in rows}
        run = _joined(store, run_id)
        results.append((run["inputs"], run["outputs"], run["total_tokens"]))
        # A retried span and retried records change nothing.
        store.commit(StoreChanges(rows=rows, log_events=[r.to_dict() for r in records]))
        again = _joined(store, run_id)
        assert (again["inputs"], again["outputs"], again["total_tokens"]) == results[-1]
        assert store.log_event_counts(600) == {"joined": 3, "waiting": 0, "unjoined": 0}
        trace = store.get_trace(run_id)
        assert trace is not None and trace["total_tokens"] == 12
        store.close()
    assert results and all(r == results[0] for r in results)
    assert results[0][2] == 12


def test_a_span_with_its_own_run_id(tmp_path: Path) -> None:
    own = str(uuid.uuid4())
    span, records = _telemetry(own_run_id=own)
    with SQLiteStore(tmp_path / "own.db") as store:
        store.commit(StoreChanges(log_events=[r.to_dict() for r in records]))
        store.commit(StoreChanges(rows=store.row_builder(spans_to_runs([span]), "p")))
        _joined(store, own)


@pytest.mark.parametrize("logs_first", [False, True], ids=["spans-first", "logs-first"])
@pytest.mark.parametrize("case", ["openai_v2_events", "openai_v2_event_only", "evaluation_results"])
def test_the_store_joins_a_recorded_case_as_convert_does(
    tmp_path: Path, case: str, logs_first: bool
) -> None:
    """The golden cases recorded with their log records: what the store makes of spans +
    records, in either order, is what `otel-llm convert --logs` makes of them."""
    from tests.golden.cases import GOLDEN, _logs, _spans, case_runs

    folder = GOLDEN / "gen_ai" / case
    offline = {str(r.id): r for r in case_runs(folder)}
    with SQLiteStore(tmp_path / "s.db") as store:
        rows = store.row_builder(spans_to_runs(_spans(folder)), "p")
        logs = StoreChanges(log_events=[r.to_dict() for r in _logs(folder)])
        for changes in [logs, StoreChanges(rows=rows)][:: -1 if not logs_first else 1]:
            store.commit(changes)
        for run_id, want in offline.items():
            got = store.get_run(run_id)
            assert got is not None
            assert got["inputs"] == want.inputs, want.name
            assert got["outputs"] == (want.outputs or None), want.name
            assert [e["name"] for e in got["events"]] == [e["name"] for e in want.events]
