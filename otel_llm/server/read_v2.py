"""LangSmith's v2 run reads, as `langsmith` >= 0.15 calls them (`client.runs.query`,
`client.runs.retrieve`): `POST /api/v2/runs/query` and `GET /api/v2/runs/{run_id}`.

Both answer in the v2 `Run` shape (the SDK's `langsmith.types.run.Run`): only the
fields named in `selects` (upper-case `RunSelectField` names; none named: only `id`),
`run_type` and `status` upper case, token details as `{"raw": {...}}`, `project_id`
for `session_id`. A query's window is `min_start_time` (default one day ago) to
`max_start_time` (default now), as LangSmith's server defaults them. The rows come from
the same store call as `POST /runs/query`; this module only translates.

Not served (each answers with a `detail` saying so): AI and semantic search (501, as
LangSmith's own v1 backend answers), streaming (`Accept: text/event-stream`, 406),
datasets (`reference_dataset_id`) and feedback windows (400: the store has neither).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from otel_llm.sessions import session_of
from otel_llm.store.base import MAX_LIMIT, RunDict, RunQuery
from otel_llm.store.query import parse_filter

DEFAULT_PAGE_SIZE = 100
DEFAULT_WINDOW = timedelta(days=1)
PREVIEW_CHARS = 200
GENERATION_TYPES = frozenset(("llm", "embedding"))
USAGE_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_cost",
    "completion_cost",
    "total_cost",
)


class V2RequestError(Exception):
    """A v2 request we refuse, with its HTTP status and the `detail` told to the client."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _preview(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def _details(value: Any) -> dict[str, Any] | None:
    return {"raw": value} if isinstance(value, dict) and value else None


def _metadata(run: RunDict) -> dict[str, Any] | None:
    extra = run.get("extra")
    metadata = extra.get("metadata") if isinstance(extra, dict) else None
    return metadata if isinstance(metadata, dict) else None


def _thread_id(run: RunDict) -> str | None:
    stored: str | None = run.get("thread_id")  # the run's session, as the store keyed it
    return stored if stored is not None else session_of(_metadata(run))


def _latency(run: RunDict) -> float | None:
    if run.get("end_time") is None:
        return None
    start = datetime.fromisoformat(run["start_time"])
    end = datetime.fromisoformat(run["end_time"])
    return (end - start).total_seconds()


def _none(run: RunDict) -> None:
    return None


def _field(name: str) -> Callable[[RunDict], Any]:
    return lambda run: run.get(name)


