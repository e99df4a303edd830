"""Every file in `examples/` runs, as a user runs it, in a subprocess next to a real
`otel-llm serve` on free loopback ports (LANGSMITH_ENDPOINT and
OTEL_EXPORTER_OTLP_ENDPOINT point at it), and does what its docstring says.

`processor_langsmith.py` sends its runs to the server's run-ingest API: they are in its
store, redacted, when the example exits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from otel_llm.store import RunQuery, SQLiteStore
from tests.server.helpers import ServeProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServeProcess]:
    server = ServeProcess(tmp_path / "served.db", "--workers", "0")
    yield server
    if server.proc.poll() is None:
        server.signal(signal.SIGTERM)
        server.wait()


def run_example(name: str, cwd: Path, server: ServeProcess) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "LANGSMITH_", "LANGCHAIN_"))
    }
    env.update(
        LANGSMITH_ENDPOINT=server.http_url,
        LANGSMITH_PROJECT="examples",
        OTEL_EXPORTER_OTLP_ENDPOINT=server.http_url,
    )
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def check_quickstart(tmp_path: Path, server: ServeProcess) -> None:
    done = run_example("processor_quickstart.py", tmp_path, server)
    runs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert sorted(r["name"] for r in runs) == ["chat gpt-4o-mini", "helper"]
    chat = next(r for r in runs if r["run_type"] == "llm")
    agent = next(r for r in runs if r["run_type"] != "llm")
    assert chat["parent_run_id"] == agent["id"] and chat["trace_id"] == agent["id"]
    assert done.stdout.count('"run_type"') == 2  # it prints the file


def check_convention_exporter(tmp_path: Path, server: ServeProcess) -> None:
    done = run_example("processor_convention_exporter.py", tmp_path, server)
    span = json.loads(done.stdout)
    attributes = span["attributes"]
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.usage.input_tokens"] == 30
    assert attributes["openinference.span.kind"] == "LLM"


def check_langsmith(tmp_path: Path, server: ServeProcess) -> None:
    """The sink posts the run to `otel-llm serve`'s run ingest: stored, redacted."""
    done = run_example("processor_langsmith.py", tmp_path, server)
    assert "emitted=1" in done.stdout and "spilled=0" in done.stdout, done.stdout
    assert not (tmp_path / "otel-llm-spill").exists() or not any(
        (tmp_path / "otel-llm-spill").iterdir()
    )
    runs, _ = SQLiteStore(server.db).query_runs(RunQuery(limit=10))
    (run,) = runs
    assert run["name"] == "chat claude" and "TimeoutError" in run["error"]
    assert run["session_name"] == "examples"
    text = json.dumps(run)
    assert "bob@example.com" not in text and "TICKET-42" not in text  # redacted


CHECKS: dict[str, Callable[[Path, ServeProcess], None]] = {
    "processor_quickstart.py": check_quickstart,
    "processor_convention_exporter.py": check_convention_exporter,
    "processor_langsmith.py": check_langsmith,
}


def test_every_example_has_a_test() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_example(name: str, tmp_path: Path, served: ServeProcess) -> None:
    CHECKS[name](tmp_path, served)
