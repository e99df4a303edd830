"""The run-ingest API of LangSmith, for its SDK unchanged: `POST /runs/multipart`,
`POST /runs/batch`, `POST /runs`, `PATCH /runs/{id}`, `POST|GET /feedback`,
`GET /feedback/{id}`, and the attachments a run's `s3_urls` point at.

Bodies are prepared in the decode workers and committed through the same pipeline as
OTLP (admission, backpressure, ack after commit). Answers are JSON, `{"detail": ...}`
on failure, as LangSmith's API answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from otel_llm.server.body import declared_length, drain, read_body, too_large
from otel_llm.server.pipeline import IngestPipeline
from otel_llm.server.read_api import JSON
from otel_llm.server.run_ingest import (
    IngestLimits,
    PreparedRuns,
    prepare_json,
    prepare_multipart,
)
from otel_llm.server.status import RequestError
from otel_llm.store.base import DEFAULT_LIMIT, MAX_LIMIT, RowBuilder, RunStore


def attachment_path(run_id: str, name: str) -> str:
    """Where the read API serves a run's attachment (the SDK reads `s3_urls`)."""
    return f"/runs/{run_id}/attachments/{name}"


def run_routes(
    pipeline: IngestPipeline, store: RunStore, row_builder: RowBuilder, limits: IngestLimits
) -> list[Route]:
    """The run-ingest, feedback and attachment routes."""

    async def ingest(
        request: Request,
        prepare_fn: Callable[..., PreparedRuns],
        args: Callable[[str], tuple[Any, ...]],  # the arguments after the body, by encoding
    ) -> Response:
        chunks = request.stream()
        try:
            declared = declared_length(request)
            if declared is not None and declared > limits.max_body_bytes:
                raise too_large(limits.max_body_bytes)
            if not pipeline.has_room(declared or 0):
                raise pipeline.busy_error()
            body = await read_body(chunks, limits.max_body_bytes)
            encoding = request.headers.get("content-encoding", "")
            prepared = await pipeline.submit(len(body), prepare_fn, body, *args(encoding))
        except RequestError as error:
            await drain(chunks, limits.max_body_bytes)
            headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
            return JSON({"detail": error.message}, status_code=error.http_status, headers=headers)
        except ClientDisconnect:
            return Response(status_code=499)
        if prepared.problems:
            return JSON({"detail": prepared.message()}, status_code=prepared.status)
        return JSON({"detail": "ok", **_counts(prepared)}, status_code=202)

    async def multipart(request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        return await ingest(
            request, prepare_multipart, lambda enc: (content_type, enc, limits, row_builder)
        )

    def json_route(route: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            run_id = request.path_params.get("run_id")
            return await ingest(
                request, prepare_json, lambda enc: (enc, route, limits, row_builder, run_id)
            )

        return endpoint

    async def list_feedback(request: Request) -> Response:
        params = request.query_params
        try:
            runs = [str(uuid.UUID(r)) for r in params.getlist("run")] or None
            limit = int(params.get("limit", DEFAULT_LIMIT))
            offset = int(params.get("offset", 0))
        except ValueError as exc:
            return JSON({"detail": f"bad query parameter: {exc}"}, status_code=400)
        if not (1 <= limit <= MAX_LIMIT and offset >= 0):
            return JSON({"detail": f"limit must be 1..{MAX_LIMIT}, offset >= 0"}, status_code=400)
        keys = params.getlist("key") or None
        found = await run_in_threadpool(store.list_feedback, runs, keys, limit, offset)
        return JSON(found)

    async def read_feedback(request: Request) -> Response:
        feedback_id = _uuid(request.path_params["feedback_id"])
        found = (
            None
            if feedback_id is None
            else await run_in_threadpool(store.get_feedback, feedback_id)
        )
        if found is None:
            return JSON({"detail": "feedback not found"}, status_code=404)
        return JSON(found)

    async def read_attachment(request: Request) -> Response:
        run_id = _uuid(request.path_params["run_id"])
        name = request.path_params["name"]
        found = (
            None if run_id is None else await run_in_threadpool(store.read_attachment, run_id, name)
        )
        if found is None:
            return JSON({"detail": f"no attachment {name!r} on run {run_id}"}, status_code=404)
        return Response(found.data, media_type=found.mime_type)

    return [
        Route("/runs/multipart", multipart, methods=["POST"]),
        Route("/runs/batch", json_route("batch"), methods=["POST"]),
        Route("/runs", json_route("post"), methods=["POST"]),
        Route("/runs/{run_id}", json_route("patch"), methods=["PATCH"]),
        Route("/feedback", json_route("feedback"), methods=["POST"]),
        Route("/feedback", list_feedback, methods=["GET"]),
        Route("/feedback/{feedback_id}", read_feedback, methods=["GET"]),
        Route(attachment_path("{run_id}", "{name}"), read_attachment, methods=["GET"]),
    ]


def _counts(prepared: PreparedRuns) -> dict[str, int]:
    changes = prepared.store_changes
    return {
        "runs": len(changes.rows),
        "patches": len(changes.patches),
        "feedback": len(changes.feedback),
        "attachments": len(changes.attachments),
    }


def _uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None
