"""`otel-llm projects | runs | trace | prune` on a real store file, and `--url` against a
real running server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from otel_llm.cli import main
from otel_llm.cli.read import cost_text, duration_text
from otel_llm.convert import spans_to_runs
from otel_llm.server import OtelLlmServer, ServerSettings
from otel_llm.store import RunQuery, SQLiteStore
from tests.store.helpers import T0, make_span, new_span_id, new_trace_id

DAY = 86_400 * 10**9

TRACE = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
USAGE = {"input_tokens": 1000, "output_tokens": 204, "total_tokens": 1204}


def _fill(store: SQLiteStore) -> None:
    root, llm, tool, docs = (new_span_id() for _ in range(4))
    store.ingest(
        spans_to_runs(
            [
                make_span(TRACE, root, name="agent", agent=True, duration_ms=2410, tags=["prod"]),
                make_span(
                    TRACE,
                    docs,
                    root,
                    name="retrieve_docs",
                    run_type="retriever",
                    start_ms=5,
                    duration_ms=180,
                    outputs={"documents": [1, 2, 3, 4]},
                ),
                make_span(
                    TRACE,
                    llm,
                    root,
                    name="chat [gpt-4o-mini]",
                    run_type="llm",
                    start_ms=200,
                    duration_ms=1900,
                    usage=USAGE,
                    model="gpt-4o-mini",
                ),
                make_span(
                    TRACE,
                    tool,
                    root,
                    name="search_web",
                    run_type="tool",
                    start_ms=2100,
                    duration_ms=310,
                    error="TimeoutError: no answer in 0.3 s\nTraceback (...)",
                ),
            ]
        ),
        "demo",
    )
    store.ingest(spans_to_runs([make_span(new_trace_id(), new_span_id(), name="other")]), "side")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "runs.db"
    with SQLiteStore(path) as store:
        _fill(store)
    return path


def invoke(*args: str, code: int = 0, **env: str) -> str:
    result = CliRunner().invoke(main, list(args), env=env or None)
    assert result.exit_code == code, result.output
    return result.output


EXPECTED_TREE = """\
agent [agent] (2.41 s, 1,204 tokens, $0.0003)
├── retrieve_docs [retriever] (180 ms, 4 docs)
├── chat [gpt-4o-mini] [generation] (1.9 s, 1,204 tokens, $0.0003)
└── search_web [tool] (310 ms) ERROR TimeoutError: no answer in 0.3 s
"""


def test_trace_tree(db: Path) -> None:
    assert invoke("trace", TRACE.hex(), "--db", str(db)) == EXPECTED_TREE
    with SQLiteStore(db) as store:
        trace_id = store.get_trace(TRACE.hex())["trace_id"]  # type: ignore[index]
    assert invoke("trace", trace_id, "--db", str(db)) == EXPECTED_TREE


def test_trace_waiting_for_its_root(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    tid, missing, a = new_trace_id(), new_span_id(), new_span_id()
    with SQLiteStore(path) as store:
        store.ingest(
            spans_to_runs(
                [
                    make_span(tid, a, missing, name="step-a", duration_ms=20),
                    make_span(tid, new_span_id(), a, name="step-b", start_ms=1, duration_ms=5),
                ]
            ),
            "p",
        )
    out = invoke("trace", tid.hex(), "--db", str(path))
    assert out.splitlines() == [
        "trace of 2 runs; 1 wait for a parent that has not arrived",
        "└── step-a (20 ms)",
        "    └── step-b (5 ms)",
    ]


def test_trace_errors(db: Path) -> None:
    assert "no trace 00000000000000000000000000000001" in invoke(
        "trace", "00000000000000000000000000000001", "--db", str(db), code=1
    )
    assert "not a trace id: 'nope'" in invoke("trace", "nope", "--db", str(db), code=1)
    missing = db.parent / "missing.db"
    assert "no run store at" in invoke("trace", TRACE.hex(), "--db", str(missing), code=1)
    assert not missing.exists()  # reading never creates a store


def test_projects_table(db: Path) -> None:
    out = invoke("projects", "--db", str(db))
    demo = next(line for line in out.splitlines() if "demo" in line).split()
    assert demo[:6] == ["demo", "1", "4", "1,204", "$0.0003", "100%"]
    assert "side" in out


def test_runs_table_filter_project_and_json(db: Path) -> None:
    out = invoke("runs", "--db", str(db), "--project", "demo")
    lines = [line for line in out.splitlines() if line.strip()]
    headers = ("Start (UTC)", "Run ID", "Name", "Model", "Duration", "Trace ID")
    assert [h in lines[0] for h in headers] == [True] * len(headers)
    assert "Project" not in lines[0]  # one project asked for
    assert len(lines) == 2 + 4  # header, rule, four runs
    assert "search_web" in lines[2] and "error" in lines[2]
    assert "other" not in out
    with SQLiteStore(db) as store:
        (llm,), _ = store.query_runs(RunQuery(filter='eq(run_type, "llm")'))
    llm_line = next(line for line in lines if "chat [gpt-4o-mini]" in line)
    assert llm_line.split()[2] == llm["id"].replace("-", "")[-8:]  # the short run id
    assert "gpt-4o-mini " in llm_line.replace("chat [gpt-4o-mini]", "")  # the model
    assert llm["trace_id"] in llm_line
    out = invoke("runs", "--db", str(db), "--filter", 'eq(run_type, "llm")', "--json")
    runs = [orjson.loads(line) for line in out.splitlines()]
    assert [r["name"] for r in runs] == ["chat [gpt-4o-mini]"]
    assert runs[0]["total_tokens"] == 1204
    assert len(invoke("runs", "--db", str(db), "--limit", "2", "--json").splitlines()) == 2
    # The env var names the store when --db is not given.
    assert "agent" in invoke("runs", OTEL_LLM_DB=str(db))


LONG = "customer-support-agent-production-eu-west-1-canary-deployment"


def test_long_names_are_never_split_and_wide_shows_everything(db: Path) -> None:
    with SQLiteStore(db) as store:
        store.ingest(spans_to_runs([make_span(new_trace_id(), new_span_id(), name="step")]), LONG)
        ids = [r["id"] for r in store.query_runs(RunQuery())[0]]
    out = invoke("runs", "--db", str(db))
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 2 + 6  # every run on one line: nothing wrapped
    step = next(line for line in lines if " step " in line)
    shown = next(word for word in step.split() if word.startswith("customer"))
    assert shown.endswith("…") and LONG.startswith(shown[:-1])  # cut whole, not folded
    assert "Project" in lines[0] and all(len(i) == 36 for i in ids)
    wide = invoke("runs", "--db", str(db), "--wide")
    assert LONG in wide and all(run_id in wide for run_id in ids)
    projects = invoke("projects", "--db", str(db))
    assert len([line for line in projects.splitlines() if line.strip()]) == 2 + 3
    assert LONG in invoke("projects", "--db", str(db), "--wide")


def test_runs_errors(db: Path) -> None:
    out = invoke("runs", "--db", str(db), "--filter", 'eq(run_type, "llm"', code=2)
    assert "bad filter at column 19" in out
    assert "no project named 'nope'" in invoke("runs", "--db", str(db), "-p", "nope", code=1)


def test_prune(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "give either --older-than" in invoke("prune", "--db", str(db), code=2)
    assert "bad duration '3x'" in invoke("prune", "--db", str(db), "--older-than", "3x", code=2)
    assert "--project goes with --older-than" in invoke(
        "prune", "--db", str(db), "--trace", TRACE.hex(), "-p", "x", code=2
    )
    # The spans start at T0 (2026-09-21); the command's clock reads 30 days later.
    monkeypatch.setattr("otel_llm.cli.read._now_ns", lambda: T0 + 30 * DAY)
    assert invoke("prune", "--db", str(db), "--older-than", "31d") == "deleted 0 runs\n"
    assert invoke("prune", "--db", str(db), "--trace", TRACE.hex()) == "deleted 4 runs\n"
    assert "demo" not in invoke("runs", "--db", str(db))
    assert (
        invoke("prune", "--db", str(db), "--older-than", "29d", "-p", "elsewhere")
        == "deleted 0 runs\n"
    )
    assert (
        invoke("prune", "--db", str(db), "--older-than", "29d", "-p", "side") == "deleted 1 runs\n"
    )


def test_formats() -> None:
    assert [duration_text(s) for s in (0.31, 1.9, 2.41, 2.0, 95.25)] == [
        "310 ms",
        "1.9 s",
        "2.41 s",
        "2 s",
        "95.2 s",
    ]
    assert [cost_text(c) for c in (0.0031, 0.00001, 1.234, 1234.5)] == [
        "$0.0031",
        "<$0.0001",
        "$1.23",
        "$1,234.50",
    ]


@pytest.fixture
def server(db: Path) -> Iterator[tuple[OtelLlmServer, str]]:
    store = SQLiteStore(db)
    srv = OtelLlmServer(store, ServerSettings(grpc_port=None, http_port=0, api_key="sekret"))
    srv.start()
    yield srv, srv.http_url
    srv.stop()
    store.close()


def test_reading_a_running_server(server: tuple[OtelLlmServer, str], tmp_path: Path) -> None:
    _, url = server
    nowhere = str(tmp_path / "none.db")  # --url wins: no file is needed
    args = ("--db", nowhere, "--url", url, "--api-key", "sekret")
    trace_id = orjson.loads(invoke("runs", *args, "--json", "-p", "demo").splitlines()[0])[
        "trace_id"
    ]
    assert invoke("trace", trace_id, *args) == EXPECTED_TREE
    assert invoke("trace", TRACE.hex(), *args) == EXPECTED_TREE
    assert "demo" in invoke("projects", *args)
    out = invoke("runs", *args, "--filter", "gt(latency, ", code=2)
    assert "answered 400 to POST /runs/query: bad filter at column 13" in out
    assert "401" in invoke("projects", "--url", url, code=1)
    out = invoke("projects", "--url", "http://127.0.0.1:9", code=1)
    assert "cannot reach http://127.0.0.1:9" in out
