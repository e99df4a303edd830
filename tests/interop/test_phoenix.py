"""The spans we write, as a real Arize Phoenix shows them (issue 15 section 5, issue 13
section 3).

Phoenix (`arize-phoenix`, from PyPI) is installed once into its own virtual environment
(`.venv-phoenix/` at the repository root, or `OTEL_LLM_PHOENIX_VENV`; reused when it is
complete) and started on free loopback ports with a fresh SQLite working directory. The
golden traces are read (`spans_to_runs`), written back (`runs_to_spans`, every family)
and sent as OTLP/HTTP protobuf to Phoenix's `/v1/traces`; one of them goes through
`otel-llm serve --forward` instead. Phoenix's REST API then gives each span back as it
stored it, and every span is checked: span kind, model, token counts, retrieved
documents, input and output messages.

Run: `pytest -m interop tests/interop` (skipped otherwise).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otel_llm import Run, runs_to_spans, spans_to_runs
from otel_llm.conventions import gen_ai, openinference
from otel_llm.convert import observation_of
from otel_llm.convert.write import _facts, _output_messages
from otel_llm.otlp import decode_otlp_json, encode_otlp_protobuf

pytestmark = [pytest.mark.interop, pytest.mark.timeout(1800)]

PHOENIX_VERSION = "20.26.1"
ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
CASES = sorted(p.parent for p in GOLDEN.glob("*/*/request.json"))
FORWARDED = GOLDEN / "langsmith" / "traceable_otel"  # sent through otel-llm serve
START_DEADLINE = 240.0  # seconds for Phoenix to answer /healthz (a cold start: ~45 s)
STORE_DEADLINE = 120.0  # seconds for sent spans to show in Phoenix's API


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _phoenix_python() -> Path:
    """The Phoenix environment's interpreter, installing it first when needed."""
    venv = Path(os.environ.get("OTEL_LLM_PHOENIX_VENV", ROOT / ".venv-phoenix"))
    python = venv / "bin" / "python"
    done = venv / f".installed-arize-phoenix-{PHOENIX_VERSION}"
    if done.exists() and python.exists():
        return python
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"arize-phoenix=={PHOENIX_VERSION}"],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    if result.returncode != 0:
        pytest.fail(
            f"pip install arize-phoenix=={PHOENIX_VERSION} failed:\n{result.stderr[-3000:]}"
        )
    done.write_text(f"installed in {time.monotonic() - started:.0f} s\n")
    return python


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def _post(url: str, body: bytes, content_type: str) -> int:
    req = urllib.request.Request(url, data=body, headers={"content-type": content_type})
    with urllib.request.urlopen(req, timeout=30) as r:
        return int(r.status)


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"{url} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {deadline:.0f} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


def _listening_ports_not_on_loopback(ports: set[int]) -> list[str]:
    """Listening TCP sockets on these ports bound to anything but loopback (from /proc)."""
    loopback = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}
    found = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            addr, port_hex = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(port_hex, 16) in ports and addr not in loopback:
                found.append(f"{name}: {fields[1]}")
    return found


class Phoenix:
    def __init__(self, http_port: int) -> None:
        self.url = f"http://127.0.0.1:{http_port}"

    def send(self, runs: list[Run]) -> None:
        body = encode_otlp_protobuf(runs_to_spans(runs))
        assert _post(f"{self.url}/v1/traces", body, "application/x-protobuf") == 200

    def spans(self) -> dict[str, dict[str, Any]]:
        """Every span Phoenix stored, by span id (hex), over all projects."""
        out: dict[str, dict[str, Any]] = {}
        for project in _get(f"{self.url}/v1/projects")["data"]:
            cursor = None
            while True:
                url = f"{self.url}/v1/projects/{project['id']}/spans?limit=1000"
                page = _get(url + (f"&cursor={cursor}" if cursor else ""))
                for span in page["data"]:
                    out[span["context"]["span_id"]] = span
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        return out

    def wait_for(self, span_ids: set[str]) -> dict[str, dict[str, Any]]:
        end = time.monotonic() + STORE_DEADLINE
        while True:
            found = self.spans()
            if span_ids <= found.keys() or time.monotonic() > end:
                return found
            time.sleep(1)


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Phoenix]:
    python = _phoenix_python()
    work = tmp_path_factory.mktemp("phoenix")
    http_port, grpc_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(http_port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_WORKING_DIR": str(work),
        "PHOENIX_SQL_DATABASE_URL": f"sqlite:///{work / 'phoenix.db'}",
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    log = work / "phoenix.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(python), str(Path(__file__).with_name("phoenix_launch.py"))],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=work,
        )
    try:
        _wait_until_up(f"http://127.0.0.1:{http_port}/healthz", proc, log, START_DEADLINE)
        exposed = _listening_ports_not_on_loopback({http_port, grpc_port})
        assert not exposed, f"Phoenix listens beyond loopback: {exposed}"
        yield Phoenix(http_port)
    finally:
        _stop(proc)


