"""The run store interface: what `otel-llm serve` and the CLI need from any store.

SQLite implements it now (`otel_llm.store.sqlite`); a PostgreSQL store can follow with
the same Protocol. Reads return plain JSON-ready dicts in the shape LangSmith's server
answers with, so the HTTP layer only serialises them and the real `langsmith.Client`
parses them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from otel_llm.model import Run

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
DEFAULT_PROJECT = "default"

# `RunStore.row_builder`: runs (and a project name) -> the store's rows, picklable.
# It raises `UnstorableRun` for a run the store cannot hold.
RowBuilder = Callable[[Sequence[Run], "str | None"], list[Any]]


@dataclass
class Attachment:
    """A file attached to a run (LangSmith's `attachment.{run_id}.{name}` part)."""

    run_id: str
    name: str
    mime_type: str
    data: bytes


@dataclass
class StoreChanges:
    """Everything one request asks the store to commit, in one transaction.

    Args:
        rows: runs as rows made by the store's `row_builder` (posted runs, spans).
        patches: partial runs (LangSmith's `PATCH`, SDK JSON shape with an `id`); a patch
            whose run is not stored yet waits for it, so arrival order does not matter.
        feedback: feedback in LangSmith's create shape (`id`, `run_id`, `key`, ...).
        attachments: files of runs.
        log_events: OTLP log records (`otel_llm.otlp.logs.LogRecord.to_dict()`); each
            joins its span's run, now or when the span is stored.
    """

    rows: list[Any] = field(default_factory=list)
    patches: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    log_events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: StoreChanges) -> None:
        self.rows += other.rows
        self.patches += other.patches
        self.feedback += other.feedback
        self.attachments += other.attachments
        self.log_events += other.log_events

    @property
    def size(self) -> int:
        """How many things it stores (runs, patches, feedback, attachments, log records)."""
        return (
            len(self.rows)
            + len(self.patches)
            + len(self.feedback)
            + len(self.attachments)
            + len(self.log_events)
        )


class UnstorableRun(ValueError):
    """A run the store cannot hold as it is (a time beyond the store's range, a child
    with no trace): sending it again cannot help, so it is rejected, not retried.

    Args:
        run_id: the run.
        reason: what is wrong, naming the field.
    """

    def __init__(self, run_id: object, reason: str) -> None:
        super().__init__(f"run {run_id}: {reason}")
        self.run_id = run_id
        self.reason = reason


class StoreError(Exception):
    """A commit that failed, and whether retrying it later can succeed.

    Args:
        message: what failed, in English.
        transient: True for faults that pass (disk full, I/O error, a busy database, a
            closed store during shutdown): the client may retry. False for data the
            store refuses whatever the moment (a constraint, a value it cannot hold).
    """

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class StoreClosedError(StoreError, RuntimeError):
    """The store was closed (the server is shutting down): a retry can succeed."""

    def __init__(self, message: str = "the store is closed") -> None:
        super().__init__(message, transient=True)


# A run in LangSmith's read shape, and a project (TracerSessionResult) likewise.
RunDict = dict[str, Any]
ProjectDict = dict[str, Any]


@dataclass
class RunQuery:
    """The body of LangSmith's `POST /runs/query` (unknown keys are ignored).

    Args:
        session: project ids; None means every project.
        run_type: only runs of this run_type.
        is_root: only root runs (True) or only child runs (False).
        trace: only runs of this trace id.
        parent_run: only the direct children of this run.
        start_time: only runs that started at or after this ISO 8601 time.
        error: only runs with (True) or without (False) an error.
        id: only these run ids.
        reference_example: only runs of these dataset example ids.
        query: free text, searched like `search("...")`.
        filter / trace_filter / tree_filter: the filter language (`otel_llm.store.query`);
            `trace_filter` must hold for the root run of the run's trace, `tree_filter` for
            some run of the trace.
        select: the fields to return (id, name, run_type, start_time, trace_id,
            dotted_order and parent_run_id are always returned).
        limit: page size, 1..1000 (default 100).
        cursor: `cursors.next` of the previous page.
        order: "desc" (newest first, default) or "asc", by start time.
    """

    session: list[str] | None = None
    run_type: str | None = None
    is_root: bool | None = None
    trace: str | None = None
    parent_run: str | None = None
    start_time: str | None = None
    error: bool | None = None
    id: list[str] | None = None
    reference_example: list[str] | None = None
    query: str | None = None
    filter: str | None = None
    trace_filter: str | None = None
    tree_filter: str | None = None
    select: list[str] | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    order: str = "desc"

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> RunQuery:
        """Validate a request body.

        Raises:
            ValueError: naming the field that has the wrong type or value.
        """
        if not isinstance(body, Mapping):
            raise ValueError("the query must be a JSON object")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in body.items() if k in known and v is not None}
        for key in ("session", "id", "reference_example"):
            if key in values:
                values[key] = [_uuid_text(v, key) for v in _as_list(values[key], key)]
        for key in ("trace", "parent_run"):
            if key in values:
                values[key] = _uuid_text(values[key], key)
        for key in (
            "run_type",
            "start_time",
            "query",
            "filter",
            "trace_filter",
            "tree_filter",
            "cursor",
            "order",
        ):
            if key in values and not isinstance(values[key], str):
                raise ValueError(f"{key} must be a string, got {values[key]!r}")
        for key in ("is_root", "error"):
            if key in values and not isinstance(values[key], bool):
                raise ValueError(f"{key} must be true or false, got {values[key]!r}")
        if "select" in values:
            values["select"] = [str(s) for s in _as_list(values["select"], "select")]
        query = cls(**values)
        query.validate()
        return query

    def validate(self) -> None:
        """Raises ValueError when limit or order is out of range."""
        if (
            isinstance(self.limit, bool)
            or not isinstance(self.limit, int)
            or not (1 <= self.limit <= MAX_LIMIT)
        ):
            raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}, got {self.limit!r}")
        if self.order not in ("asc", "desc"):
            raise ValueError(f'order must be "asc" or "desc", got {self.order!r}')


