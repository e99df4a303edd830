"""Every mistake in a filter is a FilterSyntaxError (a 400, exit code 2) naming the column
and the limit; none reaches SQLite, whose own limits would answer with a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from otel_llm.cli import main
from otel_llm.convert import spans_to_runs
from otel_llm.server import OtelLlmServer, ServerSettings
from otel_llm.store import RunQuery, SQLiteStore
from otel_llm.store.query import LIMITS, FilterSyntaxError, compile_filter
from tests.store.helpers import make_span, new_span_id, new_trace_id

# (filter, what the message must say)
BAD_FILTERS = [
    ("gt(total_tokens, 99999999999999999999)", "outside the 64-bit range"),
    ("gt(total_tokens, -9223372036854775809)", "outside the 64-bit range"),
    ("gt(total_tokens, 1e999)", "too large"),
    ('gt(total_tokens, "1e999")', "total_tokens needs a number, got '1e999'"),
    ("gt(start_time, 1e300)", "out of range (times from 1677-09-21 to 2262-04-11)"),
    ("gt(start_time, 99999999999)", "out of range"),
    ('lt(start_time, "9999-12-31T23:59:59Z")', "out of range"),
    ("gt(latency, 1e300)", "out of range (durations"),
    ('gt(latency, "' + "9" * 1000 + 's")', "out of range (durations"),
    ("and(" * 200 + 'eq(name, "x")' + ")" * 200, f"more than {LIMITS.depth} levels"),
    ("and(" * 1000 + 'eq(name, "x")' + ")" * 1000, f"more than {LIMITS.depth} levels"),
    ("in(name, " + "[" * 500 + "]" * 500 + ")", f"more than {LIMITS.depth} levels"),
    ("and(" + ", ".join(['eq(name, "x")'] * 3000) + ")", "the limit is 20,000"),
    (
        "or(" + ", ".join([f'eq(name, "{i}")' for i in range(201)]) + ")",
        f"more than {LIMITS.comparisons} comparisons",
    ),
    ("in(name, [" + ", ".join(["1"] * 1001) + "])", "more than 1,000 list items"),
    ('search("' + "a" * 100_000 + '")', "the limit is 20,000"),
    ('search("' + "a" * 5000 + '")', "the limit is 4,096"),
    ('search("\u0000abc")', "NUL"),
    ('search(name, "a\u0000")', "NUL"),
    ('eq(name, "\ud800")', "lone surrogate"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILTERS, ids=range(len(BAD_FILTERS)))
def test_each_mistake_is_a_filter_error_naming_the_limit(text: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as error:
        compile_filter(text)
    assert message in str(error.value)
    assert len(str(error.value)) < 600  # the message quotes the filter, cut short


def test_a_filter_at_every_limit_is_accepted(tmp_path: Path) -> None:
    nested = "and(" * LIMITS.depth + 'eq(name, "x")' + ")" * LIMITS.depth
    wide = "or(" + ", ".join(f'eq(name, "{i}")' for i in range(LIMITS.comparisons)) + ")"
    listed = "in(name, [" + ", ".join(f'"{i}"' for i in range(LIMITS.list_items)) + "])"
    long = 'search("' + "a" * LIMITS.string + '")'
    with SQLiteStore(tmp_path / "s.db") as store:
        store.ingest(spans_to_runs([make_span(new_trace_id(), new_span_id(), name="x")]), "p")
        for text in (nested, wide, listed, long):
            assert len(text) <= LIMITS.length
            store.query_runs(RunQuery(filter=text))  # SQLite takes what the limits allow


def test_a_nul_free_search_still_matches(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        store.ingest(
            spans_to_runs(
                [
                    make_span(new_trace_id(), new_span_id(), name="alpha"),
                    make_span(new_trace_id(), new_span_id(), name="beta"),
                ]
            ),
            "p",
        )
        runs, _ = store.query_runs(RunQuery(filter='search("alp")'))
        assert [r["name"] for r in runs] == ["alpha"]


def test_a_start_time_beyond_the_store_matches_nothing(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        store.ingest(spans_to_runs([make_span(new_trace_id(), new_span_id())]), "p")
        assert store.query_runs(RunQuery(start_time="9999-12-31T23:59:59Z"))[0] == []
        assert len(store.query_runs(RunQuery(start_time="0001-01-01T00:00:00Z"))[0]) == 1


@pytest.fixture
def server(tmp_path: Path) -> Iterator[OtelLlmServer]:
    store = SQLiteStore(tmp_path / "runs.db")
    store.ingest(spans_to_runs([make_span(new_trace_id(), new_span_id())]), "p")
    with OtelLlmServer(store, ServerSettings(grpc_port=0, http_port=0)) as running:
        yield running
    store.close()


@pytest.mark.parametrize(("text", "message"), BAD_FILTERS, ids=range(len(BAD_FILTERS)))
def test_the_read_api_answers_400_with_the_message(
    server: OtelLlmServer, text: str, message: str
) -> None:
    for key in ("filter", "trace_filter", "tree_filter"):
        body = json.dumps({key: text})  # ASCII: a lone surrogate travels as an escape
        response = httpx.post(server.http_url + "/runs/query", content=body, timeout=30)
        assert response.status_code == 400, response.text
        detail = response.json()["detail"]
        # orjson refuses a lone surrogate in the JSON body itself
        assert message in detail or "body is not JSON" in detail


def test_a_huge_free_text_query_is_400(server: OtelLlmServer) -> None:
    response = httpx.post(server.http_url + "/runs/query", json={"query": "a" * 100_000})
    assert response.status_code == 400
    assert "limit" in response.json()["detail"]


@pytest.mark.parametrize("text", [BAD_FILTERS[0][0], BAD_FILTERS[9][0], BAD_FILTERS[17][0]])
def test_the_cli_prints_the_message_and_exits_2(
    server: OtelLlmServer, tmp_path: Path, text: str
) -> None:
    for where in (["--db", str(tmp_path / "runs.db")], ["--url", server.http_url]):
        result = CliRunner().invoke(main, ["runs", *where, "--filter", text])
        assert result.exit_code == 2, result.output
        assert "bad filter at column" in result.output
        assert "Traceback" not in result.output