# v2 select name -> (v2 field, how it reads from the store's v1 run, v1 fields it needs)
SELECTS: dict[str, tuple[str, Callable[[RunDict], Any], tuple[str, ...]]] = {
    "ID": ("id", _field("id"), ()),
    "NAME": ("name", _field("name"), ()),
    "RUN_TYPE": ("run_type", lambda r: str(r["run_type"]).upper(), ()),
    "STATUS": ("status", lambda r: str(r["status"]).upper(), ("status",)),
    "START_TIME": ("start_time", _field("start_time"), ()),
    "END_TIME": ("end_time", _field("end_time"), ("end_time",)),
    "LATENCY_SECONDS": ("latency_seconds", _latency, ("end_time",)),
    "FIRST_TOKEN_TIME": ("first_token_time", _field("first_token_time"), ("first_token_time",)),
    "ERROR": ("error", _field("error"), ("error",)),
    "ERROR_PREVIEW": ("error_preview", lambda r: _preview(r.get("error")), ("error",)),
    "EXTRA": ("extra", _field("extra"), ("extra",)),
    "METADATA": ("metadata", _metadata, ("extra",)),
    "EVENTS": ("events", _field("events"), ("events",)),
    "INPUTS": ("inputs", _field("inputs"), ("inputs",)),
    "INPUTS_PREVIEW": ("inputs_preview", lambda r: _preview(r.get("inputs")), ("inputs",)),
    "OUTPUTS": ("outputs", _field("outputs"), ("outputs",)),
    "OUTPUTS_PREVIEW": ("outputs_preview", lambda r: _preview(r.get("outputs")), ("outputs",)),
    "MANIFEST": ("manifest", _field("serialized"), ("serialized",)),
    "PARENT_RUN_IDS": ("parent_run_ids", _field("parent_run_ids"), ("parent_run_ids",)),
    "PROJECT_ID": ("project_id", _field("session_id"), ("session_id",)),
    "TRACE_ID": ("trace_id", _field("trace_id"), ()),
    "THREAD_ID": ("thread_id", _thread_id, ("extra",)),
    "DOTTED_ORDER": ("dotted_order", _field("dotted_order"), ()),
    "IS_ROOT": ("is_root", lambda r: r.get("parent_run_id") is None, ()),
    "REFERENCE_EXAMPLE_ID": (
        "reference_example_id",
        _field("reference_example_id"),
        ("reference_example_id",),
    ),
    "REFERENCE_DATASET_ID": ("reference_dataset_id", _none, ()),
    "TOTAL_TOKENS": ("total_tokens", _field("total_tokens"), ("total_tokens",)),
    "PROMPT_TOKENS": ("prompt_tokens", _field("prompt_tokens"), ("prompt_tokens",)),
    "COMPLETION_TOKENS": ("completion_tokens", _field("completion_tokens"), ("completion_tokens",)),
    "TOTAL_COST": ("total_cost", _field("total_cost"), ("total_cost",)),
    "PROMPT_COST": ("prompt_cost", _field("prompt_cost"), ("prompt_cost",)),
    "COMPLETION_COST": ("completion_cost", _field("completion_cost"), ("completion_cost",)),
    "PROMPT_TOKEN_DETAILS": (
        "prompt_token_details",
        lambda r: _details(r.get("prompt_token_details")),
        ("prompt_token_details",),
    ),
    "COMPLETION_TOKEN_DETAILS": (
        "completion_token_details",
        lambda r: _details(r.get("completion_token_details")),
        ("completion_token_details",),
    ),
    "PROMPT_COST_DETAILS": ("prompt_cost_details", _none, ()),
    "COMPLETION_COST_DETAILS": ("completion_cost_details", _none, ()),
    "PRICE_MODEL_ID": ("price_model_id", _none, ()),
    "TAGS": ("tags", _field("tags"), ("tags",)),
    "APP_PATH": ("app_path", _none, ()),
    "ATTACHMENTS": ("attachments", _none, ()),
    "THREAD_EVALUATION_TIME": ("thread_evaluation_time", _none, ()),
    "IS_IN_DATASET": ("is_in_dataset", lambda r: False, ()),
    "LAST_QUEUED_AT": ("last_queued_at", _none, ()),
    "SHARE_URL": ("share_url", _none, ()),
    "FEEDBACK_STATS": ("feedback_stats", _none, ()),
    "LS_USER_ID": ("ls_user_id", _none, ()),
}
RUN_TYPES = ("TOOL", "CHAIN", "LLM", "RETRIEVER", "EMBEDDING", "PROMPT", "PARSER")


def parse_selects(values: Any) -> list[str]:
    """The select names of a request, validated; none given means `["ID"]`."""
    if values is None:
        return ["ID"]
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        raise V2RequestError(400, f"selects must be a list of field names, got {values!r}")
    unknown = [v for v in values if v not in SELECTS]
    if unknown:
        raise V2RequestError(400, f"unknown selects {unknown!r}; known: {', '.join(SELECTS)}")
    return list(dict.fromkeys(["ID", *values]))


def v1_fields(selects: list[str]) -> list[str]:
    """The store's read-shape fields that `selects` need."""
    return sorted({field for name in selects for field in SELECTS[name][2]})


def to_v2(run: RunDict, selects: list[str], subtree_usage: bool) -> dict[str, Any]:
    """One store run in the v2 shape, restricted to `selects`.

    Args:
        run: the store's run (LangSmith's v1 read shape).
        selects: validated select names.
        subtree_usage: False gives a run that is not a generation its own usage (none:
            the store counts usage on generations only) instead of its subtree's sums.
    """
    out: dict[str, Any] = {}
    own_only = not subtree_usage and run.get("run_type") not in GENERATION_TYPES
    for name in selects:
        field, read, _ = SELECTS[name]
        out[field] = None if own_only and field in USAGE_FIELDS else read(run)
    return out


