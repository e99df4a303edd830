"""`query_runs`: every filter operator and field, the query body's own fields, pages,
and read shapes that the real `langsmith` client's models accept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langsmith import schemas

from otel_llm.convert import spans_to_runs
from otel_llm.store import FilterSyntaxError, RunQuery, SQLiteStore
from tests.store.helpers import make_span, new_span_id, new_trace_id

USAGE = {"input_tokens": 1000, "output_tokens": 204, "total_tokens": 1204}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    """Three traces in two projects:

    alpha: agent [prod; user=ada, n=5] (2.41 s) > chat (llm, 1.9 s, 1,204 tokens),
           search_web (tool, 310 ms, error), retrieve_docs (retriever, 180 ms)
    alpha: batch [beta; user=bob] (6 s) > embed (embedding, 200 ms)
    beta:  solo (llm, 500 ms; asks for the capital of France, answers Paris)
    """
    path = tmp_path_factory.mktemp("queries") / "s.db"
    s = SQLiteStore(path)
    a, b, c = new_trace_id(), new_trace_id(), new_trace_id()
    agent, batch = new_span_id(), new_span_id()
    s.ingest(
        spans_to_runs(
            [
                make_span(
                    a,
                    agent,
                    name="agent",
                    agent=True,
                    duration_ms=2410,
                    tags=["prod"],
                    metadata={"user": "ada", "n": 5},
                ),
                make_span(
                    a,
                    new_span_id(),
                    agent,
                    name="chat",
                    run_type="llm",
                    start_ms=10,
                    duration_ms=1900,
                    usage=USAGE,
                    model="gpt-4o-mini",
                    first_token_ms=400,
                ),
                make_span(
                    a,
                    new_span_id(),
                    agent,
                    name="search_web",
                    run_type="tool",
                    start_ms=20,
                    duration_ms=310,
                    error="TimeoutError: no answer in 0.3 s",
                ),
                make_span(
                    a,
                    new_span_id(),
                    agent,
                    name="retrieve_docs",
                    run_type="retriever",
                    start_ms=30,
                    duration_ms=180,
                    outputs={"documents": [1, 2, 3, 4]},
                ),
            ]
        ),
        "alpha",
    )
    s.ingest(
        spans_to_runs(
            [
                make_span(
                    b,
                    batch,
                    name="batch",
                    start_ms=1000,
                    duration_ms=6000,
                    tags=["beta"],
                    metadata={"user": "bob"},
                ),
                make_span(
                    b,
                    new_span_id(),
                    batch,
                    name="embed",
                    run_type="embedding",
                    start_ms=1001,
                    duration_ms=200,
                    usage={"input_tokens": 30, "total_tokens": 30},
                    model="text-embedding-3-small",
                ),
            ]
        ),
        "alpha",
    )
    s.ingest(
        spans_to_runs(
            [
                make_span(
                    c,
                    new_span_id(),
                    name="solo",
                    run_type="llm",
                    start_ms=2000,
                    duration_ms=500,
                    usage=USAGE,
                    model="gpt-4o",
                    inputs={"question": "What is the capital of France?"},
                    outputs={"answer": "Paris"},
                ),
            ]
        ),
        "beta",
    )
    yield s
    s.close()


def names(store: SQLiteStore, **body: Any) -> set[str]:
    runs, _ = store.query_runs(RunQuery.from_dict(body))
    return {r["name"] for r in runs}


def run_id(store: SQLiteStore, name: str) -> str:
    runs, _ = store.query_runs(RunQuery(filter=f'eq(name, "{name}")'))
    return str(runs[0]["id"])


ALL = {"agent", "chat", "search_web", "retrieve_docs", "batch", "embed", "solo"}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('eq(name, "chat")', {"chat"}),
        ("eq(name, 'chat')", {"chat"}),
        ('neq(run_type, "chain")', ALL - {"agent", "batch"}),
        ('in(run_type, ["tool", "retriever"])', {"search_web", "retrieve_docs"}),
        ("in(run_type, [])", set()),
        ('gt(latency, "5s")', {"batch"}),
        ("gte(latency, 1.9)", {"chat", "agent", "batch"}),
        ('lt(latency, "200ms")', {"retrieve_docs"}),
        ('lte(latency, "200ms")', {"retrieve_docs", "embed"}),
        ('eq(latency, "0.5s")', {"solo"}),
        ("gt(total_tokens, 1000)", {"chat", "agent", "solo"}),
        ("lt(total_tokens, 100)", {"embed", "batch"}),
        ("gt(total_cost, 0)", {"chat", "agent", "solo", "embed", "batch"}),
        ("eq(error, null)", ALL - {"search_web"}),
        ("neq(error, null)", {"search_web"}),
        ("eq(error, true)", {"search_web"}),
        ('search(error, "TimeoutError")', {"search_web"}),
        ('eq(status, "error")', {"search_web"}),
        ('eq(status, "success")', ALL - {"search_web"}),
        ('has(tags, "prod")', {"agent"}),
        ('eq(tags, "beta")', {"batch"}),
        ('neq(tags, "prod")', ALL - {"agent"}),
        ('in(tags, ["prod", "beta"])', {"agent", "batch"}),
        ('and(eq(metadata_key, "user"), eq(metadata_value, "ada"))', {"agent"}),
        ('and(eq(metadata_value, "bob"), eq(metadata_key, "user"))', {"batch"}),
        ('and(eq(metadata_key, "n"), eq(metadata_value, 5))', {"agent"}),
        ('and(eq(metadata_key, "user"), eq(metadata_value, "nobody"))', set()),
        ('eq(metadata_key, "user")', {"agent", "batch"}),
        ('eq(metadata_value, "bob")', {"batch"}),
        ('neq(metadata_key, "user")', ALL - {"agent", "batch"}),
        ('search("Paris")', {"solo"}),
        ('search("capital of france")', {"solo"}),
        ('search(name, "web")', {"search_web"}),
        ('search("50%_")', set()),
        ("eq(is_root, true)", {"agent", "batch", "solo"}),
        ("eq(is_root, false)", {"chat", "search_web", "retrieve_docs", "embed"}),
        ('gte(start_time, "2026-09-21T14:13:21Z")', {"batch", "embed", "solo"}),
        ('lt(end_time, "2026-09-21T14:13:20.400Z")', {"search_web", "retrieve_docs"}),
        # A value equal to the bound: gt and lt exclude it, gte and lte include it.
        ('gt(start_time, "2026-09-21T14:13:21Z")', {"embed", "solo"}),
        ('lte(start_time, "2026-09-21T14:13:21Z")', ALL - {"embed", "solo"}),
        ('gt(latency, "0.5s")', {"agent", "chat", "batch"}),
        ('lt(latency, "0.5s")', {"search_web", "retrieve_docs", "embed"}),
        ("gt(total_tokens, 1204)", set()),
        ("gte(total_tokens, 1204)", {"chat", "agent", "solo"}),
        ("lt(total_tokens, 30)", set()),
        ("lte(total_tokens, 30)", {"embed", "batch"}),
        ('or(eq(name, "chat"), eq(name, "solo"))', {"chat", "solo"}),
        ('and(eq(run_type, "llm"), gt(latency, "1s"))', {"chat"}),
        ('and(or(has(tags, "prod"), has(tags, "beta")), gt(latency, 2))', {"agent", "batch"}),
        (
            'and(eq(run_type, "chain"), and(eq(metadata_key, "user"), eq(metadata_value, "ada")))',
            {"agent"},
        ),
    ],
)
def test_filter(store: SQLiteStore, expr: str, expected: set[str]) -> None:
    assert names(store, filter=expr) == expected


def test_filters_on_ids(store: SQLiteStore) -> None:
    agent = run_id(store, "agent")
    assert names(store, filter=f'eq(trace_id, "{agent}")') == {
        "agent",
        "chat",
        "search_web",
        "retrieve_docs",
    }
    assert names(store, filter=f'eq(parent_run_id, "{agent}")') == {
        "chat",
        "search_web",
        "retrieve_docs",
    }
    assert names(store, filter=f'eq(id, "{agent}")') == {"agent"}
    assert names(store, filter=f'neq(id, "{agent}")') == ALL - {"agent"}


def test_trace_filter_and_tree_filter(store: SQLiteStore) -> None:
    # Runs whose trace's root is tagged prod / runs of traces that contain an error.
    trace_a = {"agent", "chat", "search_web", "retrieve_docs"}
    assert names(store, trace_filter='has(tags, "prod")') == trace_a
    assert names(store, tree_filter="neq(error, null)") == trace_a
    assert names(store, filter='eq(run_type, "llm")', trace_filter='has(tags, "prod")') == {"chat"}
    assert names(store, tree_filter='eq(run_type, "embedding")', is_root=True) == {"batch"}


def test_query_body_fields(store: SQLiteStore) -> None:
    agent = run_id(store, "agent")
    alpha = store.list_projects(name="alpha")[0]["id"]
    assert names(store, run_type="llm") == {"chat", "solo"}
    assert names(store, is_root=True) == {"agent", "batch", "solo"}
    assert names(store, error=True) == {"search_web"}
    assert names(store, error=False) == ALL - {"search_web"}
    assert names(store, trace=agent) == {"agent", "chat", "search_web", "retrieve_docs"}
    assert names(store, parent_run=agent) == {"chat", "search_web", "retrieve_docs"}
    assert names(store, id=[agent, run_id(store, "solo")]) == {"agent", "solo"}
    assert names(store, session=[alpha]) == ALL - {"solo"}
    assert names(store, session=[alpha], is_root=True) == {"agent", "batch"}
    assert names(store, start_time="2026-09-21T14:13:21.500000+00:00") == {"solo"}
    assert names(store, query="Paris") == {"solo"}
    assert names(store, parent_run="00000000-0000-0000-0000-000000000001") == set()
    assert names(store, id=[]) == set()


def test_select_limits_the_fields(store: SQLiteStore) -> None:
    runs, _ = store.query_runs(
        RunQuery(select=["inputs", "total_tokens", "child_run_ids"], filter='eq(name, "agent")')
    )
    assert set(runs[0]) == {
        "id",
        "name",
        "run_type",
        "start_time",
        "trace_id",
        "dotted_order",
        "parent_run_id",
        "inputs",
        "total_tokens",
        "child_run_ids",
    }
    assert len(runs[0]["child_run_ids"]) == 3


def test_read_shape_passes_the_langsmith_models(store: SQLiteStore) -> None:
    runs, _ = store.query_runs(RunQuery())
    assert len(runs) == 7
    for d in runs:
        # The client adds `attachments` itself: a run dict must not carry it.
        run = schemas.Run(attachments={}, **d)
        assert str(run.id) == d["id"]
    chat = schemas.Run(**store.get_run(run_id(store, "chat")) or {})
    assert (chat.prompt_tokens, chat.completion_tokens, chat.total_tokens) == (1000, 204, 1204)
    assert float(chat.total_cost or 0) == pytest.approx(1000 * 0.15e-6 + 204 * 0.6e-6)
    assert chat.status == "success"
    assert chat.first_token_time is not None
    assert chat.first_token_time.isoformat() == "2026-09-21T14:13:20.400000+00:00"
    agent = schemas.Run(**store.get_run(run_id(store, "agent")) or {})
    assert agent.total_tokens == 1204  # rolled up from its generation
    assert len(agent.child_run_ids or []) == 3
    assert agent.metadata["user"] == "ada"
    assert agent.tags == ["prod"]
    search = schemas.Run(**store.get_run(run_id(store, "search_web")) or {})
    assert search.status == "error"
    assert search.error is not None and search.error.startswith("TimeoutError")
    assert search.parent_run_ids == [agent.id]
    for project in store.list_projects():
        session = schemas.TracerSessionResult(**project)
        assert session.name in ("alpha", "beta")
    alpha = schemas.TracerSessionResult(**store.list_projects(name="alpha")[0])
    assert (alpha.run_count, alpha.total_tokens) == (6, 1234)
    assert alpha.error_rate == 0.5


def test_projects_pages_and_lookup(store: SQLiteStore) -> None:
    assert {p["name"] for p in store.list_projects()} == {"alpha", "beta"}
    assert len(store.list_projects(limit=1)) == 1
    assert (
        store.list_projects(limit=1, offset=1)[0]["name"] != store.list_projects(limit=1)[0]["name"]
    )
    assert store.list_projects(name="nope") == []
    beta = store.list_projects(name="beta")[0]
    assert store.get_project(beta["id"]) == beta
    assert store.get_project("00000000-0000-0000-0000-000000000009") is None
    assert store.get_project("not-a-uuid") is None
    assert store.get_run("not-a-uuid") is None


@pytest.mark.parametrize(
    ("expr", "message", "column"),
    [
        ("  ", "the filter is empty", 3),
        ("eq(name, ", "expected a value, found the end of the filter", 10),
        ('eq(name "x")', "expected ',' or ')', found string 'x'", 9),
        ('equals(name, "x")', "unknown operator 'equals'", 1),
        ('eq(colour, "x")', "unknown field 'colour'", 4),
        ('eq("name", "x")', "needs a field name first", 4),
        ('eq(name, "x"', "expected ',' or ')', found the end of the filter", 13),
        ('eq(name, "x")) ', "unexpected ')' after the expression", 14),
        ('eq(name, "x', "string is not closed", 10),
        ("eq(name, x)", "needs a value second", 10),
        ('eq(name, "a", "b")', "takes a field and a value, got 3", 1),
        ("and()", "and() needs at least one expression", 1),
        ('and(eq(name, "a"), 3)', "and() takes expressions, found 3", 20),
        ('gt(latency, "soon")', "latency needs a duration", 13),
        # Once a quadratic backtrack over the spaces; strings are now at most 4,096
        # characters, and the duration pattern is linear anyway.
        pytest.param(
            'gt(latency, "1' + " " * 4_000 + 'x")',
            "latency needs a duration",
            13,
            id="long-spaces",
        ),
        ('gt(total_tokens, "many")', "total_tokens needs a number", 18),
        ('gt(start_time, "yesterday")', "start_time needs an ISO 8601 time", 16),
        ('eq(id, "42")', "id needs a UUID", 8),
        ('gt(tags, "x")', "gt() does not apply to tags", 10),
        ('has(name, "x")', "has() applies to tags, not name", 11),
        ('in(name, "x")', 'in() needs a list such as ["a", "b"]', 10),
        ("eq(is_root, 1)", "is_root takes eq/neq with true or false", 13),
        ("gt(error, null)", "gt() cannot compare error with None", 11),
        ("search(3)", "search() takes a string", 8),
        ('search(latency, "x")', "search() does not apply to latency", 1),
        ("eq(name, @)", "unexpected '@'", 10),
        ("eq(name, [1, 2)", "expected ',' or ']'", 15),
    ],
)
def test_filter_errors_say_what_and_where(
    store: SQLiteStore, expr: str, message: str, column: int
) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        store.query_runs(RunQuery(filter=expr))
    assert message in str(info.value)
    assert info.value.column == column
    assert f"at column {column}" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_filter_values_are_bound_never_pasted(store: SQLiteStore) -> None:
    hostile = 'x"); DROP TABLE runs; --'
    assert names(store, filter=f"eq(name, '{hostile}')") == set()
    assert names(store, filter='search("\' OR 1=1 --")') == set()
    assert len(names(store)) == 7


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"limit": 0}, "limit must be an integer from 1 to 1000"),
        ({"limit": "5"}, "limit must be an integer"),
        ({"order": "sideways"}, 'order must be "asc" or "desc"'),
        ({"session": ["nope"]}, "session: not a UUID"),
        ({"trace": 5}, "trace: not a UUID"),
        ({"is_root": "yes"}, "is_root must be true or false"),
        ({"filter": 3}, "filter must be a string"),
        ({"select": 3}, "select must be a list"),
        (["not", "an", "object"], "the query must be a JSON object"),
    ],
)
def test_bad_query_bodies(body: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        RunQuery.from_dict(body)
    assert message in str(info.value)


def test_unknown_body_keys_are_ignored() -> None:
    q = RunQuery.from_dict({"limit": 5, "app_path": "x", "reference_example": None})
    assert q.limit == 5


def test_bad_start_time_and_cursor(store: SQLiteStore) -> None:
    with pytest.raises(ValueError, match="start_time is not an ISO 8601 time"):
        store.query_runs(RunQuery(start_time="yesterday"))
    with pytest.raises(ValueError, match="bad cursor"):
        store.query_runs(RunQuery(cursor="%%%"))


def test_cursor_pages_cover_every_run_once(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "p.db") as s:
        for project in ("one", "two"):
            spans = [
                make_span(
                    new_trace_id(), new_span_id(), name=f"{project}-{i}", start_ms=i // 3
                )  # equal start times across a page edge
                for i in range(130)
            ]
            s.ingest(spans_to_runs(spans), project)
        for order in ("desc", "asc"):
            seen: list[dict[str, Any]] = []
            cursor = None
            pages = 0
            while True:
                runs, cursor = s.query_runs(RunQuery(limit=47, cursor=cursor, order=order))
                seen += runs
                pages += 1
                if cursor is None:
                    break
            assert pages == 6
            assert len(seen) == 260
            assert len({r["id"] for r in seen}) == 260
            starts = [r["start_time"] for r in seen]
            assert starts == sorted(starts, reverse=order == "desc")
        one = s.list_projects(name="one")[0]["id"]
        runs, cursor = s.query_runs(RunQuery(session=[one], limit=100))
        assert len(runs) == 100 and cursor is not None
        rest, end = s.query_runs(RunQuery(session=[one], limit=100, cursor=cursor))
        assert len(rest) == 30 and end is None
        assert {r["name"] for r in runs + rest} == {f"one-{i}" for i in range(130)}


def test_metadata_and_tag_values_that_json_escapes(tmp_path: Path) -> None:
    tricky = {
        "quote": 'say "hi"\\now',
        "accent": "café ☕",
        "flag": True,
        "count": 12,
        "nested": {"inner": "x"},
    }
    with SQLiteStore(tmp_path / "m.db") as s:
        s.ingest(
            spans_to_runs(
                [
                    make_span(
                        new_trace_id(),
                        new_span_id(),
                        name="tricky",
                        metadata=tricky,
                        tags=['with "quotes"', "ünï"],
                    ),
                    make_span(
                        new_trace_id(), new_span_id(), name="plain", metadata={"count": "13"}
                    ),
                ]
            ),
            "p",
        )

        def found(expr: str) -> set[str]:
            runs, _ = s.query_runs(RunQuery(filter=expr))
            return {r["name"] for r in runs}

        assert found('and(eq(metadata_key, "quote"), eq(metadata_value, \'say "hi"\\\\now\'))') == {
            "tricky"
        }
        assert found('and(eq(metadata_key, "accent"), eq(metadata_value, "café ☕"))') == {"tricky"}
        assert found('and(eq(metadata_key, "flag"), eq(metadata_value, true))') == {"tricky"}
        assert found('and(eq(metadata_key, "count"), eq(metadata_value, "12"))') == {"tricky"}
        assert found('and(eq(metadata_key, "count"), eq(metadata_value, 13))') == {"plain"}
        assert found('and(eq(metadata_key, "inner"), eq(metadata_value, "x"))') == set()
        assert found('eq(metadata_value, "café ☕")') == {"tricky"}
        assert found("has(tags, 'with \"quotes\"')") == {"tricky"}
        assert found('has(tags, "ünï")') == {"tricky"}
        assert found('has(tags, "with")') == set()


@pytest.mark.parametrize("probe", [1_000, 5])
@pytest.mark.parametrize("order", ["desc", "asc"])
def test_content_filters_page_alike_on_every_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, probe: int, order: str
) -> None:
    """A search or metadata filter is answered from the newest runs (a probe), by a
    sequential table scan (a project holding most runs) or by the project index walk (a
    small project); each way gives the same pages as filtering in Python."""
    import otel_llm.store.sqlite.reads as sqlite_store

    monkeypatch.setattr(sqlite_store, "_CONTENT_PROBE", probe)
    with SQLiteStore(tmp_path / "c.db") as s:
        for project, count in (("big", 120), ("small", 12)):
            s.ingest(
                spans_to_runs(
                    [
                        make_span(
                            new_trace_id(),
                            new_span_id(),
                            name=f"{project}-{i}",
                            start_ms=i // 2,
                            inputs={"q": "needle" if i % 7 == 3 else "hay"},
                            metadata={"user": f"u{i % 5}"},
                        )
                        for i in range(count)
                    ]
                ),
                project,
            )
        for project, count in (("big", 120), ("small", 12)):
            pid = s.list_projects(name=project)[0]["id"]
            for expr, keep in (
                ('search("needle")', lambda i: i % 7 == 3),
                ('and(eq(metadata_key, "user"), eq(metadata_value, "u2"))', lambda i: i % 5 == 2),
            ):
                seen: list[dict[str, Any]] = []
                cursor = None
                while True:
                    runs, cursor = s.query_runs(
                        RunQuery(session=[pid], filter=expr, limit=4, cursor=cursor, order=order)
                    )
                    seen += runs
                    if cursor is None:
                        break
                wanted = [i for i in range(count) if keep(i)]
                assert sorted(r["name"] for r in seen) == sorted(f"{project}-{i}" for i in wanted)
                starts = [r["start_time"] for r in seen]
                assert starts == sorted(starts, reverse=order == "desc")
