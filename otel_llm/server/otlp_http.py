"""OTLP/HTTP: `POST /v1/traces` (and `/otel/v1/traces`, LangSmith's path).

Answers in the request's encoding: an ExportTraceServiceResponse on success (with
`partial_success` when some spans were rejected), a `google.rpc.Status` on failure.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from google.protobuf.message import Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from otel_llm.server.access_log import note
from otel_llm.server.body import (
    Media,
    check_encoding,
    declared_length,
    drain,
    media_of,
    read_body,
    too_large,
)
from otel_llm.server.pipeline import IngestPipeline
from otel_llm.server.prepare import Prepared
from otel_llm.server.projects import PROJECT_HEADER
from otel_llm.server.status import RequestError

TRACES_PATHS = ("/v1/traces", "/otel/v1/traces")


def partial_success(
    media: Media,
    rejected: int,
    message: str,
    json_field: str,
    response: Callable[[int, str], Message],
) -> bytes:
    """An OTLP export response body: empty unless items were rejected, then its
    `partial_success` with how many (`json_field` in OTLP/JSON) and why."""
    if media is Media.JSON:
        if not rejected:
            return b"{}"
        # int64 fields are decimal strings in OTLP/JSON.
        partial = {json_field: str(rejected), "errorMessage": message}
        return orjson.dumps({"partialSuccess": partial})
    return response(rejected, message).SerializeToString() if rejected else b""


def export_response(prepared: Prepared, media: Media) -> bytes:
    """ExportTraceServiceResponse bytes; `partial_success` only when spans were rejected."""
    return partial_success(
        media,
        prepared.rejected,
        prepared.rejection_message(),
        "rejectedSpans",
        lambda n, message: ExportTraceServiceResponse(
            partial_success=ExportTracePartialSuccess(rejected_spans=n, error_message=message)
        ),
    )


def status_response(error: RequestError, media: Media) -> Response:
    """A failure as a `google.rpc.Status` body in `media`, with Retry-After when set."""
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
    body = error.status_json() if media is Media.JSON else error.status_protobuf()
    return Response(body, status_code=error.http_status, headers=headers, media_type=media.value)


def otlp_routes(pipeline: IngestPipeline, max_body_bytes: int) -> list[Route]:
    """The OTLP/HTTP trace routes.

    Args:
        pipeline: where export requests go.
        max_body_bytes: largest body accepted on the wire.
    """

    async def export_traces(request: Request) -> Response:
        media = Media.JSON  # for errors found before the Content-Type is known
        chunks = request.stream()
        try:
            media = media_of(request.headers.get("content-type"))
            encoding = check_encoding(request.headers.get("content-encoding"))
            declared = declared_length(request)
            if declared is not None and declared > max_body_bytes:
                raise too_large(max_body_bytes)
            if not pipeline.has_room(declared or 0):
                # Refuse before reading: the body is drained, never held in memory.
                raise pipeline.busy_error()
            body = await read_body(chunks, max_body_bytes)
            prepared = await pipeline.ingest(
                body, media, encoding, request.headers.get(PROJECT_HEADER)
            )
        except RequestError as error:
            note(request.scope, 0, "spans accepted")
            await drain(chunks, max_body_bytes)
            return status_response(error, media)
        except ClientDisconnect:
            return Response(status_code=499)  # nobody is listening any more
        accepted = prepared.span_count - prepared.rejected
        note(
            request.scope,
            accepted,
            "spans accepted",
            prepared.rejected,
            prepared.rejection_message(),
        )
        return Response(export_response(prepared, media), media_type=media.value)

    return [Route(path, export_traces, methods=["POST"]) for path in TRACES_PATHS]