def _time(body: Mapping[str, Any], key: str, default: datetime) -> str:
    value = body.get(key)
    if value is None:
        return default.isoformat()
    if not isinstance(value, str):
        raise V2RequestError(400, f"{key} must be an RFC 3339 time, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise V2RequestError(400, f"{key} is not an RFC 3339 time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.isoformat()


def _check_filter(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise V2RequestError(400, f"{key} must be a string, got {value!r}")
    try:
        parse_filter(value)
    except ValueError as exc:  # FilterSyntaxError, with the parser's column
        raise V2RequestError(400, f"{key}: {exc}") from None
    return value


def query_from_v2(
    body: Any, accept: str | None, now: datetime | None = None
) -> tuple[RunQuery, list[str], bool]:
    """A `POST /api/v2/runs/query` body as the store's query.

    Returns:
        The query, the validated selects, and include_subtree_usage.

    Raises:
        V2RequestError: what the client is told, naming the field.
    """
    if accept and "text/event-stream" in accept and "json" not in accept:
        raise V2RequestError(
            406,
            "otel-llm does not stream run queries (text/event-stream); ask for application/json",
        )
    if not isinstance(body, Mapping):
        raise V2RequestError(400, "the query must be a JSON object")
    for key in ("ai_search", "sem_filter"):
        if body.get(key):
            raise V2RequestError(501, f"{key}: otel-llm has no AI or semantic search")
    for key in ("min_feedback_modified_at", "max_feedback_modified_at"):
        if body.get(key) is not None:
            raise V2RequestError(400, f"{key}: otel-llm stores no feedback")
    if body.get("reference_dataset_id") is not None:
        raise V2RequestError(
            400, "reference_dataset_id: otel-llm stores no datasets; give project_ids"
        )
    projects = body.get("project_ids")
    if not projects:
        raise V2RequestError(400, "project_ids is required (a list of project UUIDs)")
    now = now or datetime.now(timezone.utc)
    low = _time(body, "min_start_time", now - DEFAULT_WINDOW)
    high = _time(body, "max_start_time", now)
    window = f'lte(start_time, "{high}")'
    user_filter = _check_filter(body, "filter")
    page_size = body.get("page_size", DEFAULT_PAGE_SIZE)
    if (
        isinstance(page_size, bool)
        or not isinstance(page_size, int)
        or not (1 <= page_size <= MAX_LIMIT)
    ):
        raise V2RequestError(
            400, f"page_size must be an integer from 1 to {MAX_LIMIT}, got {page_size!r}"
        )
    run_type = body.get("run_type")
    if run_type is not None and run_type not in RUN_TYPES:
        raise V2RequestError(
            400, f"run_type must be one of {', '.join(RUN_TYPES)}, got {run_type!r}"
        )
    subtree = body.get("include_subtree_usage", False)
    if not isinstance(subtree, bool):
        raise V2RequestError(400, f"include_subtree_usage must be true or false, got {subtree!r}")
    selects = parse_selects(body.get("selects"))
    v1 = {
        "session": projects,
        "run_type": run_type.lower() if isinstance(run_type, str) else None,
        "is_root": body.get("is_root"),
        "error": body.get("has_error"),
        "id": body.get("ids"),
        "trace": body.get("trace_id"),
        "reference_example": body.get("reference_examples"),
        "start_time": low,
        "filter": f"and({window}, {user_filter})" if user_filter else window,
        "trace_filter": _check_filter(body, "trace_filter"),
        "tree_filter": _check_filter(body, "tree_filter"),
        "limit": page_size,
        "cursor": body.get("cursor"),
        "select": v1_fields(selects),
    }
    try:
        query = RunQuery.from_dict(v1)
    except ValueError as exc:
        raise V2RequestError(400, _v2_names(str(exc))) from None
    return query, selects, subtree


_V2_NAMES = {
    "session": "project_ids",
    "id": "ids",
    "trace": "trace_id",
    "reference_example": "reference_examples",
    "error": "has_error",
    "limit": "page_size",
}


def _v2_names(message: str) -> str:
    """A RunQuery validation message with the field named as the v2 client sent it."""
    head, sep, tail = message.partition(":")
    word = head.split(" ", 1)[0]
    if word in _V2_NAMES:
        return _V2_NAMES[word] + message[len(word) :]
    return head + sep + tail


def run_id_param(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise V2RequestError(400, f"run id is not a UUID: {text!r}") from None
