"""Failures a request can meet, and how each is told to HTTP and gRPC clients.

One table maps a failure to its HTTP status and gRPC code (as OTLP specifies), so the
two transports can never disagree. Bodies are `google.rpc.Status`, protobuf or JSON.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import grpc
import orjson
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]


class Failure(enum.Enum):
    MALFORMED = "malformed"  # bad bytes, bad JSON, bad gzip: never retried
    TOO_LARGE = "too_large"  # over the size limit, on the wire or after decompression
    UNSUPPORTED_MEDIA = "unsupported_media"  # content type or encoding we do not read
    BUSY = "busy"  # the write queue is full: retry after a while
    UNAUTHENTICATED = "unauthenticated"
    NOT_FOUND = "not_found"
    STORE_UNAVAILABLE = "store_unavailable"  # the commit failed; retrying may succeed
    UNSTORABLE = "unstorable"  # the store refuses this data: retrying cannot help
    INTERNAL = "internal"  # a bug of ours


@dataclass(frozen=True)
class _Answer:
    http_status: int
    grpc_code: grpc.StatusCode


_ANSWERS: dict[Failure, _Answer] = {
    Failure.MALFORMED: _Answer(400, grpc.StatusCode.INVALID_ARGUMENT),
    Failure.TOO_LARGE: _Answer(413, grpc.StatusCode.RESOURCE_EXHAUSTED),
    Failure.UNSUPPORTED_MEDIA: _Answer(415, grpc.StatusCode.INVALID_ARGUMENT),
    Failure.BUSY: _Answer(503, grpc.StatusCode.UNAVAILABLE),
    Failure.UNAUTHENTICATED: _Answer(401, grpc.StatusCode.UNAUTHENTICATED),
    Failure.NOT_FOUND: _Answer(404, grpc.StatusCode.NOT_FOUND),
    Failure.STORE_UNAVAILABLE: _Answer(503, grpc.StatusCode.UNAVAILABLE),
    Failure.UNSTORABLE: _Answer(400, grpc.StatusCode.INVALID_ARGUMENT),
    Failure.INTERNAL: _Answer(500, grpc.StatusCode.INTERNAL),
}

# Where gRPC clients look for the details: the standard trailer carries the whole Status;
# the OTel Python exporter reads RetryInfo from its own trailer.
STATUS_DETAILS_TRAILER = "grpc-status-details-bin"
RETRY_INFO_TRAILER = "google.rpc.retryinfo-bin"


class RequestError(Exception):
    """A request that cannot be served, with what to tell the client.

    Args:
        failure: what kind of failure (decides the HTTP status and gRPC code).
        message: English, says what was wrong and, where it helps, what to do.
        retry_after: seconds the client should wait before retrying (backpressure only).
    """

    def __init__(self, failure: Failure, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[type[RequestError], tuple[Failure, str, int | None]]:
        # Raised in worker processes too: pickle with all three arguments.
        return (RequestError, (self.failure, self.message, self.retry_after))

    @property
    def http_status(self) -> int:
        return _ANSWERS[self.failure].http_status

    @property
    def grpc_code(self) -> grpc.StatusCode:
        return _ANSWERS[self.failure].grpc_code

    def retry_info(self) -> error_details_pb2.RetryInfo | None:
        if self.retry_after is None:
            return None
        return error_details_pb2.RetryInfo(
            retry_delay=duration_pb2.Duration(seconds=self.retry_after)
        )

    def status(self) -> status_pb2.Status:
        """The `google.rpc.Status` for this failure, with RetryInfo / BadRequest details."""
        details: list[any_pb2.Any] = []
        retry = self.retry_info()
        if retry is not None:
            details.append(_pack(retry))
        if self.failure is Failure.MALFORMED:
            bad = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field="body", description=self.message
                    )
                ]
            )
            details.append(_pack(bad))
        code: int = self.grpc_code.value[0]
        return status_pb2.Status(code=code, message=self.message, details=details)

    def status_protobuf(self) -> bytes:
        return self.status().SerializeToString()  # type: ignore[no-any-return]

    def status_json(self) -> bytes:
        """Status in the proto3 JSON mapping (details as `@type` objects)."""
        details: list[dict[str, object]] = []
        retry = self.retry_info()
        if retry is not None:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{self.retry_after}s",
                }
            )
        if self.failure is Failure.MALFORMED:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": "body", "description": self.message}],
                }
            )
        body: dict[str, object] = {"code": self.grpc_code.value[0], "message": self.message}
        if details:
            body["details"] = details
        return orjson.dumps(body)

    def grpc_trailers(self) -> tuple[tuple[str, bytes], ...]:
        """Trailing metadata that carries the Status (and RetryInfo) to gRPC clients."""
        trailers: list[tuple[str, bytes]] = [(STATUS_DETAILS_TRAILER, self.status_protobuf())]
        retry = self.retry_info()
        if retry is not None:
            trailers.append((RETRY_INFO_TRAILER, retry.SerializeToString()))
        return tuple(trailers)


def _pack(message: error_details_pb2.RetryInfo | error_details_pb2.BadRequest) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed
