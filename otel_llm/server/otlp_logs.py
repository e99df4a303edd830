"""OTLP logs on the trace ports: `POST /v1/logs` and gRPC `LogsService/Export`.

Same rules as traces (`otlp_http`, `otlp_grpc`): protobuf and JSON, gzip, the size limit
on the wire and after decompression, the API key, admission through the ingest pipeline
and an answer only once the records are committed. Every record is kept; GenAI event
records join their span's run in the store (`otel_llm.store.sqlite.log_events`). A record
that cannot be kept (malformed ids) is counted in `partial_success.rejected_log_records`.
Each record is filed under a project by the rule spans follow (`project_for`: the
request's `Langsmith-Project` header, else the record's resource, else `default`).
`GET /logs/unjoined` lists the records of one project that joined no run: the project of
the `Langsmith-Project` header, else of the `project` query parameter, else `default`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
import orjson
from grpc import aio
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceResponse,
)
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from otel_llm.otlp import OTLPDecodeError
from otel_llm.otlp.logs import LogRecord, decode_logs_json, decode_logs_protobuf
from otel_llm.server.auth import ApiKeyCheck
from otel_llm.server.body import (
    Media,
    check_encoding,
    declared_length,
    decompress,
    drain,
    media_of,
    read_body,
    too_large,
)
from otel_llm.server.otlp_http import partial_success, status_response
from otel_llm.server.pipeline import IngestPipeline
from otel_llm.server.projects import PROJECT_HEADER, project_for
from otel_llm.server.read_api import JSON
from otel_llm.server.status import Failure, RequestError
from otel_llm.store.base import StoreChanges

LOGS_PATHS = ("/v1/logs", "/otel/v1/logs")
LOGS_SERVICE = "opentelemetry.proto.collector.logs.v1.LogsService"
DEFAULT_LOG_JOIN_WAIT_SECONDS = 600.0

_DECODERS: dict[Media, Callable[[bytes], list[LogRecord]]] = {
    Media.PROTOBUF: decode_logs_protobuf,
    Media.JSON: decode_logs_json,
}
_PROBLEMS_SHOWN = 3


@dataclass(slots=True)
class PreparedLogs:
    """What one logs export request became."""

    records: list[dict[str, Any]] = field(default_factory=list)
    record_count: int = 0
    rejected: int = 0
    problems: list[str] = field(default_factory=list)
    decoded_bytes: int = 0

    def changes(self) -> StoreChanges:
        return StoreChanges(log_events=self.records)

    def rejection_message(self) -> str:
        if not self.rejected:
            return ""
        shown = "; ".join(self.problems[:_PROBLEMS_SHOWN])
        more = len(self.problems) - _PROBLEMS_SHOWN
        tail = f"; and {more} more" if more > 0 else ""
        return f"rejected {self.rejected} of {self.record_count} log records: {shown}{tail}"


def _problem(record: LogRecord) -> str | None:
    if len(record.trace_id) not in (0, 16):
        return f"trace_id has {len(record.trace_id)} bytes; OTLP requires 16 (or none)"
    if len(record.span_id) not in (0, 8):
        return f"span_id has {len(record.span_id)} bytes; OTLP requires 8 (or none)"
    return None


def prepare_logs(
    data: bytes,
    media: Media,
    content_encoding: str,
    max_body_bytes: int,
    project_header: str | None = None,
) -> PreparedLogs:
    """Decode one ExportLogsServiceRequest (runs in a decode worker); each record gets
    its `project` (`project_for` over its resource and the request's project header).

    Raises:
        RequestError: MALFORMED for bytes that are not OTLP logs; TOO_LARGE after
            decompression.
    """
    body = decompress(data, content_encoding, max_body_bytes)
    try:
        records = _DECODERS[media](body)
    except OTLPDecodeError as exc:
        kind = "protobuf" if media is Media.PROTOBUF else "JSON"
        raise RequestError(
            Failure.MALFORMED,
            f"body is not a valid OTLP {kind} ExportLogsServiceRequest: {exc}",
        ) from None
    prepared = PreparedLogs(record_count=len(records), decoded_bytes=len(body))
    for index, record in enumerate(records):
        problem = _problem(record)
        if problem is None:
            plain = _plain(record.to_dict())
            plain["project"] = project_for(record.resource, project_header)
            prepared.records.append(plain)
        else:
            prepared.rejected += 1
            prepared.problems.append(f"log record #{index}: {problem}")
    return prepared


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """The record as JSON values only (bytes attribute values become hex)."""
    loaded: dict[str, Any] = orjson.loads(orjson.dumps(record, default=_hex))
    return loaded


def _hex(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    raise TypeError


def logs_response(prepared: PreparedLogs, media: Media) -> bytes:
    """ExportLogsServiceResponse bytes; `partial_success` only when records were rejected."""
    return partial_success(
        media,
        prepared.rejected,
        prepared.rejection_message(),
        "rejectedLogRecords",
        lambda n, message: ExportLogsServiceResponse(
            partial_success=ExportLogsPartialSuccess(rejected_log_records=n, error_message=message)
        ),
    )


async def ingest_logs(
    pipeline: IngestPipeline,
    data: bytes,
    media: Media,
    encoding: str,
    max_body_bytes: int,
    project_header: str | None,
) -> PreparedLogs:
    """Admit, decode and commit one logs export request (both transports)."""
    return await pipeline.submit(
        len(data), prepare_logs, data, media, encoding, max_body_bytes, project_header
    )


class LogEventReads(Protocol):
    def log_event_counts(
        self, wait_seconds: float, project: str | None = None
    ) -> dict[str, int]: ...

    def unjoined_log_events(
        self, wait_seconds: float, limit: int = 100, offset: int = 0, project: str | None = None
    ) -> list[dict[str, Any]]: ...


def logs_routes(
    pipeline: IngestPipeline,
    store: object,
    max_body_bytes: int,
    join_wait_seconds: float = DEFAULT_LOG_JOIN_WAIT_SECONDS,
) -> list[Route]:
    """`POST /v1/logs` (and `/otel/v1/logs`) and `GET /logs/unjoined?limit=&offset=`."""

    async def export_logs(request: Request) -> Response:
        media = Media.JSON
        chunks = request.stream()
        try:
            media = media_of(request.headers.get("content-type"))
            encoding = check_encoding(request.headers.get("content-encoding"))
            declared = declared_length(request)
            if declared is not None and declared > max_body_bytes:
                raise too_large(max_body_bytes)
            if not pipeline.has_room(declared or 0):
                raise pipeline.busy_error()
            body = await read_body(chunks, max_body_bytes)
            prepared = await ingest_logs(
                pipeline, body, media, encoding, max_body_bytes, request.headers.get(PROJECT_HEADER)
            )
        except RequestError as error:
            await drain(chunks, max_body_bytes)
            return status_response(error, media)
        except ClientDisconnect:
            return Response(status_code=499)
        return Response(logs_response(prepared, media), media_type=media.value)

    async def unjoined(request: Request) -> Response:
        reads: LogEventReads | None = (
            store if hasattr(store, "unjoined_log_events") else None  # type: ignore[assignment]
        )
        if reads is None:
            return JSON({"detail": "this store keeps no log records"}, status_code=404)
        try:
            limit = int(request.query_params.get("limit", "100"))
            offset = int(request.query_params.get("offset", "0"))
            if not 1 <= limit <= 1000 or offset < 0:
                raise ValueError
        except ValueError:
            return JSON({"detail": "limit must be 1..1000 and offset >= 0"}, status_code=422)
        # A client reads only its project's records: the header wins, as in writes.
        asked = {"langsmith.project": request.query_params.get("project")}
        project = project_for(asked, request.headers.get(PROJECT_HEADER))
        return JSON(
            {
                "project": project,
                "counts": reads.log_event_counts(join_wait_seconds, project),
                "records": reads.unjoined_log_events(join_wait_seconds, limit, offset, project),
            }
        )

    return [
        *(Route(path, export_logs, methods=["POST"]) for path in LOGS_PATHS),
        Route("/logs/unjoined", unjoined, methods=["GET"]),
    ]


def logs_grpc_handler(
    pipeline: IngestPipeline, check: ApiKeyCheck, max_body_bytes: int
) -> grpc.GenericRpcHandler:
    """The `LogsService/Export` handler for the gRPC server (raw bytes in and out)."""

    async def export(request: bytes, context: aio.ServicerContext[bytes, bytes]) -> bytes:
        metadata = {key: value for key, value in context.invocation_metadata() or ()}
        try:
            check.check(lambda name: _text(metadata.get(name)))
            prepared = await ingest_logs(
                pipeline,
                request,
                Media.PROTOBUF,
                "",
                max_body_bytes,
                _text(metadata.get(PROJECT_HEADER)),
            )
        except RequestError as error:
            await context.abort(
                error.grpc_code, error.message, trailing_metadata=error.grpc_trailers()
            )
        return logs_response(prepared, Media.PROTOBUF)

    return grpc.method_handlers_generic_handler(
        LOGS_SERVICE, {"Export": grpc.unary_unary_rpc_method_handler(export)}
    )


def _text(value: str | bytes | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
