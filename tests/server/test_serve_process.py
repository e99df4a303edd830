"""`otel-llm serve` as a real process: banner, --help, kill -9 durability, clean shutdown."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import grpc
import httpx
import pytest
from click.testing import CliRunner

from otel_llm.cli import main
from otel_llm.model import SpanRecord
from otel_llm.store.sqlite import SQLiteStore
from tests.server.helpers import (
    PROTOBUF,
    ServeProcess,
    grpc_export,
    protobuf_body,
    run_ids,
    trace_spans,
    wait_until,
)

FLAGS_AND_ENV = {
    "--host": "OTEL_LLM_HOST",
    "--grpc-port": "OTEL_LLM_GRPC_PORT",
    "--http-port": "OTEL_LLM_HTTP_PORT",
    "--db": "OTEL_LLM_DB",
    "--api-key": "OTEL_LLM_API_KEY",
    "--api-key-file": "OTEL_LLM_API_KEY_FILE",
    "--max-body-bytes": "OTEL_LLM_MAX_BODY_BYTES",
    "--queue-size": "OTEL_LLM_QUEUE_SIZE",
    "--max-inflight-bytes": "OTEL_LLM_MAX_INFLIGHT_BYTES",
    "--workers": "OTEL_LLM_WORKERS",
    "--retention": "OTEL_LLM_RETENTION",
    "--prices": "OTEL_LLM_PRICES",
    "--log-level": "OTEL_LLM_LOG_LEVEL",
    "--fsync": "OTEL_LLM_FSYNC",
    "--access-log": "OTEL_LLM_ACCESS_LOG",
}


def test_help_lists_every_flag_and_env_var() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for flag, env in FLAGS_AND_ENV.items():
        assert flag in result.output and env in result.output, flag
    assert "--project-retention" in result.output
    assert "visible to every user in `ps`" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--retention", "forever"], "bad duration 'forever'"),
        (["--project-retention", "7d"], "use PROJECT=DURATION"),
        (["--queue-size", "0"], "--queue-size"),
    ],
)
def test_bad_flags_say_what_is_wrong(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["serve", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    first = ServeProcess(tmp_path / "a.db", "--workers", "0")
    try:
        result = CliRunner().invoke(
            main,
            [
                "serve",
                "--db",
                str(tmp_path / "b.db"),
                "--http-port",
                str(first.http_port),
                "--grpc-port",
                "0",
                "--workers",
                "0",
            ],
        )
        assert result.exit_code == 1
        assert f"cannot listen for HTTP on 127.0.0.1:{first.http_port}" in result.output
        # The failed start leaves no new, empty database behind.
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("b.db")) == []
    finally:
        first.signal(signal.SIGTERM)
        first.wait()


def test_a_bad_price_file_is_a_clear_error(tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text("{not json")
    args = ["serve", "--db", str(tmp_path / "x.db"), "--prices", str(prices), "--workers", "0"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "is not valid JSON" in result.output


class Load:
    """Client threads sending distinct traces until stopped or the server goes away;
    every acknowledged request's run ids are recorded."""

    def __init__(self, server: ServeProcess, http_threads: int = 3, grpc_threads: int = 1) -> None:
        self.server = server
        self.acked: list[set[str]] = []
        self.failures: list[str] = []
        self.stopped = threading.Event()
        self.signalled = threading.Event()  # the test is stopping or killing the server
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._http, args=(n,)) for n in range(http_threads)
        ] + [threading.Thread(target=self._grpc, args=(100 + n,)) for n in range(grpc_threads)]
        for t in self.threads:
            t.start()

    def _spans(self, worker: int, i: int) -> list[SpanRecord]:
        spans: list[SpanRecord] = []
        for k in range(25):
            spans += trace_spans(worker * 100_000 + i * 100 + k)
        return spans

    def _record(self, spans: list[SpanRecord]) -> None:
        with self.lock:
            self.acked.append(run_ids(spans))

    def _http(self, worker: int) -> None:
        with httpx.Client(timeout=30) as client:
            i = 0
            while not self.stopped.is_set():
                spans = self._spans(worker, i)
                i += 1
                try:
                    r = client.post(
                        self.server.http_url + "/v1/traces",
                        content=protobuf_body(spans),
                        headers=PROTOBUF,
                    )
                except httpx.TransportError:
                    return  # the server is gone
                if r.status_code == 200:
                    self._record(spans)
                elif r.status_code != 503:
                    self.failures.append(f"HTTP {r.status_code}: {r.text[:200]}")

    def _grpc(self, worker: int) -> None:
        i = 0
        while not self.stopped.is_set():
            spans = self._spans(worker, i)
            i += 1
            try:
                grpc_export(self.server.grpc_address, protobuf_body(spans))
            except grpc.RpcError as exc:
                code = exc.code()  # type: ignore[attr-defined]
                # Retryable: busy, or a call that reached a server already shutting
                # down (never acknowledged, so nothing is lost).
                if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                    if self.signalled.is_set() or self.server.proc.poll() is not None:
                        return
                    continue
                self.failures.append(f"gRPC {code}: {exc.details()}")  # type: ignore[attr-defined]
                return
            self._record(spans)

    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)

    def join(self) -> None:
        self.stopped.set()
        for t in self.threads:
            t.join(60)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def assert_all_stored(db: Path, acked: list[set[str]]) -> None:
    store = SQLiteStore(db)
    try:
        missing = [i for ids in acked for i in ids if store.get_run(i) is None]
    finally:
        store.close()
    assert missing == [], f"{len(missing)} acknowledged runs are missing"