class RunStore(Protocol):
    """Durable storage of runs, trace trees and their aggregates."""

    def ingest(self, runs: Sequence[Run], project: str | None = None) -> int:
        """Store runs in one transaction, committed before returning; idempotent by run id.

        Args:
            runs: the runs; a run whose id is stored already is merged (end_time,
                outputs, error and other given fields win over the stored ones).
            project: project name for every run; else each run's session_name, else
                "default". Projects are created on first use.

        Returns:
            The number of runs written.
        """
        ...

    @property
    def row_builder(self) -> RowBuilder:
        """`ingest`'s CPU-heavy half, runs -> store rows, as a picklable function without
        database access: the server runs it in its decode workers."""
        ...

    def ingest_rows(self, rows: Sequence[Any]) -> int:
        """`ingest`'s other half: commit rows from `row_builder` in one transaction."""
        ...

    def commit(self, changes: StoreChanges) -> int:
        """Commit runs (rows), patches, feedback and attachments in one transaction;
        returns the number of runs written."""
        ...

    def list_feedback(
        self,
        run_ids: Sequence[str] | None = None,
        keys: Sequence[str] | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Feedback (LangSmith's shape) of some runs and keys (None: all), oldest first."""
        ...

    def get_feedback(self, feedback_id: str) -> dict[str, Any] | None: ...

    def attachment_types(self, run_id: str) -> dict[str, str]:
        """name -> MIME type of a run's attachments."""
        ...

    def read_attachment(self, run_id: str, name: str) -> Attachment | None: ...

    def list_sessions(
        self, project_id: str, limit: int = DEFAULT_LIMIT, offset: int = 0
    ) -> list[dict[str, Any]]:
        """A project's sessions (conversations of many traces), the latest first."""
        ...

    def session_traces(self, project_id: str, session_id: str) -> list[dict[str, Any]]:
        """A session's traces in the order they started."""
        ...

    def list_projects(
        self, name: str | None = None, limit: int = DEFAULT_LIMIT, offset: int = 0
    ) -> list[ProjectDict]: ...

    def get_project(self, project_id: str | uuid.UUID) -> ProjectDict | None: ...

    def query_runs(self, q: RunQuery) -> tuple[list[RunDict], str | None]:
        """A page of runs and the cursor of the next page (None on the last page)."""
        ...

    def get_run(self, run_id: str | uuid.UUID) -> RunDict | None: ...

    def run_stats(self, q: RunQuery, end_time: str | None = None) -> dict[str, Any]:
        """Counts, rates, latency percentiles, tokens and cost over the runs `q` selects
        (its page fields ignored); `end_time` bounds their start times from above."""
        ...

    def trace_runs(self, trace_id: str | uuid.UUID) -> list[RunDict]:
        """Every run of a trace, in dotted order (parents before children)."""
        ...

    def get_trace(self, trace_id: str | uuid.UUID) -> dict[str, Any] | None:
        """The trace-level aggregates of a trace (by run trace id or OTel trace id hex)."""
        ...

    def prune(self, older_than_ns: int, project: str | None = None) -> int:
        """Delete whole traces that started before `older_than_ns`; returns runs deleted."""
        ...

    def delete_traces(self, trace_ids: Iterable[str | uuid.UUID]) -> int:
        """Delete traces by run trace id (UUID) or OTel trace id (32 hex digits)."""
        ...

    def set_retention(self, project: str, seconds: float | None) -> None:
        """Keep a project's traces for `seconds` (None: forever); see `apply_retention`."""
        ...

    def apply_retention(self, now_ns: int) -> int:
        """Prune every project that has a retention; returns runs deleted."""
        ...

    def close(self) -> None: ...


def _as_list(value: Any, key: str) -> list[Any]:
    if isinstance(value, (str, uuid.UUID)):
        return [value]
    if isinstance(value, list):
        return value
    raise ValueError(f"{key} must be a list, got {value!r}")


def _uuid_text(value: Any, key: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError(f"{key}: not a UUID: {value!r}") from None
