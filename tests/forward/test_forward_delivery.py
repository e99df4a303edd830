"""Forwarding between real servers: a source `otel-llm serve` (in-process, free ports)
forwards to a second one over OTLP/gRPC and OTLP/HTTP, and to a LangSmith-compatible
endpoint that records what the real LangSmithRunSink sends; faults: a destination down
for a while, the outbox bound reached (spilled, then replayed)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner

from otel_llm.cli import main
from otel_llm.model import SpanRecord
from otel_llm.server import OtelLlmServer, ServerSettings
from otel_llm.store.sqlite import SQLiteStore
from tests.forward.helpers import RunIngestRecorder, run_count, stored_ids, trace_run_counts
from tests.server.helpers import (
    PROTOBUF,
    free_port,
    protobuf_body,
    run_ids,
    trace_spans,
    wait_until,
)


@contextmanager
def serving(path: Path, **settings: Any) -> Iterator[OtelLlmServer]:
    """A server on free loopback ports over its own store file."""
    settings.setdefault("grpc_port", 0)
    settings.setdefault("http_port", 0)
    store = SQLiteStore(path)
    try:
        with OtelLlmServer(store, ServerSettings(**settings)) as server:
            yield server
    finally:
        store.close()


def send(server: OtelLlmServer, spans: list[SpanRecord]) -> None:
    response = httpx.post(
        f"{server.http_url}/v1/traces", content=protobuf_body(spans), headers=PROTOBUF, timeout=30
    )
    assert response.status_code == 200, response.text


def status(server: OtelLlmServer) -> dict[str, dict[str, Any]]:
    body = httpx.get(f"{server.http_url}/status", timeout=10).json()
    return {d["destination"]: d for d in body["forward"]}


def test_forwards_to_a_second_server_over_grpc_and_http(tmp_path: Path) -> None:
    with serving(tmp_path / "grpc.db") as by_grpc, serving(tmp_path / "http.db") as by_http:
        forward = (
            f"grpc://{by_grpc.grpc_address}",
            f"{by_http.http_url}/v1/traces?emit=gen_ai,langsmith",
        )
        with serving(tmp_path / "source.db", forward=forward) as source:
            spans = [s for seed in range(1, 6) for s in trace_spans(seed, error_child=True)]
            send(source, spans)
            expected = run_ids(spans)
            for receiver in (by_grpc, by_http):
                wait_until(lambda r=receiver: expected <= stored_ids(r.store))  # type: ignore[misc]
                for rid in expected:
                    mine, theirs = source.store.get_run(rid), receiver.store.get_run(rid)
                    assert mine is not None and theirs is not None
                    for key in (
                        "name",
                        "run_type",
                        "parent_run_id",
                        "trace_id",
                        "dotted_order",
                        "error",
                        "prompt_tokens",
                        "completion_tokens",
                        "total_tokens",
                        "session_name",
                        "start_time",
                        "end_time",
                    ):
                        assert theirs[key] == mine[key], (key, theirs[key], mine[key])
                assert run_count(receiver.store) == len(expected)
            wait_until(lambda: all(d["outbox_runs"] == 0 for d in status(source).values()))
            figures = status(source)
            assert [d["sent_runs"] for d in figures.values()] == [len(expected)] * 2
            metrics = httpx.get(f"{source.http_url}/metrics").text
            assert f'otel_llm_forward_sent_runs_total{{destination="{forward[0]}"}} 20' in metrics


def test_a_run_that_changes_after_it_was_forwarded_is_forwarded_again(tmp_path: Path) -> None:
    with (
        serving(tmp_path / "r.db") as receiver,
        serving(tmp_path / "s.db", forward=(f"grpc://{receiver.grpc_address}",)) as source,
    ):
        spans = trace_spans(9)
        send(source, spans)
        root = str(next(iter(run_ids(spans[-1:]))))
        wait_until(lambda: receiver.store.get_run(root) is not None)
        renamed = [*spans[:-1], dataclasses.replace(spans[-1], name="renamed agent")]
        send(source, renamed)
        wait_until(lambda: (receiver.store.get_run(root) or {}).get("name") == "renamed agent")
        assert run_count(receiver.store) == len(spans)


def test_forwards_to_a_langsmith_endpoint(tmp_path: Path) -> None:
    recorder = RunIngestRecorder()
    try:
        url = recorder.url.replace("http://", "langsmith+http://") + "?api_key=KEY&project=fwd"
        with serving(tmp_path / "s.db", forward=(url,)) as source:
            spans = [s for seed in (1, 2) for s in trace_spans(seed, error_child=True)]
            send(source, spans)
            expected = run_ids(spans)
            wait_until(lambda: expected <= set(recorder.runs))
            for rid in expected:
                mine, sent = source.store.get_run(rid), recorder.runs[rid]
                assert mine is not None
                for key in (
                    "name",
                    "run_type",
                    "parent_run_id",
                    "trace_id",
                    "dotted_order",
                    "session_name",
                ):
                    assert sent.get(key) == mine[key], key
                assert sent.get("error") == mine["error"]
                if mine["run_type"] == "llm":
                    usage = sent["extra"]["metadata"]["usage_metadata"]
                    assert (usage["input_tokens"], usage["output_tokens"]) == (100, 20)
            assert all(h.get("x-api-key") == "KEY" for h in recorder.headers)
    finally:
        recorder.close()


def test_a_destination_down_for_a_while_gets_everything_once(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/traces"
    with serving(tmp_path / "s.db", forward=(url,)) as source:
        spans = [s for seed in range(1, 6) for s in trace_spans(seed)]
        send(source, spans)
        # Depth is refreshed every second; retries back off from 0.5 s.
        wait_until(
            lambda: (
                status(source)[url]["retries"] >= 2
                and status(source)[url]["outbox_runs"] == len(spans)
            )
        )
        down = status(source)[url]
        assert down["state"] == "retrying" and down["lag_seconds"] > 0
        send(source, trace_spans(6))  # ingest goes on while the destination is down
        with serving(tmp_path / "r.db", http_port=port, grpc_port=None) as receiver:
            expected = run_ids(spans) | run_ids(trace_spans(6))
            wait_until(lambda: expected <= stored_ids(receiver.store), timeout=90)
            wait_until(lambda: status(source)[url]["outbox_runs"] == 0)
            assert run_count(receiver.store) == len(expected)
            assert trace_run_counts(receiver.store) == len(expected)
            assert status(source)[url]["state"] == "ok"


def test_small_batches_rendered_ahead_in_worker_processes_arrive_once(tmp_path: Path) -> None:
    with serving(tmp_path / "r.db", http_port=0) as receiver:
        url = f"grpc://{receiver.grpc_address}"
        with serving(tmp_path / "s.db", forward=(url,), forward_batch_size=3, workers=1) as source:
            spans = [s for seed in range(1, 6) for s in trace_spans(seed)]
            send(source, spans)
            expected = run_ids(spans)
            wait_until(lambda: expected <= stored_ids(receiver.store), timeout=90)
            wait_until(lambda: status(source)[url]["outbox_runs"] == 0)
            sent = status(source)[url]
            # Batches are rendered ahead (up to 3 at a time); none overlapped another.
            assert sent["sent_runs"] == len(expected)
            assert sent["sent_batches"] >= len(expected) // 3
            # The render workers take only CPU time nothing else wants.
            assert source.forwarder is not None
            workers = list(source.forwarder._executor._processes)  # type: ignore[union-attr]
            assert workers
            assert {os.sched_getscheduler(pid) for pid in workers} == {os.SCHED_IDLE}
        assert run_count(receiver.store) == len(expected)


def test_the_outbox_bound_spills_and_replay_sends_them(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1/traces"
    spill = tmp_path / "spill"
    bound = 6000
    with serving(
        tmp_path / "s.db", forward=(dead,), forward_max_bytes=bound, forward_spill_dir=str(spill)
    ) as source:
        spans = [s for seed in range(1, 11) for s in trace_spans(seed)]
        send(source, spans)
        wait_until(
            lambda: (
                status(source)[dead]["spilled_runs"] > 0
                and status(source)[dead]["outbox_bytes"] <= bound
            )
        )
        figures = status(source)[dead]
        assert figures["spilled_runs"] + figures["outbox_runs"] == len(spans)
        metrics = httpx.get(f"{source.http_url}/metrics").text
        assert f'otel_llm_forward_spilled_runs_total{{destination="{dead}"}} ' in metrics
    folders = list(spill.iterdir())
    assert len(folders) == 1 and list(folders[0].glob("runs-*.jsonl"))
    with serving(tmp_path / "r.db") as receiver:
        result = CliRunner().invoke(
            main, ["replay", str(folders[0]), "--to", f"grpc://{receiver.grpc_address}"]
        )
        assert result.exit_code == 0, result.output
        assert f"sent {figures['spilled_runs']} runs" in result.output
        assert run_count(receiver.store) == figures["spilled_runs"]
        assert stored_ids(receiver.store) <= run_ids(spans)
    assert not list(folders[0].glob("runs-*.jsonl"))


def test_a_render_worker_that_dies_is_replaced(tmp_path: Path) -> None:
    """A dead render worker (OOM killer, a native crash) breaks its process pool for
    good: the forwarder starts new workers and delivers what came after."""
    import signal
    import time

    from otel_llm.convert import spans_to_runs
    from otel_llm.forward import parse_destination
    from otel_llm.forward.forwarder import Forwarder, ForwardSettings

    recorder = RunIngestRecorder()
    url = recorder.url.replace("http://", "langsmith+http://") + "?api_key=K&project=p"
    settings = ForwardSettings(spill_dir=tmp_path / "spill", backoff_max=0.5)

    def delivered(ids: set[str]) -> bool:
        deadline = time.monotonic() + 60
        while not ids <= set(recorder.runs) and time.monotonic() < deadline:
            time.sleep(0.05)
        return ids <= set(recorder.runs)

    try:
        with SQLiteStore(tmp_path / "s.db") as store:
            forwarder = Forwarder(store, [parse_destination(url)], settings, worker_process=True)
            forwarder.start()
            try:
                first = spans_to_runs(trace_spans(1))
                store.ingest(first)
                assert delivered({str(r.id) for r in first})
                executor = forwarder._executor
                pids = list(executor._processes)  # type: ignore[union-attr]
                os.kill(pids[0], signal.SIGKILL)
                second = spans_to_runs(trace_spans(2))
                store.ingest(second)
                assert delivered({str(r.id) for r in second})
                assert forwarder._executor is not executor
            finally:
                forwarder.stop()
    finally:
        recorder.close()
