"""Run statistics (`store/stats.py`) on a real store: percentiles by nearest rank, rates,
and tokens counted once whichever runs of a tree match."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_llm.convert import spans_to_runs
from otel_llm.store import RunQuery, SQLiteStore
from tests.store.helpers import make_span, new_span_id, new_trace_id

USAGE = {"input_tokens": 80, "output_tokens": 20, "total_tokens": 100}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """One trace: an agent with four generations of 1, 2, 3 and 100 s (the last failed,
    the first streamed its first token after 0.25 s), each 100 tokens."""
    s = SQLiteStore(tmp_path / "stats.db")
    trace, root = new_trace_id(), new_span_id()
    spans = [make_span(trace, root, name="agent", agent=True, duration_ms=110_000)]
    for i, seconds in enumerate((1, 2, 3, 100)):
        spans.append(
            make_span(
                trace,
                new_span_id(),
                root,
                name=f"chat {i}",
                run_type="llm",
                start_ms=10 * i,
                duration_ms=seconds * 1000,
                usage=USAGE,
                model="gpt-4o-mini",
                error="TimeoutError" if seconds == 100 else None,
                first_token_ms=250 if i == 0 else None,
            )
        )
    s.ingest(spans_to_runs(spans), "p")
    yield s
    s.close()


def test_percentiles_rates_and_tokens(store: SQLiteStore) -> None:
    llm = store.run_stats(RunQuery(run_type="llm"))
    assert llm["run_count"] == 4
    assert (llm["latency_p50"], llm["latency_p99"]) == (2.0, 100.0)  # nearest rank
    assert llm["first_token_p50"] == llm["first_token_p99"] == pytest.approx(0.25)
    assert llm["streaming_rate"] == 0.25 and llm["error_rate"] == 0.25
    assert llm["total_tokens"] == 400 and llm["prompt_tokens"] == 320
    assert llm["median_tokens"] == 100
    # The agent holds its generations' sums: counted once, with or without them matching.
    every = store.run_stats(RunQuery())
    assert every["run_count"] == 5 and every["total_tokens"] == 400
    assert every["latency_p99"] == 110.0
    roots = store.run_stats(RunQuery(is_root=True))
    assert roots["total_tokens"] == 400 and roots["median_tokens"] == 400


def test_nothing_matches(store: SQLiteStore) -> None:
    none = store.run_stats(RunQuery(session=[]))
    assert none["run_count"] == 0 and none["latency_p50"] is None
    assert none["error_rate"] is None and none["last_run_start_time"] is None
    with pytest.raises(ValueError, match="end_time is not an ISO 8601 time"):
        store.run_stats(RunQuery(), end_time="yesterday")
