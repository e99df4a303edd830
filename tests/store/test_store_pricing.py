"""The model price table: matching, cost arithmetic, user files, and costs in the store."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from otel_llm.convert import spans_to_runs
from otel_llm.pricing import Price, PriceTable
from otel_llm.store import SQLiteStore
from tests.store.helpers import make_span, new_span_id, new_trace_id


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


# Each entry a price of its own, so a lookup names the entry it matched.
ENTRIES = PriceTable(
    {
        "claude-3-5-sonnet": Price(1.0, 1.0),
        "claude-sonnet-4": Price(2.0, 2.0),
        "gemini-2.5-flash": Price(4.0, 4.0),
        "gemini-2.5-flash-lite": Price(5.0, 5.0),
        "gpt-4.1-mini": Price(6.0, 6.0),
        "gpt-4o": Price(7.0, 7.0),
        "gpt-4o-mini": Price(8.0, 8.0),
        "o3-mini": Price(9.0, 9.0),
    }
)


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("gpt-4o-mini", 8.0),  # gpt-4o-mini
        ("gpt-4o-mini-2024-07-18", 8.0),  # gpt-4o-mini
        ("gpt-4o-2024-08-06", 7.0),  # gpt-4o
        ("GPT-4o", 7.0),  # gpt-4o
        ("openai/gpt-4.1-mini", 6.0),  # gpt-4.1-mini
        ("claude-3-5-sonnet-20241022", 1.0),  # claude-3-5-sonnet
        ("claude-3-5-sonnet@20240620", 1.0),  # claude-3-5-sonnet
        ("claude-sonnet-4-20250514", 2.0),  # claude-sonnet-4
        ("models/gemini-2.5-flash", 4.0),  # gemini-2.5-flash
        ("gemini-2.5-flash-lite-preview", 5.0),  # gemini-2.5-flash-lite
        ("o3-mini-2025-01-31", 9.0),  # o3-mini
    ],
)
def test_exact_and_prefix_matching(model: str, price: float) -> None:
    assert ENTRIES.lookup(model) == Price(price, price)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o-mini-2024-07-18", Price(0.15, 0.6, 0.075)),
        ("claude-3-5-sonnet-20241022", Price(3.0, 15.0, 0.3)),
        ("models/gemini-2.5-flash", Price(0.3, 2.5, 0.075)),
    ],
)
def test_the_shipped_table_prices_current_models(
    table: PriceTable, model: str, expected: Price
) -> None:
    assert table.lookup(model) == expected


@pytest.mark.parametrize("model", ["gpt-4oz", "gpt-5x", "llama-3-70b", "o"])
def test_a_prefix_must_end_at_a_boundary(table: PriceTable, model: str) -> None:
    assert table.lookup(model) is None


def test_cost_counts_cache_reads_and_reasoning_at_their_prices() -> None:
    table = PriceTable({"m": Price(input=2.0, output=8.0, cached_input=0.5, reasoning=4.0)})
    usage = {
        "input_tokens": 1_000_000,
        "output_tokens": 500_000,
        "input_token_details": {"cache_read": 400_000},
        "output_token_details": {"reasoning": 100_000},
    }
    cost = table.cost("m-2025", usage)
    assert cost is not None
    assert cost.prompt == pytest.approx(600_000 * 2e-6 + 400_000 * 0.5e-6)
    assert cost.completion == pytest.approx(400_000 * 8e-6 + 100_000 * 4e-6)
    assert cost.total == pytest.approx(cost.prompt + cost.completion)


def test_a_runs_own_cost_wins_over_the_table(table: PriceTable) -> None:
    cost = table.cost("gpt-4o", {"input_tokens": 10, "input_cost": 0.5, "output_cost": 0.25})
    assert cost is not None
    assert (cost.prompt, cost.completion, cost.total) == (0.5, 0.25, 0.75)
    only_total = table.cost(None, {"total_cost": 0.125})
    assert only_total is not None
    assert (only_total.prompt, only_total.total) == (None, 0.125)
    assert table.cost("unknown-model", {"input_tokens": 10}) is None


def test_override_file_extends_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_bytes(
        orjson.dumps(
            {
                "models": {
                    "gpt-4o": {"input": 1.0, "output": 2.0},
                    "my-finetune": {"input": 3.0, "output": 6.0, "cached_input": 1.5},
                }
            }
        )
    )
    table = PriceTable.load(path)
    assert table.lookup("gpt-4o-2024-08-06") == Price(1.0, 2.0)
    assert table.lookup("my-finetune-v2") == Price(3.0, 6.0, 1.5)
    assert table.lookup("claude-3-haiku") is not None  # shipped entries stay
    path.write_bytes(orjson.dumps({"replace": True, "models": {"x": {"input": 1, "output": 1}}}))
    replaced = PriceTable.load(path)
    assert len(replaced) == 1
    assert replaced.lookup("gpt-4o") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "is not valid JSON"),
        (b"[]", 'expected an object with a "models" object'),
        (b'{"models": {"m": 3}}', "model 'm': expected an object of prices"),
        (b'{"models": {"m": {"input": 1}}}', "input and output prices are required"),
        (b'{"models": {"m": {"input": "1", "output": 2}}}', "input must be a number >= 0"),
        (b'{"models": {"m": {"input": 1, "output": 2, "cache": 1}}}', "unknown field(s) cache"),
    ],
)
def test_bad_price_files_say_what_is_wrong(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "prices.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"price file .*prices\.json") as info:
        PriceTable.load(path)
    assert message in str(info.value)
    with pytest.raises(ValueError, match="cannot read price file"):
        PriceTable.load(tmp_path / "missing.json")


def test_store_costs_from_table_and_from_an_override_file(tmp_path: Path) -> None:
    tid, root = new_trace_id(), new_span_id()
    usage = {"input_tokens": 2000, "output_tokens": 1000, "total_tokens": 3000}
    spans = [
        make_span(tid, root, name="agent", agent=True, duration_ms=50),
        make_span(
            tid,
            new_span_id(),
            root,
            name="a",
            run_type="llm",
            usage=usage,
            model="gpt-4o-mini-2024-07-18",
            start_ms=1,
        ),
        make_span(
            tid,
            new_span_id(),
            root,
            name="b",
            run_type="llm",
            usage=usage,
            model="acme-large",
            start_ms=2,
        ),
        make_span(
            tid,
            new_span_id(),
            root,
            name="c",
            run_type="llm",
            start_ms=3,
            usage={**usage, "total_cost": 0.5},
            model="acme-large",
        ),
    ]
    with SQLiteStore(tmp_path / "a.db") as store:
        store.ingest(spans_to_runs(spans), "p")
        by_name = {r["name"]: r for r in store.trace_runs(tid.hex())}
        assert by_name["a"]["total_cost"] == pytest.approx(2000 * 0.15e-6 + 1000 * 0.6e-6)
        assert by_name["a"]["prompt_cost"] == pytest.approx(2000 * 0.15e-6)
        assert by_name["b"]["total_cost"] is None  # unknown model, no cost given
        assert by_name["c"]["total_cost"] == 0.5
        assert by_name["agent"]["total_cost"] == pytest.approx(0.5 + 0.0003 + 0.0006)
    prices = tmp_path / "prices.json"
    prices.write_bytes(orjson.dumps({"models": {"acme-large": {"input": 10, "output": 20}}}))
    with SQLiteStore(tmp_path / "b.db", prices_path=prices) as store:
        store.ingest(spans_to_runs(spans), "p")
        by_name = {r["name"]: r for r in store.trace_runs(tid.hex())}
        assert by_name["b"]["total_cost"] == pytest.approx(2000 * 10e-6 + 1000 * 20e-6)
        assert by_name["c"]["total_cost"] == 0.5
        trace = store.get_trace(tid.hex())
        assert trace is not None
        assert trace["total_cost"] == pytest.approx(0.0009 + 0.04 + 0.5)
        assert trace["total_tokens"] == 9000
