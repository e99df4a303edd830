"""Backpressure: a full write queue answers 503 + Retry-After / UNAVAILABLE + RetryInfo.

The writer is held by the test-only `before_commit` hook (it blocks on an event), so the
queue is full for as long as the test wants, without any timing guesswork.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2

from otel_llm.server import OtelLlmServer
from otel_llm.store.sqlite import SQLiteStore
from tests.server.helpers import (
    JSON,
    PROTOBUF,
    grpc_export,
    json_body,
    protobuf_body,
    run_ids,
    trace_spans,
    wait_until,
)


class Gate:
    """The before_commit hook: holds the writer until opened."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(self) -> None:
        self.entered.set()
        assert self.opened.wait(60), "the test never opened the gate"


@pytest.fixture
def gate() -> Iterator[Gate]:
    g = Gate()
    yield g
    g.opened.set()  # never leave the writer blocked


def held_server(
    make_server: Callable[..., OtelLlmServer], gate: Gate, **settings: object
) -> tuple[OtelLlmServer, Future[httpx.Response]]:
    """A server whose queue holds one request, stuck in the writer."""
    server = make_server(before_commit=gate, **settings)
    pool = ThreadPoolExecutor(1)
    first = pool.submit(
        httpx.post,
        server.http_url + "/v1/traces",
        content=protobuf_body(trace_spans(1)),
        headers=PROTOBUF,
        timeout=60,
    )
    pool.shutdown(wait=False)
    assert gate.entered.wait(30)
    return server, first


def test_http_503_with_retry_after_then_ok(
    make_server: Callable[..., OtelLlmServer], gate: Gate, store: SQLiteStore
) -> None:
    server, first = held_server(make_server, gate, queue_size=1)
    spans = trace_spans(2)
    refused = httpx.post(
        server.http_url + "/v1/traces", content=protobuf_body(spans), headers=PROTOBUF
    )
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    status = status_pb2.Status()
    status.ParseFromString(refused.content)
    assert status.code == grpc.StatusCode.UNAVAILABLE.value[0]
    assert "busy" in status.message
    retry = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry)
    assert retry.retry_delay.seconds == 1

    refused_json = httpx.post(
        server.http_url + "/v1/traces", content=json_body(spans), headers=JSON
    )
    assert refused_json.status_code == 503
    assert refused_json.json()["details"][0] == {
        "@type": "type.googleapis.com/google.rpc.RetryInfo",
        "retryDelay": "1s",
    }
    assert not first.done()  # not acknowledged before its commit

    gate.opened.set()
    assert first.result(timeout=30).status_code == 200
    assert all(store.get_run(i) is not None for i in run_ids(trace_spans(1)))
    assert all(store.get_run(i) is None for i in run_ids(spans))  # refused means not stored
    # The client retries, and now it fits.
    retried = httpx.post(
        server.http_url + "/v1/traces", content=protobuf_body(spans), headers=PROTOBUF
    )
    assert retried.status_code == 200
    assert all(store.get_run(i) is not None for i in run_ids(spans))


def test_grpc_unavailable_with_retry_info(
    make_server: Callable[..., OtelLlmServer], gate: Gate, store: SQLiteStore
) -> None:
    server, first = held_server(make_server, gate, queue_size=1)
    assert server.grpc_address is not None
    with pytest.raises(grpc.RpcError) as info:
        grpc_export(server.grpc_address, protobuf_body(trace_spans(3)))
    error = info.value
    assert error.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    trailers = dict(error.trailing_metadata())  # type: ignore[attr-defined]
    status = status_pb2.Status()
    status.ParseFromString(trailers["grpc-status-details-bin"])
    retry = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry) and retry.retry_delay.seconds == 1
    # Where the OTel Python exporter looks for it:
    exporter_view = error_details_pb2.RetryInfo()
    exporter_view.ParseFromString(trailers["google.rpc.retryinfo-bin"])
    assert exporter_view.retry_delay.seconds == 1
    gate.opened.set()
    assert first.result(timeout=30).status_code == 200


def test_bytes_in_flight_bound_admission(
    make_server: Callable[..., OtelLlmServer], gate: Gate
) -> None:
    # Plenty of queue slots, but the first request alone uses the byte budget.
    server, first = held_server(make_server, gate, queue_size=100, max_inflight_bytes=100)
    refused = httpx.post(
        server.http_url + "/v1/traces", content=protobuf_body(trace_spans(4)), headers=PROTOBUF
    )
    assert refused.status_code == 503
    assert server.pipeline is not None and server.pipeline.admitted == 1
    gate.opened.set()
    assert first.result(timeout=30).status_code == 200
    wait_until(lambda: server.pipeline is not None and server.pipeline.admitted == 0)


def test_requests_queued_together_commit_together(
    make_server: Callable[..., OtelLlmServer], gate: Gate, store: SQLiteStore
) -> None:
    server, first = held_server(make_server, gate, queue_size=16)
    pool = ThreadPoolExecutor(8)
    bodies = [protobuf_body(trace_spans(seed)) for seed in range(10, 18)]
    pending = [
        pool.submit(
            httpx.post, server.http_url + "/v1/traces", content=b, headers=PROTOBUF, timeout=60
        )
        for b in bodies
    ]
    wait_until(lambda: server.pipeline is not None and server.pipeline.admitted == 9)
    commits_before = server.writer.commits
    gate.opened.set()
    assert all(p.result(timeout=30).status_code == 200 for p in pending)
    assert first.result(timeout=30).status_code == 200
    # 9 requests of one project, in at most 2 group commits (the held one, then the rest).
    assert server.writer.commits - commits_before <= 2
    pool.shutdown()


def test_a_failing_store_is_503_and_retryable(
    make_server: Callable[..., OtelLlmServer], store: SQLiteStore
) -> None:
    server = make_server()
    store.close()  # every commit fails from now on
    response = httpx.post(
        server.http_url + "/v1/traces", content=protobuf_body(trace_spans(5)), headers=PROTOBUF
    )
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    status = status_pb2.Status()
    status.ParseFromString(response.content)
    assert "could not store the spans" in status.message
