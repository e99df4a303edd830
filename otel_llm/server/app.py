"""The one HTTP app of `otel-llm serve`: OTLP/HTTP, the read API, OpenAPI.

Later features (LangSmith run ingest, a viewer) add their routes through `extra_routes`;
every route is behind the same API-key check, and the access log (`access_log.py`) sees
every request; a route tells it what it accepted with `access_log.note`.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from otel_llm.server.access_log import AccessLogMiddleware
from otel_llm.server.auth import ApiKeyCheck
from otel_llm.server.body import Media
from otel_llm.server.openapi import OPENAPI
from otel_llm.server.otlp_http import TRACES_PATHS, otlp_routes, status_response
from otel_llm.server.otlp_logs import DEFAULT_LOG_JOIN_WAIT_SECONDS, LOGS_PATHS, logs_routes
from otel_llm.server.pipeline import IngestPipeline
from otel_llm.server.read_api import JSON, read_routes
from otel_llm.server.status import RequestError
from otel_llm.store.base import RunStore


class ApiKeyMiddleware:
    """Answers 401 to any HTTP request without the API key (no-op when none is set).

    OTLP paths get a `google.rpc.Status` in the request's encoding; the others
    `{"detail": ...}` as LangSmith's API does.
    """

    def __init__(self, app: ASGIApp, check: ApiKeyCheck) -> None:
        self.app = app
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.check.enabled:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            self.check.check(request.headers.get)
        except RequestError as error:
            response = self._refusal(request, error)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _refusal(request: Request, error: RequestError) -> Response:
        if request.url.path in TRACES_PATHS or request.url.path in LOGS_PATHS:
            content_type = request.headers.get("content-type", "")
            media = Media.PROTOBUF if "protobuf" in content_type else Media.JSON
            return status_response(error, media)
        return Response(
            orjson.dumps({"detail": error.message}),
            status_code=error.http_status,
            media_type="application/json",
            headers={"WWW-Authenticate": "Bearer"},
        )


def create_app(
    *,
    pipeline: IngestPipeline,
    store: RunStore,
    api_key: str | None,
    max_body_bytes: int,
    extra_routes: Sequence[BaseRoute] = (),
    log_join_wait_seconds: float = DEFAULT_LOG_JOIN_WAIT_SECONDS,
) -> Starlette:
    """The HTTP app.

    Args:
        pipeline: where OTLP export requests go.
        store: what the read API reads.
        api_key: when set, every request must carry it.
        max_body_bytes: largest OTLP body on the wire.
        extra_routes: routes of later features, mounted behind the same checks.
        log_join_wait_seconds: how long a log record waits for its span before it
            counts as unjoined.
    """

    async def openapi(request: Request) -> Response:
        return JSON(OPENAPI)

    routes: list[BaseRoute] = [
        *otlp_routes(pipeline, max_body_bytes),
        *logs_routes(pipeline, store, max_body_bytes, log_join_wait_seconds),
        *read_routes(store),
        Route("/openapi.json", openapi, methods=["GET"]),
        *extra_routes,
    ]
    app = Starlette(routes=routes)
    app.add_middleware(ApiKeyMiddleware, check=ApiKeyCheck(api_key))
    app.add_middleware(AccessLogMiddleware)  # outermost: sees every answer, 401s too
    return app
