"""Sessions (conversations of many traces) across conventions: one key per trace by the
precedence table, listed per project by the store, the HTTP API, the CLI and
`langsmith.Client.list_threads`."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import langsmith
import pytest
from click.testing import CliRunner

from otel_llm.cli import main
from otel_llm.convert import spans_to_runs
from otel_llm.model import SpanRecord
from otel_llm.server import OtelLlmServer, ServerSettings
from otel_llm.sessions import session_of
from otel_llm.store import SQLiteStore

NOW = time.time_ns() - 3_600 * 10**9  # an hour ago: list_threads looks at the last day


def trace(
    seed: int, session_attrs: dict[str, object], start_s: int, tokens: int = 10, error: bool = False
) -> list[SpanRecord]:
    """A root (carrying the session as its convention writes it) and one generation."""
    trace_id = uuid.UUID(int=seed).bytes
    root, child = (seed * 10 + 1).to_bytes(8, "big"), (seed * 10 + 2).to_bytes(8, "big")
    start = NOW + start_s * 10**9
    return [
        SpanRecord(
            trace_id=trace_id,
            span_id=child,
            parent_span_id=root,
            name="chat",
            start_time_unix_nano=start + 1000,
            end_time_unix_nano=start + 2 * 10**9,
            status_code=2 if error else 0,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": tokens,
                "gen_ai.usage.output_tokens": 0,
            },
        ),
        SpanRecord(
            trace_id=trace_id,
            span_id=root,
            name=f"turn {seed}",
            start_time_unix_nano=start,
            end_time_unix_nano=start + 3 * 10**9,
            attributes=session_attrs,
        ),
    ]


CONVENTIONS = [
    {"openinference.span.kind": "CHAIN", "session.id": "conv-1"},
    {"gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": "conv-1"},
    {"langfuse.observation.type": "span", "langfuse.session.id": "conv-1"},
    {"langsmith.span.kind": "chain", "langsmith.metadata.thread_id": "conv-1"},
    {"traceloop.span.kind": "workflow", "traceloop.association.properties.session_id": "conv-1"},
    {"ai.operationId": "ai.generateText", "ai.telemetry.metadata.sessionId": "conv-1"},
]


@pytest.mark.parametrize("attrs", CONVENTIONS, ids=lambda a: next(iter(a)).split(".")[0])
def test_every_convention_names_the_session(attrs: dict[str, object]) -> None:
    root = spans_to_runs(trace(1, attrs, 0))[1]
    assert session_of(root.extra.get("metadata")) == "conv-1"


def test_the_precedence_table_picks_one_key() -> None:
    assert session_of({"conversation_id": "c", "thread_id": "t", "session_id": "s"}) == "s"
    assert session_of({"conversation_id": "c", "thread_id": "t"}) == "t"
    assert session_of({"sessionId": "v", "conversation_id": "c"}) == "c"
    assert session_of({"session_id": ""}) is None and session_of(None) is None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[OtelLlmServer]:
    store = SQLiteStore(tmp_path / "runs.db")
    spans = [
        *trace(1, CONVENTIONS[0], 0, tokens=10),  # conv-1, OpenInference
        *trace(2, CONVENTIONS[1], 60, tokens=20, error=True),  # conv-1, GenAI
        *trace(3, {"session.id": "conv-2", "openinference.span.kind": "CHAIN"}, 30),
        *trace(4, {"openinference.span.kind": "CHAIN"}, 90),  # no session
    ]
    store.ingest(spans_to_runs(spans), "chat-app")
    with OtelLlmServer(store, ServerSettings(grpc_port=0, http_port=0)) as running:
        yield running
    store.close()


def test_the_store_lists_sessions_and_their_traces(server: OtelLlmServer) -> None:
    store = server.store
    (project,) = store.list_projects()
    listed = store.list_sessions(project["id"])
    assert [s["session_id"] for s in listed] == ["conv-1", "conv-2"]  # latest active first
    conv1 = listed[0]
    assert (
        conv1["trace_count"],
        conv1["run_count"],
        conv1["total_tokens"],
        conv1["error_count"],
    ) == (2, 4, 30, 1)
    traces = store.session_traces(project["id"], "conv-1")
    assert [t["name"] for t in traces] == ["turn 1", "turn 2"]
    assert store.session_traces(project["id"], "nope") == []


def test_http_cli_and_the_langsmith_client(server: OtelLlmServer, tmp_path: Path) -> None:
    (project,) = server.store.list_projects()
    base = f"{server.http_url}/sessions/{project['id']}/threads"
    assert [s["session_id"] for s in httpx.get(base).json()] == ["conv-1", "conv-2"]
    one = httpx.get(base + "/conv-1").json()
    assert [t["name"] for t in one["traces"]] == ["turn 1", "turn 2"]
    assert httpx.get(base + "/nope").status_code == 404
    client = langsmith.Client(api_url=server.http_url, api_key="k")
    threads = {t["thread_id"]: t for t in client.list_threads(project_name="chat-app")}
    assert set(threads) == {"conv-1", "conv-2"}
    assert {r.name for r in threads["conv-1"]["runs"]} == {"turn 1", "turn 2"}
    for where in (["--db", str(server.store.path)], ["--url", server.http_url]):
        listing = CliRunner().invoke(
            main, ["sessions", *where, "-p", "chat-app"], terminal_width=200
        )
        assert listing.exit_code == 0, listing.output
        assert "conv-1" in listing.output and "conv-2" in listing.output
        shown = CliRunner().invoke(main, ["session", *where, "conv-1"], terminal_width=200)
        assert shown.exit_code == 0, shown.output
        assert shown.output.index("turn 1") < shown.output.index("turn 2")
        missing = CliRunner().invoke(main, ["session", *where, "nope"])
        assert missing.exit_code == 1 and "no session 'nope'" in missing.output


def test_a_store_from_before_sessions_gets_them_when_opened(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as conn:  # as schema 2 left it
        conn.execute("DROP INDEX traces_project_session")
        conn.execute("ALTER TABLE runs DROP COLUMN session_key")
        conn.execute("ALTER TABLE traces DROP COLUMN session_key")
        conn.execute("PRAGMA user_version = 2")
    with SQLiteStore(path) as store:
        store.ingest(spans_to_runs(trace(7, CONVENTIONS[0], 0)), "old")
        (project,) = store.list_projects()
        assert [s["session_id"] for s in store.list_sessions(project["id"])] == ["conv-1"]


def test_runs_written_back_as_spans_carry_their_session_in_every_family() -> None:
    from otel_llm.convert import DEFAULT_EMIT, runs_to_spans

    (root,) = [r for r in spans_to_runs(trace(9, CONVENTIONS[3], 0)) if r.parent_run_id is None]
    (span,) = runs_to_spans([root], DEFAULT_EMIT)
    assert {k: v for k, v in span.attributes.items() if v == "conv-1"} == {
        "gen_ai.conversation.id": "conv-1",  # gen_ai
        "session.id": "conv-1",  # openinference
        "langfuse.session.id": "conv-1",  # langfuse
        "langsmith.metadata.thread_id": "conv-1",  # langsmith
    }
    # ...and each family alone gives the session back.
    for family in ("gen_ai", "openinference", "langfuse", "langsmith"):
        (alone,) = runs_to_spans([root], frozenset({family}))
        attrs = {k: v for k, v in alone.attributes.items() if not k.startswith("otel_llm.")}
        reread = spans_to_runs([replace(alone, attributes=attrs)])
        assert session_of(reread[0].extra.get("metadata")) == "conv-1", family
