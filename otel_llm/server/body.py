"""Request bodies: which media types and encodings we read, and decompression with a cap.

The size limit holds on the wire and after decompression: a gzip bomb is cut off after
`limit + 1` bytes of output, never inflated in full.
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import AsyncIterator, Callable

from starlette.requests import ClientDisconnect, Request

from otel_llm.server.status import Failure, RequestError


class Media(str, enum.Enum):
    """The two OTLP/HTTP encodings; a response uses the request's."""

    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"


_MEDIA_BY_TYPE: dict[str, Media] = {
    "application/x-protobuf": Media.PROTOBUF,
    "application/protobuf": Media.PROTOBUF,
    "application/json": Media.JSON,
}

# Content-Encoding -> a fresh decompressor (None: the body is used as is).
_DECOMPRESSORS: dict[str, Callable[[], zlib._Decompress] | None] = {
    "": None,
    "identity": None,
    "gzip": lambda: zlib.decompressobj(wbits=16 + zlib.MAX_WBITS),
    "x-gzip": lambda: zlib.decompressobj(wbits=16 + zlib.MAX_WBITS),
    "deflate": lambda: zlib.decompressobj(wbits=zlib.MAX_WBITS),
}

SUPPORTED_ENCODINGS = tuple(name for name in _DECOMPRESSORS if name)


def media_of(content_type: str | None) -> Media:
    """The OTLP encoding named by a Content-Type header (parameters such as charset ignored).

    Raises:
        RequestError: UNSUPPORTED_MEDIA for anything but protobuf or JSON.
    """
    essence = (content_type or "").split(";", 1)[0].strip().lower()
    media = _MEDIA_BY_TYPE.get(essence)
    if media is None:
        raise RequestError(
            Failure.UNSUPPORTED_MEDIA,
            f"unsupported Content-Type {content_type or '(none)'!r}: send "
            "application/x-protobuf or application/json",
        )
    return media


def check_encoding(content_encoding: str | None) -> str:
    """The normalized Content-Encoding, if we can decode it.

    Raises:
        RequestError: UNSUPPORTED_MEDIA for an encoding other than gzip, deflate, identity.
    """
    name = (content_encoding or "").strip().lower()
    if name not in _DECOMPRESSORS:
        raise RequestError(
            Failure.UNSUPPORTED_MEDIA,
            f"unsupported Content-Encoding {content_encoding!r}: send gzip, deflate or no encoding",
        )
    return name


def decompress(data: bytes, content_encoding: str, limit: int) -> bytes:
    """The decoded body, at most `limit` bytes.

    Args:
        data: the body as received.
        content_encoding: a name `check_encoding` accepted.
        limit: the largest decoded body accepted.

    Raises:
        RequestError: TOO_LARGE when the decoded body exceeds `limit`; MALFORMED when the
            compressed stream is corrupt or truncated.
    """
    make = _DECOMPRESSORS[content_encoding]
    if make is None:
        return data
    parts: list[bytes] = []
    produced = 0
    rest = data
    # gzip allows several members back to back; each needs a fresh decompressor.
    while rest:
        inflater = make()
        try:
            out = inflater.decompress(rest, limit - produced + 1)
        except zlib.error as exc:
            raise RequestError(
                Failure.MALFORMED, f"body is not valid {content_encoding} data: {exc}"
            ) from None
        produced += len(out)
        if produced > limit or inflater.unconsumed_tail:
            raise RequestError(
                Failure.TOO_LARGE,
                f"body is larger than {limit} bytes after {content_encoding} decompression",
            )
        if not inflater.eof:
            raise RequestError(Failure.MALFORMED, f"body is truncated {content_encoding} data")
        parts.append(out)
        rest = inflater.unused_data
    return b"".join(parts)


# --- reading a body off the connection ------------------------------------------------


def declared_length(request: Request) -> int | None:
    """The Content-Length the client declared, if any."""
    value = request.headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise RequestError(Failure.MALFORMED, f"bad Content-Length {value!r}") from None


def too_large(limit: int) -> RequestError:
    return RequestError(
        Failure.TOO_LARGE,
        f"body is larger than {limit} bytes: send smaller batches "
        "(e.g. lower OTEL_BSP_MAX_EXPORT_BATCH_SIZE)",
    )


async def read_body(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole body, refused with TOO_LARGE past `limit` bytes on the wire."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


async def drain(chunks: AsyncIterator[bytes], limit: int) -> None:
    """Read what is left of a refused body (up to `limit` bytes) without keeping it,
    so the client gets our answer instead of a reset connection."""
    drained = 0
    try:
        async for chunk in chunks:
            drained += len(chunk)
            if drained > limit:
                return
    except (ClientDisconnect, RuntimeError):
        return  # the client is gone, or the body was read to the end already
