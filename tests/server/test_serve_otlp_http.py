"""OTLP/HTTP: both encodings, compression, projects, partial success and every bad input."""

from __future__ import annotations

import gzip
import zlib

import httpx
import orjson
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otel_llm.model import SpanRecord
from otel_llm.server import OtelLlmServer
from otel_llm.store.sqlite import SQLiteStore
from tests.server.helpers import (
    JSON,
    PROTOBUF,
    gzipped,
    iter_chunks,
    json_body,
    protobuf_body,
    run_ids,
    trace_spans,
)


def post(
    server: OtelLlmServer, path: str, content: bytes, headers: dict[str, str]
) -> httpx.Response:
    return httpx.post(server.http_url + path, content=content, headers=headers, timeout=30)


def stored(store: SQLiteStore, spans: list[SpanRecord]) -> bool:
    return all(store.get_run(run_id) is not None for run_id in run_ids(spans))


def project_of(store: SQLiteStore, span: SpanRecord) -> str:
    (run_id,) = run_ids([span])
    run = store.get_run(run_id)
    assert run is not None
    project = store.get_project(run["session_id"])
    assert project is not None
    name: str = project["name"]
    return name


@pytest.mark.parametrize("path", ["/v1/traces", "/otel/v1/traces"])
def test_protobuf_is_stored_before_the_ok(
    server: OtelLlmServer, store: SQLiteStore, path: str
) -> None:
    spans = trace_spans(1)
    response = post(server, path, protobuf_body(spans), PROTOBUF)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    parsed = ExportTraceServiceResponse.FromString(response.content)
    assert not parsed.HasField("partial_success")
    # No waiting: the OK is only sent after the commit.
    assert stored(store, spans)
    root = store.get_run(str(sorted(run_ids(spans[-1:]))[0]))
    assert root is not None and root["name"] == "support agent"


def test_json_is_stored_and_answered_in_json(server: OtelLlmServer, store: SQLiteStore) -> None:
    spans = trace_spans(2)
    response = post(
        server, "/v1/traces", json_body(spans), {"content-type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    assert stored(store, spans)


def test_unknown_json_fields_are_ignored(server: OtelLlmServer, store: SQLiteStore) -> None:
    spans = trace_spans(3, children=1)
    doc = orjson.loads(json_body(spans))
    doc["somethingNew"] = {"x": 1}
    doc["resourceSpans"][0]["futureField"] = [1, 2]
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["brandNew"] = "yes"
    response = post(server, "/v1/traces", orjson.dumps(doc), JSON)
    assert response.status_code == 200, response.text
    assert stored(store, spans)


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzipped), ("deflate", zlib.compress), ("GZIP", gzip.compress)],
)
def test_compressed_bodies(
    server: OtelLlmServer, store: SQLiteStore, encoding: str, compress: object
) -> None:
    spans = trace_spans(4)
    body = compress(protobuf_body(spans))  # type: ignore[operator]
    response = post(server, "/v1/traces", body, {**PROTOBUF, "content-encoding": encoding})
    assert response.status_code == 200
    assert stored(store, spans)


def test_gzip_with_several_members(server: OtelLlmServer, store: SQLiteStore) -> None:
    spans = trace_spans(5)
    raw = json_body(spans)
    body = gzip.compress(raw[:100]) + gzip.compress(raw[100:])
    response = post(server, "/v1/traces", body, {**JSON, "content-encoding": "gzip"})
    assert response.status_code == 200
    assert stored(store, spans)


def test_chunked_body_without_content_length(server: OtelLlmServer, store: SQLiteStore) -> None:
    spans = trace_spans(6)
    body = protobuf_body(spans)
    response = httpx.post(
        server.http_url + "/v1/traces", content=iter_chunks(body, 100), headers=PROTOBUF
    )
    assert response.status_code == 200
    assert stored(store, spans)


