"""The read side of LangSmith's API, as its Python `Client` calls it.

`GET /info`, `GET /sessions`, `GET /sessions/{id}`, `POST /runs/query`, `GET /runs/{id}`,
`POST /runs/stats`, and the v2 reads of `langsmith` >= 0.15 (`POST /api/v2/runs/query`,
`GET /api/v2/runs/{id}`: `read_v2.py`). The store answers in LangSmith's read shape
already; this layer parses the request, runs the (blocking) store call on a worker
thread and serialises. Errors are `{"detail": "..."}` like LangSmith's server.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from otel_llm.server.access_log import note
from otel_llm.server.read_v2 import V2RequestError, parse_selects, query_from_v2, run_id_param
from otel_llm.server.read_v2 import to_v2 as _to_v2
from otel_llm.store.base import DEFAULT_LIMIT, MAX_LIMIT, RunQuery, RunStore

T = TypeVar("T")

# What the LangSmith SDK's batching reads from /info: its own defaults, but up to 1,000
# runs a request (the SDK's is 100) when its queue holds that many: each request has a
# fixed cost here (admission, a worker round trip, a group commit), and with 100-run
# batches it was most of the cost (run ingest 0.34x the OTLP span rate; 0.84x with 1,000).
BATCH_INGEST_CONFIG: dict[str, Any] = {
    "use_multipart_endpoint": True,
    "size_limit": 1000,
    "size_limit_bytes": 20 * 1024 * 1024,
    "scale_up_qsize_trigger": 1000,
    "scale_up_nthreads_limit": 16,
    "scale_down_nempty_trigger": 4,
}


# The LangSmith API version whose read endpoints this server answers: the v2 run reads
# (`client.runs.query` / `.retrieve`) need 0.16, and the SDK warns below the version a
# feature needs. Features of later versions that we do not serve (`client.sessions`
# needs 0.18) still warn, as they should.
LANGSMITH_API_VERSION = "0.16.0"

# `/info`'s instance flags. Both query backends: v1 (`/runs/query`) and v2
# (`/api/v2/runs/query`) are served, so the SDK may use either. Run compression (zstd)
# stays off until a run-ingest endpoint decodes it.
INSTANCE_FLAGS: dict[str, Any] = {
    "zstd_compression_enabled": True,  # run ingest decodes zstd, the SDK's fast path
    "ch_query_enabled": True,
    "sdb_query_enabled": True,
}


def server_version() -> str:
    try:
        return version("otel-llm")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"


class JSON(Response):
    """JSON via orjson (UUIDs, datetimes and non-str keys handled)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class _BadRequest(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _uuid(text: str, what: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise _BadRequest(400, f"{what} is not a UUID: {text!r}") from None


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _BadRequest(400, f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise _BadRequest(400, f"{name} must be from {low} to {high}, got {value}")
    return value


async def _json_body(request: Request) -> Any:
    try:
        return orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise _BadRequest(400, f"body is not JSON: {exc}") from None


def _endpoint(
    handler: Callable[[Request], Any],
) -> Callable[[Request], Any]:
    """Wraps a handler: bad requests become 400/404 `{"detail": ...}` answers."""

    async def endpoint(request: Request) -> Response:
        try:
            response: Response = await handler(request)
        except (_BadRequest, V2RequestError) as bad:
            return JSON({"detail": bad.detail}, status_code=bad.status)
        return response

    return endpoint


def read_routes(store: RunStore) -> list[Route]:
    """The read API's routes over `store`.

    Args:
        store: the run store; its calls run on worker threads.
    """

    async def call(fn: Callable[..., T], *args: Any) -> T:
        return await run_in_threadpool(fn, *args)

    async def info(request: Request) -> Response:
        return JSON(
            {
                "version": LANGSMITH_API_VERSION,
                "otel_llm_version": server_version(),
                "license_expiration_time": None,
                "batch_ingest_config": BATCH_INGEST_CONFIG,
                "instance_flags": INSTANCE_FLAGS,
            }
        )

    async def list_sessions(request: Request) -> Response:
        limit = _int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = _int_param(request, "offset", 0, 0, 2**31)
        ids = [_uuid(value, "id") for value in request.query_params.getlist("id")]
        if ids:
            found = [await call(store.get_project, project_id) for project_id in ids]
            projects = [p for p in found if p is not None][offset : offset + limit]
        else:
            name = request.query_params.get("name")
            projects = await call(store.list_projects, name, limit, offset)
        return JSON(projects)

    async def read_session(request: Request) -> Response:
        project_id = _uuid(request.path_params["session_id"], "session id")
        project = await call(store.get_project, project_id)
        if project is None:
            raise _BadRequest(404, f"project {project_id} not found")
        return JSON(project)

    async def query_runs(request: Request) -> Response:
        body = await _json_body(request)
        try:
            query = RunQuery.from_dict(body)
            runs, cursor = await call(store.query_runs, query)
        except ValueError as exc:  # includes FilterSyntaxError, with the parser's message
            raise _BadRequest(400, str(exc)) from None
        note(request.scope, len(runs), "runs")
        return JSON({"runs": runs, "cursors": {"next": cursor}})

    async def read_run(request: Request) -> Response:
        run_id = _uuid(request.path_params["run_id"], "run id")
        run = await call(store.get_run, run_id)
        if run is None:
            raise _BadRequest(404, f"run {run_id} not found")
        # Where the SDK downloads a run's attachments from (its `s3_urls`).
        run["s3_urls"] = {
            f"attachment.{name}": {
                "presigned_url": f"/runs/{run_id}/attachments/{name}",
                "mime_type": mime,
            }
            for name, mime in (await call(store.attachment_types, run_id)).items()
        }
        return JSON(run)

    async def run_stats(request: Request) -> Response:
        body = await _json_body(request)
        try:
            if not isinstance(body, dict):
                raise ValueError("the query must be a JSON object")
            end_time = body.get("end_time")
            if end_time is not None and not isinstance(end_time, str):
                raise ValueError(f"end_time must be a string, got {end_time!r}")
            query = RunQuery.from_dict(body)
            stats = await call(store.run_stats, query, end_time)
        except ValueError as exc:
            raise _BadRequest(400, str(exc)) from None
        note(request.scope, stats["run_count"], "runs counted")
        return JSON(stats)

    async def query_runs_v2(request: Request) -> Response:
        body = await _json_body(request)
        query, selects, subtree = query_from_v2(body, request.headers.get("accept"))
        try:
            runs, cursor = await call(store.query_runs, query)
        except ValueError as exc:
            raise _BadRequest(400, str(exc)) from None
        items = [_to_v2(run, selects, subtree) for run in runs]
        note(request.scope, len(items), "runs")
        return JSON({"items": items, "next_cursor": cursor})

    async def read_run_v2(request: Request) -> Response:
        run_id = run_id_param(request.path_params["run_id"])
        project = request.query_params.get("project_id")
        if not project:
            raise _BadRequest(400, "project_id is required (the run's project UUID)")
        project_id = _uuid(project, "project_id")
        selects = parse_selects(request.query_params.getlist("selects") or None)
        run = await call(store.get_run, run_id)
        if run is None or run.get("session_id") != project_id:
            raise _BadRequest(404, f"run {run_id} not found in project {project_id}")
        return JSON(_to_v2(run, selects, subtree_usage=False))

    return [
        Route("/info", _endpoint(info), methods=["GET"]),
        Route("/sessions", _endpoint(list_sessions), methods=["GET"]),
        Route("/sessions/{session_id}", _endpoint(read_session), methods=["GET"]),
        Route("/runs/query", _endpoint(query_runs), methods=["POST"]),
        Route("/runs/stats", _endpoint(run_stats), methods=["POST"]),
        Route("/api/v2/runs/query", _endpoint(query_runs_v2), methods=["POST"]),
        Route("/api/v2/runs/{run_id}", _endpoint(read_run_v2), methods=["GET"]),
        Route("/runs/{run_id}", _endpoint(read_run), methods=["GET"]),
    ]
