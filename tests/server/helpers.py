"""Spans, requests and a real `otel-llm serve` subprocess for the server tests."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otel_llm.ids import run_id_from_span_id
from otel_llm.model import SpanKind, SpanRecord, StatusCode
from otel_llm.otlp import encode_otlp_json, encode_otlp_protobuf

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
PROTOBUF = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}
BASE_NS = 1_760_000_000_000_000_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def trace_spans(
    seed: int,
    *,
    children: int = 3,
    service: str = "test-app",
    resource: dict[str, Any] | None = None,
    start_ns: int = BASE_NS,
    error_child: bool = False,
) -> list[SpanRecord]:
    """One trace: an agent root with `children` chat generations below it (children
    first, as exporters send them)."""
    trace_id = seed.to_bytes(4, "big") + bytes(11) + b"\x01"
    root_id = (seed * 1000 + 1).to_bytes(8, "big")
    res = resource if resource is not None else {"service.name": service}
    spans = []
    for i in range(children):
        begin = start_ns + (i + 1) * 10_000_000
        spans.append(
            SpanRecord(
                trace_id=trace_id,
                span_id=(seed * 1000 + 2 + i).to_bytes(8, "big"),
                parent_span_id=root_id,
                name="chat gpt-4o-mini",
                kind=SpanKind.CLIENT,
                start_time_unix_nano=begin,
                end_time_unix_nano=begin + 5_000_000,
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": 100,
                    "gen_ai.usage.output_tokens": 20,
                    "test.seed": seed,
                },
                status_code=StatusCode.ERROR if error_child and i == 0 else StatusCode.UNSET,
                status_message="boom" if error_child and i == 0 else "",
                resource=res,
            )
        )
    spans.append(
        SpanRecord(
            trace_id=trace_id,
            span_id=root_id,
            name="support agent",
            kind=SpanKind.INTERNAL,
            start_time_unix_nano=start_ns,
            end_time_unix_nano=start_ns + (children + 2) * 10_000_000,
            attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support"},
            resource=res,
        )
    )
    return spans


def run_ids(spans: Sequence[SpanRecord]) -> set[str]:
    return {str(run_id_from_span_id(s.span_id)) for s in spans}


def protobuf_body(spans: Sequence[SpanRecord]) -> bytes:
    return encode_otlp_protobuf(spans)


def json_body(spans: Sequence[SpanRecord]) -> bytes:
    return encode_otlp_json(spans)


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1)


def grpc_export(
    address: str,
    data: bytes,
    metadata: Sequence[tuple[str, str]] = (),
    compression: grpc.Compression | None = None,
) -> ExportTraceServiceResponse:
    """One raw TraceService/Export call with the given request bytes."""
    with grpc.insecure_channel(
        address, options=[("grpc.max_send_message_length", 256 * 1024 * 1024)]
    ) as channel:
        call = channel.unary_unary(
            EXPORT_METHOD,
            request_serializer=None,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )
        response: ExportTraceServiceResponse = call(
            data, metadata=list(metadata), timeout=30, compression=compression
        )
        return response


class ServeProcess:
    """`python -m otel_llm serve` in a subprocess, on free loopback ports."""

    def __init__(self, db: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.db = db
        self.http_port = free_port()
        self.grpc_port = free_port()
        command = [
            sys.executable,
            "-m",
            "otel_llm",
            "serve",
            "--db",
            str(db),
            "--http-port",
            str(self.http_port),
            "--grpc-port",
            str(self.grpc_port),
            "--log-level",
            "warning",
            *args,
        ]
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.banner = self._read_banner()
        # The server logs a line per refused request (the access log): read stderr all
        # along, or a test that sends many bad requests fills the pipe and blocks it.
        self._stderr: list[str] = []
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def _read_banner(self) -> list[str]:
        assert self.proc.stdout is not None
        lines: list[str] = []
        for line in self.proc.stdout:
            lines.append(line.rstrip("\n"))
            if "read API" in line:
                return lines
        _, err = self.proc.communicate(timeout=30)
        raise RuntimeError(f"otel-llm serve did not start: {lines} {err}")

    def signal(self, signum: signal.Signals) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 60) -> tuple[int, str, str]:
        """Wait for the exit; (exit code, the rest of stdout, all of stderr)."""
        self.proc.wait(timeout=timeout)
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        self._drain.join(timeout=timeout)
        self._close_pipes()
        return self.proc.returncode, out, "".join(self._stderr)

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
            self._drain.join(timeout=30)
            self._close_pipes()


def wait_until(predicate: Any, timeout: float = 30.0, interval: float = 0.05) -> None:
    """Poll until `predicate()` is true (a guard against hangs, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def iter_chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


READ_START = 1_760_000_000_000_000_000  # the read-API tests' traces start here


def load_read_data(server: Any) -> None:
    """What the read-API tests read: `alpha` with 3 traces of an agent and 3 generations
    (120 tokens each), trace 2 with a failed generation; `beta` with one generation."""
    import httpx

    spans = []
    for seed in range(3):
        spans += trace_spans(
            seed, service="alpha", start_ns=READ_START + seed * 10**9, error_child=seed == 2
        )
    spans += trace_spans(9, service="beta", children=1)
    response = httpx.post(
        server.http_url + "/v1/traces", content=protobuf_body(spans), headers=PROTOBUF
    )
    assert response.status_code == 200


def root_id(seed: int) -> str:
    """The root run id of `trace_spans(seed)`."""
    (rid,) = run_ids(trace_spans(seed)[-1:])
    return rid