def _runs(case: Path) -> list[Run]:
    return spans_to_runs(decode_otlp_json((case / "request.json").read_bytes()))


def _span_id(run: Run) -> str:
    return runs_to_spans([run], ())[0].span_id.hex()


def _count(attrs: dict[str, Any], prefix: str, leaf: str) -> int:
    """How many items of a flattened list (`prefix{i}.leaf`) a span has."""
    n = 0
    while f"{prefix}{n}.{leaf}" in attrs:
        n += 1
    return n


def _problems(run: Run, span: dict[str, Any]) -> list[str]:
    """What Phoenix shows wrong for one run's span (empty when all is right)."""
    a = span["attributes"]
    found = []
    obs = observation_of(run)
    kind = "PROMPT" if run.run_type == "prompt" else openinference.KIND_OF[obs]
    if span["span_kind"] != kind:
        found.append(f"span kind {span['span_kind']}, want {kind}")
    facts = _facts(run)
    if run.run_type in ("llm", "embedding"):
        model = facts.response_model or run.model_name
        key = "llm.model_name" if run.run_type == "llm" else "embedding.model_name"
        if model and a.get(key) != model:
            found.append(f"{key} {a.get(key)!r}, want {model!r}")
        usage = run.usage or {}
        for src, key in (
            ("input_tokens", "llm.token_count.prompt"),
            ("output_tokens", "llm.token_count.completion"),
            ("total_tokens", "llm.token_count.total"),
        ):
            if isinstance(usage.get(src), int) and a.get(key) != usage[src]:
                found.append(f"{key} {a.get(key)!r}, want {usage[src]!r}")
    if run.run_type == "llm":
        ins = gen_ai.to_input_messages(run.inputs) or []
        outs = _output_messages(run.outputs) or []
        for prefix, want in (
            ("llm.input_messages.", len(ins)),
            ("llm.output_messages.", len(outs)),
        ):
            got = _count(a, prefix, "message.role")
            if got != want:
                found.append(f"{prefix}* {got} messages, want {want}")
        first = "llm.output_messages.0.message."
        if outs and not (
            a.get(first + "content")
            or a.get(first + "contents.0.message_content.text")
            or first + "tool_calls.0.tool_call.id" in a
        ):
            found.append("first output message shows no content or tool call")
    if run.run_type == "retriever":
        want = len(facts.retrieval_documents or [])
        got = _count(a, "retrieval.documents.", "document.content")
        if got != want or (run.outputs and want == 0):
            found.append(f"retrieval.documents.* {got} documents, want {want}")
    if "input.value" not in a:
        found.append("no input.value")
    return found


def _check(runs: list[Run], stored: dict[str, dict[str, Any]]) -> list[str]:
    out = []
    for run in runs:
        span = stored.get(_span_id(run))
        if span is None:
            out.append(f"{run.name} ({run.run_type}): not in Phoenix")
            continue
        out.extend(f"{run.name} ({run.run_type}): {p}" for p in _problems(run, span))
    return out


def test_golden_traces_as_phoenix_shows_them(phoenix: Phoenix) -> None:
    cases = [c for c in CASES if c != FORWARDED]
    runs = {c: _runs(c) for c in cases}
    for case in cases:
        phoenix.send(runs[case])
    every = [r for c in cases for r in runs[c]]
    stored = phoenix.wait_for({_span_id(r) for r in every})
    problems = [f"{c.relative_to(GOLDEN)}: {p}" for c in cases for p in _check(runs[c], stored)]
    kinds = {r.run_type for r in every}
    assert {"llm", "chain", "tool", "retriever", "embedding"} <= kinds
    assert problems == []


def test_forwarded_by_otel_llm_serve(phoenix: Phoenix, tmp_path: Path) -> None:
    """The same checks for a trace sent to `otel-llm serve --forward URL`: stored there,
    forwarded from the outbox as OTLP/HTTP protobuf."""
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "otel_llm",
                "serve",
                "--host",
                "127.0.0.1",
                "--http-port",
                str(port),
                "--grpc-port",
                "0",
                "--db",
                str(tmp_path / "o.db"),
                "--forward",
                f"{phoenix.url}/v1/traces",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/info", proc, log, 60)
        body = (FORWARDED / "request.json").read_bytes()
        assert _post(f"http://127.0.0.1:{port}/v1/traces", body, "application/json") == 200
        runs = _runs(FORWARDED)
        stored = phoenix.wait_for({_span_id(r) for r in runs})
        assert _check(runs, stored) == [], log.read_text()[-2000:]
    finally:
        _stop(proc)