def test_project_precedence(server: OtelLlmServer, store: SQLiteStore) -> None:
    cases = {
        "from-langsmith": {"langsmith.project": "from-langsmith", "service.name": "svc"},
        "from-openinference": {
            "openinference.project.name": "from-openinference",
            "service.name": "svc",
        },
        "svc-only": {"service.name": "svc-only"},
        "default": {},
    }
    # Several resources in one request: each ResourceSpans has its own project.
    spans = [
        s
        for seed, res in enumerate(cases.values(), 10)
        for s in trace_spans(seed, children=1, resource=res)
    ]
    assert post(server, "/v1/traces", protobuf_body(spans), PROTOBUF).status_code == 200
    for seed, expected in enumerate(cases, 10):
        assert project_of(store, trace_spans(seed, children=1)[0]) == expected

    header_spans = trace_spans(20, children=1, resource={"langsmith.project": "ignored"})
    response = post(
        server,
        "/v1/traces",
        protobuf_body(header_spans),
        {**PROTOBUF, "Langsmith-Project": "by-header"},
    )
    assert response.status_code == 200
    assert project_of(store, header_spans[0]) == "by-header"


def test_partial_success_rejects_bad_spans_and_stores_the_rest(
    server: OtelLlmServer, store: SQLiteStore
) -> None:
    good = trace_spans(30)
    bad = trace_spans(31, children=1)
    bad[0].trace_id = bad[0].trace_id[:8]  # 8 bytes: not a valid trace id
    bad[1].span_id = bytes(8)  # all zeros: not a valid span id
    for media, body in ((PROTOBUF, protobuf_body(good + bad)),):
        response = post(server, "/v1/traces", body, media)
        assert response.status_code == 200
        parsed = ExportTraceServiceResponse.FromString(response.content)
        assert parsed.partial_success.rejected_spans == 2
        message = parsed.partial_success.error_message
        assert "rejected 2 of 6 spans" in message
        assert "expected 16" in message and "all zeros" in message
    assert stored(store, good)


def test_partial_success_in_json(server: OtelLlmServer, store: SQLiteStore) -> None:
    good = trace_spans(32, children=1)
    doc = orjson.loads(json_body(good))
    bad_span = dict(doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0])
    bad_span["spanId"] = "00ff"
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"].append(bad_span)
    response = post(server, "/v1/traces", orjson.dumps(doc), JSON)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert "span id '00ff' is 2 bytes" in partial["errorMessage"]
    assert stored(store, good)


def status_of(response: httpx.Response) -> status_pb2.Status:
    status = status_pb2.Status()
    status.ParseFromString(response.content)
    return status


