"""Sessions (LangSmith's threads): a project's conversations of many traces.

`GET /sessions/{project_id}/threads` lists them (first and last time, traces, tokens,
cost, errors); `GET /sessions/{project_id}/threads/{thread_id}` gives a session's traces
in order. Runs also carry their session as `thread_id` in the read shape, which is how
`langsmith.Client.list_threads` groups them.
"""

from __future__ import annotations

import uuid

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from otel_llm.server.read_api import JSON
from otel_llm.store.base import DEFAULT_LIMIT, MAX_LIMIT, RunStore


def session_routes(store: RunStore) -> list[Route]:
    """The session routes over `store`."""

    async def list_threads(request: Request) -> Response:
        project_id = _project(request)
        if project_id is None:
            return JSON({"detail": "project id is not a UUID"}, status_code=400)
        try:
            limit = int(request.query_params.get("limit", DEFAULT_LIMIT))
            offset = int(request.query_params.get("offset", 0))
        except ValueError as exc:
            return JSON({"detail": f"bad query parameter: {exc}"}, status_code=400)
        if not (1 <= limit <= MAX_LIMIT and offset >= 0):
            return JSON({"detail": f"limit must be 1..{MAX_LIMIT}, offset >= 0"}, status_code=400)
        return JSON(await run_in_threadpool(store.list_sessions, project_id, limit, offset))

    async def read_thread(request: Request) -> Response:
        project_id = _project(request)
        if project_id is None:
            return JSON({"detail": "project id is not a UUID"}, status_code=400)
        thread_id = request.path_params["thread_id"]
        traces = await run_in_threadpool(store.session_traces, project_id, thread_id)
        if not traces:
            return JSON(
                {"detail": f"no session {thread_id!r} in project {project_id}"}, status_code=404
            )
        return JSON({"thread_id": thread_id, "traces": traces})

    return [
        Route("/sessions/{project_id}/threads", list_threads, methods=["GET"]),
        Route("/sessions/{project_id}/threads/{thread_id}", read_thread, methods=["GET"]),
    ]


def _project(request: Request) -> str | None:
    try:
        return str(uuid.UUID(request.path_params["project_id"]))
    except ValueError:
        return None
