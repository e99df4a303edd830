"""One log line per request, HTTP and gRPC, on the logger `otel_llm.access`.

    POST /v1/traces 200 (1,000 spans accepted, 21.4 ms) from 127.0.0.1:53422
    POST /runs/query 200 (12 runs, 2.0 ms) from 127.0.0.1:53430
    POST /v1/traces 413 (0 spans accepted, 0.6 ms) from 127.0.0.1:53431: body is larger ...
    gRPC Export OK (500 spans accepted, 9.8 ms) from ipv4:127.0.0.1:53440

Answers below 400 log at INFO (`otel-llm serve --no-access-log` raises this logger to
WARNING to hide them); 4xx at WARNING and 5xx at ERROR, always, with the reason the
client was given (read back from the answer's body: `detail`, or a google.rpc.Status
`message`). A 200 that rejected some spans (OTLP partial success) logs at WARNING with
its message. Handlers report what they accepted or returned with `note`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from google.rpc import status_pb2  # type: ignore[import-untyped]
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("otel_llm.access")

_NOTE = "otel_llm.access"
_REASON_LIMIT = 500  # characters of a refusal's reason in the log line


def note(scope: Scope, count: int, what: str, rejected: int = 0, reason: str = "") -> None:
    """Tell the access log what a request did: `count` `what` ("spans accepted", "runs"),
    and for a partial success how many were rejected and why."""
    scope[_NOTE] = (count, what, rejected, reason)


def _level(status: int, rejected: int) -> int:
    if status >= 500:
        return logging.ERROR
    if status >= 400 or rejected:
        return logging.WARNING
    return logging.INFO


def _summary(count_note: tuple[int, str, int, str] | None, millis: float) -> str:
    parts = []
    if count_note is not None:
        count, what, rejected, _ = count_note
        parts.append(f"{count:,} {what}")
        if rejected:
            parts.append(f"{rejected:,} rejected")
    parts.append(f"{millis:.1f} ms")
    return ", ".join(parts)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _REASON_LIMIT else text[: _REASON_LIMIT - 1] + "…"


def reason_of(body: bytes, content_type: str) -> str:
    """The reason a refusal's body gives: `detail` or `message` of a JSON body, the
    `message` of a protobuf google.rpc.Status, else the body as text."""
    if not body:
        return ""
    if "protobuf" in content_type:
        status = status_pb2.Status()
        try:
            status.ParseFromString(body)
            return _shorten(str(status.message))
        except Exception:  # not a Status after all
            return f"{len(body)} bytes of {content_type}"
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _shorten(body.decode("utf-8", "replace"))
    if isinstance(parsed, dict):
        for key in ("detail", "message"):
            if isinstance(parsed.get(key), str):
                return _shorten(parsed[key])
    return _shorten(body.decode("utf-8", "replace"))


class AccessLogMiddleware:
    """ASGI middleware that logs each HTTP request once, when its answer is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        content_type = ""
        error_body: list[bytes] = []

        async def sending(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() == b"content-type":
                        content_type = value.decode("latin-1")
            elif message["type"] == "http.response.body" and status >= 400:
                error_body.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            # Starlette's outer error middleware answers 500 "Internal Server Error".
            self._log(scope, 500, started, f"internal error: {type(exc).__name__}: {exc}")
            raise
        reason = reason_of(b"".join(error_body), content_type) if status >= 400 else ""
        self._log(scope, status, started, reason)

    @staticmethod
    def _log(scope: Scope, status: int, started: float, reason: str) -> None:
        count_note = scope.get(_NOTE)
        rejected = count_note[2] if count_note else 0
        level = _level(status, rejected)
        if not logger.isEnabledFor(level):
            return
        if rejected and not reason:
            reason = _shorten(count_note[3]) if count_note else ""
        client = scope.get("client")
        peer = f"{client[0]}:{client[1]}" if client else "unknown"
        summary = _summary(count_note, (time.perf_counter() - started) * 1000)
        line = f"{scope['method']} {scope['path']} {status} ({summary}) from {peer}"
        logger.log(level, f"{line}: {reason}" if reason else line)


def log_grpc(
    method: str,
    code: str,
    started: float,
    peer: str,
    *,
    accepted: int | None = None,
    rejected: int = 0,
    reason: str = "",
) -> None:
    """The access log line of one gRPC call (`code`: the status code's name)."""
    level = (
        logging.INFO
        if code == "OK" and not rejected
        else (logging.ERROR if code in ("INTERNAL", "UNKNOWN") else logging.WARNING)
    )
    if not logger.isEnabledFor(level):
        return
    count_note = None if accepted is None else (accepted, "spans accepted", rejected, reason)
    summary = _summary(count_note, (time.perf_counter() - started) * 1000)
    line = f"gRPC {method} {code} ({summary}) from {peer}"
    logger.log(level, f"{line}: {_shorten(reason)}" if reason else line)
