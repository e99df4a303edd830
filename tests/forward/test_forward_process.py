"""`otel-llm serve --forward` as a real process: SIGKILLed while forwarding, everything
acknowledged still reaches the destination after a restart."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from otel_llm.server import OtelLlmServer, ServerSettings
from otel_llm.store.sqlite import SQLiteStore
from tests.forward.helpers import run_count, stored_ids
from tests.server.helpers import (
    PROTOBUF,
    ServeProcess,
    protobuf_body,
    run_ids,
    trace_spans,
    wait_until,
)


def test_killed_while_forwarding_delivers_everything_after_restart(tmp_path: Path) -> None:
    slow = threading.Event()

    def slow_commit() -> None:  # the destination takes its time: batches stay in flight
        if slow.is_set():
            time.sleep(0.2)

    slow.set()
    receiver_store = SQLiteStore(tmp_path / "r.db")
    receiver = OtelLlmServer(
        receiver_store, ServerSettings(grpc_port=0, http_port=0), before_commit=slow_commit
    )
    receiver.start()
    try:
        forward = ("--forward", f"grpc://{receiver.grpc_address}", "--forward-batch-size", "20")
        source = ServeProcess(tmp_path / "s.db", *forward)
        expected: set[str] = set()
        try:
            for seed in range(1, 41):
                spans = trace_spans(seed)
                response = httpx.post(
                    f"{source.http_url}/v1/traces",
                    content=protobuf_body(spans),
                    headers=PROTOBUF,
                    timeout=30,
                )
                assert response.status_code == 200
                expected |= run_ids(spans)
            wait_until(lambda: run_count(receiver_store) > 0)
        finally:
            source.kill()  # SIGKILL, mid-way through the outbox
        assert run_count(receiver_store) < len(expected)
        slow.clear()
        restarted = ServeProcess(tmp_path / "s.db", *forward)
        try:
            wait_until(lambda: expected <= stored_ids(receiver_store), timeout=120)
            assert run_count(receiver_store) == len(expected)
            wait_until(
                lambda: (
                    httpx.get(f"{restarted.http_url}/status").json()["forward"][0]["outbox_runs"]
                    == 0
                )
            )
        finally:
            restarted.kill()
    finally:
        receiver.stop()
        receiver_store.close()
