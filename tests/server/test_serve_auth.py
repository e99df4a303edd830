"""With an API key set, every HTTP route and the gRPC service refuse requests without it."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import httpx
import langsmith
import pytest
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_llm.server import OtelLlmServer
from otel_llm.server.auth import ApiKeyCheck
from otel_llm.store.sqlite import SQLiteStore
from tests.server.helpers import JSON, PROTOBUF, grpc_export, json_body, protobuf_body, trace_spans

KEY = "s3cret-key"

ROUTES = [
    ("POST", "/v1/traces"),
    ("POST", "/otel/v1/traces"),
    ("GET", "/info"),
    ("GET", "/sessions"),
    ("GET", "/sessions/00000000-0000-0000-0000-000000000001"),
    ("POST", "/runs/query"),
    ("GET", "/runs/00000000-0000-0000-0000-000000000001"),
    ("GET", "/openapi.json"),
    ("GET", "/no/such/route"),
]


@pytest.fixture
def locked(make_server: Callable[..., OtelLlmServer]) -> OtelLlmServer:
    return make_server(api_key=KEY)


BAD_HEADERS = [
    {},
    {"x-api-key": "wrong"},
    {"authorization": "Bearer wrong"},
    {"authorization": KEY},
]


def test_every_route_is_401_without_the_key(locked: OtelLlmServer) -> None:
    for method, path in ROUTES:
        for headers in BAD_HEADERS:
            response = httpx.request(
                method, locked.http_url + path, headers={**JSON, **headers}, content=b"{}"
            )
            assert response.status_code == 401, (method, path, headers)
            assert "API key" in response.text


def test_otlp_refusal_is_a_status_in_the_requests_encoding(locked: OtelLlmServer) -> None:
    response = httpx.post(locked.http_url + "/v1/traces", headers=PROTOBUF, content=b"")
    assert response.status_code == 401
    status = status_pb2.Status()
    status.ParseFromString(response.content)
    assert status.code == grpc.StatusCode.UNAUTHENTICATED.value[0]
    assert "x-api-key" in status.message


@pytest.mark.parametrize(
    "headers",
    [{"x-api-key": KEY}, {"Authorization": f"Bearer {KEY}"}, {"authorization": f"bearer {KEY}"}],
)
def test_the_key_lets_requests_in(
    locked: OtelLlmServer, store: SQLiteStore, headers: dict[str, str]
) -> None:
    spans = trace_spans(1)
    response = httpx.post(
        locked.http_url + "/v1/traces", headers={**JSON, **headers}, content=json_body(spans)
    )
    assert response.status_code == 200
    assert httpx.get(locked.http_url + "/sessions", headers=headers).status_code == 200


def test_langsmith_client_with_the_key(locked: OtelLlmServer) -> None:
    httpx.post(
        locked.http_url + "/v1/traces",
        headers={**PROTOBUF, "x-api-key": KEY},
        content=protobuf_body(trace_spans(2)),
    )
    client = langsmith.Client(api_url=locked.http_url, api_key=KEY, auto_batch_tracing=False)
    assert [p.name for p in client.list_projects()] == ["test-app"]
    client.close()


def test_grpc_is_unauthenticated_without_the_key(locked: OtelLlmServer, store: SQLiteStore) -> None:
    assert locked.grpc_address is not None
    body = protobuf_body(trace_spans(3))
    for metadata in ([], [("x-api-key", "wrong")], [("authorization", "Bearer wrong")]):
        with pytest.raises(grpc.RpcError) as info:
            grpc_export(locked.grpc_address, body, metadata=metadata)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
    assert store.list_projects() == []
    grpc_export(locked.grpc_address, body, metadata=[("x-api-key", KEY)])
    grpc_export(locked.grpc_address, body, metadata=[("authorization", f"Bearer {KEY}")])
    assert store.list_projects()[0]["run_count"] == 4


def test_real_exporter_with_headers(locked: OtelLlmServer, store: SQLiteStore) -> None:
    provider = TracerProvider()
    provider.add_span_processor(
        SimpleSpanProcessor(
            GrpcExporter(endpoint=locked.grpc_address, insecure=True, headers={"x-api-key": KEY})
        )
    )
    with provider.get_tracer("t").start_as_current_span("hello"):
        pass
    provider.shutdown()
    assert store.list_projects()[0]["run_count"] == 1


def test_check_without_a_key_allows_everything() -> None:
    assert ApiKeyCheck(None).allows(lambda name: None)
    check = ApiKeyCheck("k")
    assert not check.allows(lambda name: None)
    assert check.allows({"x-api-key": "k"}.get)
    assert check.allows({"x-api-key": "wrong", "authorization": "Bearer k"}.get)
    assert not check.allows({"authorization": "Basic k"}.get)
