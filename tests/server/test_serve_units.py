"""The small parts: settings, durations, decompression caps, media types, shutdown."""

from __future__ import annotations

import gzip
import multiprocessing
import os
import pickle
import signal
import socket
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from google.rpc import status_pb2

from otel_llm.pricing import PriceTable
from otel_llm.server import OtelLlmServer, ServerSettings, parse_duration
from otel_llm.server.body import Media, check_encoding, decompress, media_of
from otel_llm.server.prepare import Prepared, prepare
from otel_llm.server.projects import project_for
from otel_llm.server.status import Failure, RequestError
from otel_llm.store.sqlite import SQLiteRowBuilder, SQLiteStore
from tests.server.helpers import PROTOBUF, protobuf_body, run_ids, trace_spans


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("90s", 90),
        ("15m", 900),
        ("12h", 43_200),
        ("14d", 1_209_600),
        ("2w", 1_209_600),
        ("1.5h", 5400),
        (" 2 m\n", 120),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


# The last: the regex once backtracked quadratically over such a run (minutes).
@pytest.mark.parametrize(
    "text",
    ["", "d", "14 days", "-1d", "0s", pytest.param("1" + " " * 200_000 + "x", id="long-spaces")],
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


def test_settings_list_every_problem() -> None:
    with pytest.raises(ValueError) as info:
        ServerSettings(http_port=70_000, queue_size=0, api_key="")
    message = str(info.value)
    assert "http_port 70000 out of range" in message
    assert "queue_size must be at least 1" in message
    assert "api_key must not be empty" in message


def test_decompress_caps_output() -> None:
    data = b"a" * 10_000
    assert decompress(gzip.compress(data), "gzip", 10_000) == data
    with pytest.raises(RequestError) as info:
        decompress(gzip.compress(data), "gzip", 9_999)
    assert info.value.failure is Failure.TOO_LARGE
    assert decompress(zlib.compress(data), "deflate", 10_000) == data
    assert decompress(data, "", 5) == data  # identity: the wire limit applies elsewhere
    with pytest.raises(RequestError) as bad:
        decompress(b"\x1f\x8b garbage", "gzip", 100)
    assert bad.value.failure is Failure.MALFORMED


def test_media_and_encoding_names() -> None:
    assert media_of("application/x-protobuf") is Media.PROTOBUF
    assert media_of("Application/JSON; charset=utf-8") is Media.JSON
    assert check_encoding(" GZip ") == "gzip"
    assert check_encoding(None) == ""
    for bad in (lambda: media_of("text/html"), lambda: check_encoding("zstd")):
        with pytest.raises(RequestError) as info:
            bad()
        assert info.value.http_status == 415


def test_request_errors_survive_pickling() -> None:
    # They are raised in worker processes and re-raised in the server.
    error = pickle.loads(pickle.dumps(RequestError(Failure.BUSY, "busy", retry_after=3)))
    assert (error.failure, error.message, error.retry_after) == (Failure.BUSY, "busy", 3)


def test_project_for() -> None:
    assert project_for({"service.name": "svc"}, "  hdr ") == "hdr"
    assert project_for({"langsmith.project": "a", "openinference.project.name": "b"}) == "a"
    assert project_for({"openinference.project.name": "b", "service.name": "c"}) == "b"
    assert project_for({"service.name": "c", "langsmith.project": "  "}) == "c"
    assert project_for({"service.name": 5}) == "default"


def test_prepare_groups_by_project_and_explains_rejections() -> None:
    spans = trace_spans(1, service="one") + trace_spans(2, service="two", children=1)
    for span in spans[:4]:
        span.span_id = bytes(8)
    rows = SQLiteRowBuilder(PriceTable.load())
    prepared = prepare(protobuf_body(spans), Media.PROTOBUF, "", None, 1 << 20, rows)
    assert prepared.span_count == 6 and prepared.rejected == 4
    assert [p for p, _ in prepared.batches] == ["two"]
    message = prepared.rejection_message()
    assert message.startswith("rejected 4 of 6 spans: span #0")
    assert message.endswith("; and 1 more")
    assert Prepared().rejection_message() == ""


def test_stop_waits_for_in_flight_requests(
    make_server: Callable[..., OtelLlmServer], store: SQLiteStore
) -> None:
    entered, opened = threading.Event(), threading.Event()

    def hold() -> None:
        entered.set()
        opened.wait(30)

    server = make_server(before_commit=hold)
    spans = trace_spans(5)
    with ThreadPoolExecutor(2) as pool:
        answer = pool.submit(
            httpx.post,
            server.http_url + "/v1/traces",
            content=protobuf_body(spans),
            headers=PROTOBUF,
            timeout=60,
        )
        assert entered.wait(30)
        stopping = pool.submit(server.stop)
        assert not answer.done()
        opened.set()
        assert answer.result(timeout=60).status_code == 200
        stopping.result(timeout=60)
    assert all(store.get_run(i) is not None for i in run_ids(spans))
    with pytest.raises(httpx.TransportError):
        httpx.get(server.http_url + "/info", timeout=5)


@pytest.mark.parametrize(("busy", "name"), [("grpc_port", "gRPC"), ("http_port", "HTTP")])
def test_a_busy_port_fails_start_and_releases_the_other(
    store: SQLiteStore, busy: str, name: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = {"grpc_port": 0, "http_port": 0, busy: port}
        server = OtelLlmServer(store, ServerSettings(**settings))
        with pytest.raises(OSError, match=f"cannot listen for {name} on 127.0.0.1:{port}"):
            server.start()
        server.stop()
    # Nothing is left listening: the HTTP port bound before gRPC failed is free again.
    again = OtelLlmServer(store, ServerSettings(grpc_port=0, http_port=server.http_port or 0))
    again.start()
    again.stop()


def test_a_dead_decode_worker_is_replaced(
    make_server: Callable[..., OtelLlmServer], store: SQLiteStore
) -> None:
    server = make_server(workers=1)
    first = trace_spans(6)
    url = server.http_url + "/v1/traces"
    assert httpx.post(url, content=protobuf_body(first), headers=PROTOBUF).status_code == 200
    (worker,) = multiprocessing.active_children()
    os.kill(worker.pid or 0, signal.SIGKILL)
    worker.join(30)
    spans = trace_spans(7)
    refused = httpx.post(url, content=protobuf_body(spans), headers=PROTOBUF, timeout=60)
    assert refused.status_code == 503  # retryable: the client sends it again
    status = status_pb2.Status()
    status.ParseFromString(refused.content)
    assert "decode worker process died" in status.message
    retried = httpx.post(url, content=protobuf_body(spans), headers=PROTOBUF, timeout=60)
    assert retried.status_code == 200
    assert all(store.get_run(i) is not None for i in run_ids(first + spans))
