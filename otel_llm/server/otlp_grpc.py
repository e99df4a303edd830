"""OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export` on grpc.aio.

The method is registered with no deserializer: the handler gets the request's bytes and
hands them to the same pipeline as OTLP/HTTP protobuf (decoded in a worker, not here).
gRPC itself enforces the size limit (`grpc.max_receive_message_length`, also after
decompression) and answers RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import time

import grpc
from grpc import aio

from otel_llm.server.access_log import log_grpc
from otel_llm.server.auth import ApiKeyCheck
from otel_llm.server.body import Media
from otel_llm.server.otlp_http import export_response
from otel_llm.server.otlp_logs import logs_grpc_handler
from otel_llm.server.pipeline import IngestPipeline
from otel_llm.server.projects import PROJECT_HEADER
from otel_llm.server.status import RequestError

TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


def build_grpc_server(
    pipeline: IngestPipeline, check: ApiKeyCheck, max_body_bytes: int
) -> aio.Server:
    """A grpc.aio server (not started, no port yet) serving TraceService/Export and
    LogsService/Export.

    Args:
        pipeline: where export requests go.
        check: the API-key check.
        max_body_bytes: largest request message, after decompression.
    """

    async def export(request: bytes, context: aio.ServicerContext[bytes, bytes]) -> bytes:
        started = time.perf_counter()
        metadata = {key: value for key, value in context.invocation_metadata() or ()}
        try:
            check.check(lambda name: _text(metadata.get(name)))
            prepared = await pipeline.ingest(
                request, Media.PROTOBUF, "", _text(metadata.get(PROJECT_HEADER))
            )
        except RequestError as error:
            log_grpc(
                "Export",
                error.grpc_code.name,
                started,
                context.peer(),
                accepted=0,
                reason=error.message,
            )
            await context.abort(
                error.grpc_code, error.message, trailing_metadata=error.grpc_trailers()
            )
        log_grpc(
            "Export",
            "OK",
            started,
            context.peer(),
            accepted=prepared.span_count - prepared.rejected,
            rejected=prepared.rejected,
            reason=prepared.rejection_message(),
        )
        return export_response(prepared, Media.PROTOBUF)

    handler = grpc.method_handlers_generic_handler(
        TRACE_SERVICE,
        {"Export": grpc.unary_unary_rpc_method_handler(export)},
    )
    server = aio.server(
        options=[
            ("grpc.max_receive_message_length", max_body_bytes),
            ("grpc.max_send_message_length", 16 * 1024 * 1024),
            # A busy port is an error, never silently shared with another server.
            ("grpc.so_reuseport", 0),
        ]
    )
    server.add_generic_rpc_handlers((handler, logs_grpc_handler(pipeline, check, max_body_bytes)))
    return server


def _text(value: str | bytes | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