def test_malformed_protobuf_is_400_with_a_status(server: OtelLlmServer) -> None:
    response = post(server, "/v1/traces", b"\xff\xff\xff not protobuf", PROTOBUF)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-protobuf"
    status = status_of(response)
    assert status.code == 3  # INVALID_ARGUMENT
    assert "not a valid OTLP protobuf ExportTraceServiceRequest" in status.message
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert bad.field_violations[0].description == status.message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "not a valid OTLP JSON"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', "traceId"),
        (b'{"resourceSpans": 5}', "resourceSpans"),
    ],
)
def test_malformed_json_is_400_with_a_json_status(
    server: OtelLlmServer, body: bytes, expected: str
) -> None:
    response = post(server, "/v1/traces", body, JSON)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    status = response.json()
    assert status["code"] == 3
    assert expected in status["message"]
    assert status["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"


def test_bad_gzip_is_400(server: OtelLlmServer) -> None:
    response = post(
        server, "/v1/traces", b"definitely not gzip", {**PROTOBUF, "content-encoding": "gzip"}
    )
    assert response.status_code == 400
    assert "not valid gzip data" in status_of(response).message


def test_truncated_gzip_is_400(server: OtelLlmServer) -> None:
    body = gzipped(protobuf_body(trace_spans(40)))[:-20]
    response = post(server, "/v1/traces", body, {**PROTOBUF, "content-encoding": "gzip"})
    assert response.status_code == 400
    assert "truncated gzip" in status_of(response).message


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
def test_wrong_content_type_is_415(server: OtelLlmServer, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = httpx.post(server.http_url + "/v1/traces", content=b"x", headers=headers)
    assert response.status_code == 415
    assert "application/x-protobuf or application/json" in response.json()["message"]


def test_unknown_content_encoding_is_415(server: OtelLlmServer) -> None:
    response = post(server, "/v1/traces", b"x", {**PROTOBUF, "content-encoding": "br"})
    assert response.status_code == 415
    assert "Content-Encoding 'br'" in status_of(response).message


def test_body_over_the_limit_is_413(make_server: object, store: SQLiteStore) -> None:
    server = make_server(max_body_bytes=64 * 1024)  # type: ignore[operator]
    body = protobuf_body(trace_spans(41, children=400))
    assert len(body) > 64 * 1024
    response = post(server, "/v1/traces", body, PROTOBUF)
    assert response.status_code == 413
    assert "larger than 65536 bytes" in status_of(response).message
    # Chunked (no Content-Length): cut off while reading.
    response = httpx.post(
        server.http_url + "/v1/traces", content=iter_chunks(body, 8192), headers=PROTOBUF
    )
    assert response.status_code == 413
    assert store.get_run(sorted(run_ids(trace_spans(41, children=400)))[0]) is None


def test_gzip_bomb_is_413_after_decompression(make_server: object) -> None:
    server = make_server(max_body_bytes=1024 * 1024)  # type: ignore[operator]
    bomb = gzip.compress(b"\x00" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100 * 1024  # small on the wire
    response = post(server, "/v1/traces", bomb, {**PROTOBUF, "content-encoding": "gzip"})
    assert response.status_code == 413
    assert "after gzip decompression" in status_of(response).message
    json_response = post(server, "/v1/traces", bomb, {**JSON, "content-encoding": "gzip"})
    assert json_response.status_code == 413
    assert json_response.json()["code"] == 8  # RESOURCE_EXHAUSTED


def test_the_server_keeps_serving_after_bad_requests(
    server: OtelLlmServer, store: SQLiteStore
) -> None:
    for _ in range(3):
        assert post(server, "/v1/traces", b"\x00garbage", PROTOBUF).status_code == 400
        assert post(server, "/v1/traces", b"x", {"content-type": "text/plain"}).status_code == 415
    spans = trace_spans(50)
    assert post(server, "/v1/traces", protobuf_body(spans), PROTOBUF).status_code == 200
    assert stored(store, spans)


def test_retries_are_idempotent(server: OtelLlmServer, store: SQLiteStore) -> None:
    spans = trace_spans(60)
    for _ in range(3):
        assert post(server, "/v1/traces", protobuf_body(spans), PROTOBUF).status_code == 200
    (project,) = [p for p in store.list_projects() if p["name"] == "test-app"]
    assert project["run_count"] == len(spans)  # counted once
    assert project["trace_count"] == 1


def test_children_before_parents_across_requests(server: OtelLlmServer, store: SQLiteStore) -> None:
    spans = trace_spans(70)
    children, root = spans[:-1], spans[-1:]
    assert post(server, "/v1/traces", protobuf_body(children), PROTOBUF).status_code == 200
    orphan = store.get_run(sorted(run_ids(children))[0])
    assert orphan is not None  # stored on arrival, before its parent
    assert post(server, "/v1/traces", protobuf_body(root), PROTOBUF).status_code == 200
    (root_id,) = run_ids(root)
    tree = store.trace_runs(root_id)
    assert {r["id"] for r in tree} == run_ids(spans)
    assert all(r["trace_id"] == root_id for r in tree)


def test_empty_request_is_ok(server: OtelLlmServer) -> None:
    response = post(server, "/v1/traces", b"", PROTOBUF)
    assert response.status_code == 200
    assert post(server, "/v1/traces", b"{}", JSON).json() == {}


def test_get_on_the_traces_path_is_405(server: OtelLlmServer) -> None:
    assert httpx.get(server.http_url + "/v1/traces").status_code == 405