def test_sigkill_mid_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path / "runs.db", "--workers", "1")
    load = Load(server)
    try:
        wait_until(lambda: load.acked_count() >= 12, timeout=120)
        workers = _children(server.proc.pid)
        load.signalled.set()
        server.proc.kill()  # SIGKILL, in the middle of the load
        server.proc.wait(30)
    finally:
        load.join()
        server.kill()
    assert load.failures == []
    assert load.acked_count() >= 12
    assert_all_stored(tmp_path / "runs.db", load.acked)
    # The decode worker does not outlive the server.
    wait_until(lambda: not any(_alive(p) for p in workers), timeout=30)


@pytest.mark.parametrize(
    ("signum", "fsync"), [(signal.SIGTERM, "--no-fsync"), (signal.SIGINT, "--fsync")]
)
def test_clean_shutdown_finishes_in_flight_requests(
    tmp_path: Path, signum: signal.Signals, fsync: str
) -> None:
    server = ServeProcess(tmp_path / "runs.db", "--workers", "1", fsync)
    assert any("OTLP/gRPC  127.0.0.1:" in line for line in server.banner)
    assert any(f"http://127.0.0.1:{server.http_port}/v1/traces" in line for line in server.banner)
    load = Load(server)
    try:
        wait_until(lambda: load.acked_count() >= 6, timeout=120)
        load.signalled.set()
        server.signal(signum)
        code, out, err = server.wait(120)
    finally:
        load.join()
        server.kill()
    assert code == 0, err
    assert "shutting down" in out and "stopped" in out
    assert load.failures == []  # in-flight requests were answered, not failed
    assert_all_stored(tmp_path / "runs.db", load.acked)


def test_the_api_key_can_come_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("s3cret-from-file\n")
    server = ServeProcess(tmp_path / "runs.db", "--api-key-file", str(key_file))
    try:
        body = protobuf_body(trace_spans(1))
        url = server.http_url + "/v1/traces"
        assert httpx.post(url, content=body, headers=PROTOBUF).status_code == 401
        with_key = {**PROTOBUF, "x-api-key": "s3cret-from-file"}
        assert httpx.post(url, content=body, headers=with_key).status_code == 200
    finally:
        server.kill()


def test_the_api_key_is_given_once(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("k")
    result = CliRunner().invoke(
        main,
        [
            "serve",
            "--api-key",
            "k",
            "--api-key-file",
            str(key_file),
            "--db",
            str(tmp_path / "x.db"),
        ],
    )
    assert result.exit_code == 2
    assert "--api-key or --api-key-file" in result.output
    key_file.write_text("  \n")
    result = CliRunner().invoke(
        main, ["serve", "--api-key-file", str(key_file), "--db", str(tmp_path / "x.db")]
    )
    assert result.exit_code == 2
    assert "is empty" in result.output
