"""OTLP/gRPC: raw requests for every outcome; the real SDK exporters for the happy path."""

from __future__ import annotations

import gzip
from collections.abc import Callable

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from otel_llm.ids import run_id_from_span_id
from otel_llm.server import OtelLlmServer
from otel_llm.store.sqlite import SQLiteStore
from tests.server.helpers import grpc_export, protobuf_body, run_ids, trace_spans


def test_raw_export_is_stored_before_the_ok(server: OtelLlmServer, store: SQLiteStore) -> None:
    assert server.grpc_address is not None
    spans = trace_spans(1)
    response = grpc_export(server.grpc_address, protobuf_body(spans))
    assert not response.HasField("partial_success")
    assert all(store.get_run(i) is not None for i in run_ids(spans))


def test_gzip_compressed_call(server: OtelLlmServer, store: SQLiteStore) -> None:
    assert server.grpc_address is not None
    spans = trace_spans(2)
    grpc_export(server.grpc_address, protobuf_body(spans), compression=grpc.Compression.Gzip)
    assert all(store.get_run(i) is not None for i in run_ids(spans))


def test_project_from_metadata(server: OtelLlmServer, store: SQLiteStore) -> None:
    assert server.grpc_address is not None
    spans = trace_spans(3, children=1, resource={"service.name": "svc"})
    grpc_export(
        server.grpc_address, protobuf_body(spans), metadata=[("langsmith-project", "grpc-proj")]
    )
    (project,) = store.list_projects(name="grpc-proj")
    assert project["run_count"] == 2


def test_partial_success(server: OtelLlmServer, store: SQLiteStore) -> None:
    assert server.grpc_address is not None
    good = trace_spans(4, children=1)
    bad = trace_spans(5, children=1)[:1]
    bad[0].trace_id = bytes(16)
    response = grpc_export(server.grpc_address, protobuf_body(good + bad))
    assert response.partial_success.rejected_spans == 1
    assert "trace id is all zeros" in response.partial_success.error_message
    assert all(store.get_run(i) is not None for i in run_ids(good))


def rpc_error(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def details_of(error: grpc.RpcError) -> status_pb2.Status:
    trailers = dict(error.trailing_metadata())  # type: ignore[attr-defined]
    status = status_pb2.Status()
    status.ParseFromString(trailers["grpc-status-details-bin"])
    return status


def test_malformed_request_is_invalid_argument(server: OtelLlmServer) -> None:
    assert server.grpc_address is not None
    address = server.grpc_address
    error = rpc_error(lambda: grpc_export(address, b"\xff\xff\xff garbage"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert "not a valid OTLP protobuf" in error.details()  # type: ignore[attr-defined]
    status = details_of(error)
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    # ... and the server keeps serving.
    spans = trace_spans(6, children=1)
    grpc_export(address, protobuf_body(spans))


def test_message_over_the_limit_is_resource_exhausted(
    make_server: Callable[..., OtelLlmServer],
) -> None:
    server = make_server(max_body_bytes=64 * 1024, http_port=0)
    assert server.grpc_address is not None
    address = server.grpc_address
    big = protobuf_body(trace_spans(7, children=400))
    error = rpc_error(lambda: grpc_export(address, big))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    # Compressed, small on the wire but over the limit once inflated.
    bomb = protobuf_body(trace_spans(8, children=1))
    bomb += b"\x0a" + b"\x80\x80\x10" + bytes(256 * 1024)  # a 256 KiB field of zeros
    assert len(gzip.compress(bomb)) < 64 * 1024
    error = rpc_error(lambda: grpc_export(address, bomb, compression=grpc.Compression.Gzip))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]


def _provider(exporter: SpanExporter, service: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _emit(provider: TracerProvider, traces: int) -> set[str]:
    """Emit `traces` agent traces with two chat spans each; the run ids they become."""
    tracer = provider.get_tracer("test")
    ids: set[str] = set()
    for t in range(traces):
        with tracer.start_as_current_span(
            "agent", attributes={"gen_ai.operation.name": "invoke_agent"}
        ) as root:
            ids.add(str(run_id_from_span_id(root.get_span_context().span_id.to_bytes(8, "big"))))
            for _ in range(2):
                with tracer.start_as_current_span(
                    "chat gpt-4o-mini",
                    attributes={
                        "gen_ai.operation.name": "chat",
                        "gen_ai.request.model": "gpt-4o-mini",
                        "gen_ai.usage.input_tokens": 10 + t,
                        "gen_ai.usage.output_tokens": 5,
                    },
                ) as child:
                    span_id = child.get_span_context().span_id.to_bytes(8, "big")
                    ids.add(str(run_id_from_span_id(span_id)))
    assert provider.force_flush(30_000)
    provider.shutdown()
    return ids


def test_real_grpc_exporter(server: OtelLlmServer, store: SQLiteStore) -> None:
    exporter = GrpcExporter(
        endpoint=server.grpc_address, insecure=True, compression=grpc.Compression.Gzip
    )
    ids = _emit(_provider(exporter, "grpc-app"), traces=20)
    assert all(store.get_run(i) is not None for i in ids)
    (project,) = store.list_projects(name="grpc-app")
    assert project["run_count"] == 60 and project["trace_count"] == 20


@pytest.mark.parametrize("compression", [HttpCompression.NoCompression, HttpCompression.Gzip])
def test_real_http_protobuf_exporter(
    server: OtelLlmServer, store: SQLiteStore, compression: HttpCompression
) -> None:
    exporter = HttpExporter(endpoint=server.http_url + "/v1/traces", compression=compression)
    ids = _emit(_provider(exporter, f"http-app-{compression.value}"), traces=20)
    assert all(store.get_run(i) is not None for i in ids)
    (project,) = store.list_projects(name=f"http-app-{compression.value}")
    assert project["run_count"] == 60
