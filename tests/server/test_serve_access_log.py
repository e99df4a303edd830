"""The server says what it is doing: one access line per request (HTTP and gRPC), refusals
always with the reason the client was given, and start-up errors in one line."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest

from otel_llm.server import OtelLlmServer
from tests.server.helpers import (
    JSON,
    PROTOBUF,
    ServeProcess,
    grpc_export,
    json_body,
    protobuf_body,
    trace_spans,
)

ACCESS = "otel_llm.access"


def access_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == ACCESS]


def test_every_request_gets_one_line(
    server: OtelLlmServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS)
    spans = trace_spans(1, children=2)
    assert (
        httpx.post(
            server.http_url + "/v1/traces", content=protobuf_body(spans), headers=PROTOBUF
        ).status_code
        == 200
    )
    refused = httpx.post(server.http_url + "/v1/traces", content=b"{nope", headers=JSON)
    assert refused.status_code == 400
    assert httpx.post(server.http_url + "/runs/query", json={}).status_code == 200
    assert httpx.post(server.http_url + "/runs/query", json={"filter": "eq("}).status_code == 400
    assert server.grpc_address is not None
    grpc_export(server.grpc_address, protobuf_body(trace_spans(2, children=1)))

    lines = access_lines(caplog)
    assert len(lines) == 5, lines
    (level, ok), (bad_level, bad), (_, query), (query_level, bad_query), (_, rpc) = lines
    assert level == "INFO"
    assert ok.startswith("POST /v1/traces 200 (3 spans accepted, ")
    assert " ms) from 127.0.0.1:" in ok
    assert bad_level == "WARNING"
    assert bad.startswith("POST /v1/traces 400 (0 spans accepted, ")
    assert bad.endswith(": " + refused.json()["message"])  # the reason the client was given
    assert query.startswith("POST /runs/query 200 (3 runs, ")
    assert query_level == "WARNING" and "bad filter at column 4" in bad_query
    assert rpc.startswith("gRPC Export OK (2 spans accepted, ") and "from ipv4:127.0.0.1:" in rpc


def test_partial_success_and_refusals_say_why(
    make_server: Callable[..., OtelLlmServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server(api_key="sesame")
    caplog.set_level(logging.INFO, logger=ACCESS)
    denied = httpx.post(server.http_url + "/runs/query", json={})
    assert denied.status_code == 401
    spans = trace_spans(3, children=1)
    spans[0].trace_id = bytes(16)  # invalid: rejected in partial_success
    partial = httpx.post(
        server.http_url + "/v1/traces",
        content=json_body(spans),
        headers={**JSON, "x-api-key": "sesame"},
    )
    assert partial.status_code == 200 and partial.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert server.grpc_address is not None
    with pytest.raises(grpc.RpcError):
        grpc_export(server.grpc_address, protobuf_body(spans))

    (level, refused), (partial_level, partial_line), (rpc_level, rpc) = access_lines(caplog)
    assert level == "WARNING" and refused.startswith("POST /runs/query 401 (")
    assert refused.endswith(denied.json()["detail"])
    assert partial_level == "WARNING"
    assert "(1 spans accepted, 1 rejected, " in partial_line
    assert partial_line.endswith(partial.json()["partialSuccess"]["errorMessage"])
    assert rpc_level == "WARNING" and rpc.startswith("gRPC Export UNAUTHENTICATED (0 spans")


@pytest.mark.parametrize("flag", ["--access-log", "--no-access-log"])
def test_the_switch_hides_successes_never_refusals(tmp_path: Path, flag: str) -> None:
    served = ServeProcess(tmp_path / "runs.db", "--workers", "0", "--log-level", "info", flag)
    try:
        ok = httpx.post(
            served.http_url + "/v1/traces",
            content=protobuf_body(trace_spans(1, children=1)),
            headers=PROTOBUF,
        )
        bad = httpx.post(served.http_url + "/v1/traces", content=b"{junk", headers=JSON)
        assert (ok.status_code, bad.status_code) == (200, 400)
    finally:
        served.signal(signal.SIGTERM)
        code, _, err = served.wait()
    assert code == 0
    successes = [line for line in err.splitlines() if "POST /v1/traces 200" in line]
    refusals = [line for line in err.splitlines() if "POST /v1/traces 400" in line]
    assert len(successes) == (1 if flag == "--access-log" else 0), err
    assert len(refusals) == 1 and bad.json()["message"] in refusals[0], err
    assert " INFO otel_llm.access: " in successes[0] if successes else True
    # uvicorn's own access log stays off: no second line per request.
    assert '"POST /v1/traces HTTP/1.1"' not in err


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otel_llm", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_db_in_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    done = serve("--db", str(missing / "runs.db"), "--workers", "0")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"Error: cannot create the database {missing / 'runs.db'}: directory {missing} does "
        f"not exist; create it (mkdir -p {missing}) or give --db a path in an existing "
        "directory"
    ]
    assert not missing.exists()
    done = serve("--db", str(tmp_path), "--workers", "0")
    assert done.returncode == 2 and "is a directory" in done.stderr
    assert "Traceback" not in done.stderr
