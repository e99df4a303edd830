"""The SQLite store's schema: tables, the runs row's columns and positions, and the SQL
that upserts runs and traces and keeps rollups current."""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import orjson

# 2: pending_patches, feedback, attachments, the forwarding outbox;
# 3: sessions, log_events (OTLP log records, joined to their runs);
# 4: runs.duplicate_of (double instrumentation), log_events.project.
SCHEMA_VERSION = 4
TENANT_ID = "00000000-0000-0000-0000-000000000000"  # one local tenant
GENERATION_TYPES = frozenset(("llm", "embedding"))
# Events that mark the first token: LangSmith's, and OpenInference's streaming event.
FIRST_TOKEN_EVENTS = frozenset(("new_token", "first_token", "First Token Stream Event"))
GEN_SQL = "('llm', 'embedding')"
_CHUNK = 500  # ids per IN (...) list

SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    start_time INTEGER NOT NULL,
    retention_seconds REAL
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    otel_trace_id TEXT NOT NULL,
    parent_run_id TEXT,
    dotted_order TEXT NOT NULL,
    incomplete INTEGER NOT NULL,
    name TEXT NOT NULL,
    run_type TEXT NOT NULL,
    start_time INTEGER NOT NULL,
    end_time INTEGER,
    error TEXT,
    inputs TEXT,
    outputs TEXT,
    extra TEXT,
    metadata TEXT,
    tags TEXT,
    events TEXT,
    serialized TEXT,
    reference_example_id TEXT,
    attachments TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    total_tokens INTEGER,
    prompt_cost REAL,
    completion_cost REAL,
    total_cost REAL,
    first_token_time INTEGER,
    session_key TEXT,
    trace_key INTEGER NOT NULL,
    duplicate_of TEXT
);
CREATE INDEX IF NOT EXISTS runs_project_start ON runs (project_id, start_time);
CREATE INDEX IF NOT EXISTS runs_project_type_start ON runs (project_id, run_type, start_time);
CREATE INDEX IF NOT EXISTS runs_trace ON runs (trace_key, dotted_order);
CREATE TABLE IF NOT EXISTS orphans (
    run_id TEXT PRIMARY KEY,
    parent_run_id TEXT NOT NULL,
    trace_key INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orphans_trace ON orphans (trace_key);
CREATE INDEX IF NOT EXISTS orphans_parent ON orphans (parent_run_id);
CREATE TABLE IF NOT EXISTS traces (
    key INTEGER PRIMARY KEY,
    otel_trace_id TEXT NOT NULL UNIQUE,
    trace_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    root_run_id TEXT,
    name TEXT,
    complete INTEGER NOT NULL,
    start_time INTEGER NOT NULL,
    end_time INTEGER NOT NULL,
    run_count INTEGER NOT NULL,
    error_count INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    prompt_cost REAL NOT NULL,
    completion_cost REAL NOT NULL,
    total_cost REAL NOT NULL,
    first_token_time INTEGER,
    session_key TEXT
);
CREATE INDEX IF NOT EXISTS traces_trace ON traces (trace_id);
CREATE INDEX IF NOT EXISTS traces_project_start ON traces (project_id, start_time);
CREATE TABLE IF NOT EXISTS pending_patches (
    run_id TEXT PRIMARY KEY,
    patch TEXT NOT NULL,
    received_time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY,
    run_id TEXT,
    trace_id TEXT,
    key TEXT NOT NULL,
    score REAL,
    value TEXT,
    comment TEXT,
    correction TEXT,
    feedback_source TEXT,
    extra TEXT,
    created_time INTEGER NOT NULL,
    modified_time INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_run ON feedback (run_id, created_time);
CREATE TABLE IF NOT EXISTS attachments (
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS log_events (
    key TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    joinable INTEGER NOT NULL,
    run_id TEXT,
    time INTEGER NOT NULL,
    event_name TEXT NOT NULL,
    record TEXT NOT NULL,
    received_time INTEGER NOT NULL,
    project TEXT
);
CREATE INDEX IF NOT EXISTS log_events_span ON log_events (trace_id, span_id);
CREATE INDEX IF NOT EXISTS log_events_run ON log_events (run_id);
CREATE TABLE IF NOT EXISTS log_joins (
    run_id TEXT PRIMARY KEY,
    fields TEXT NOT NULL
);
"""

_RUN_COLUMNS = (
    "id",
    "project_id",
    "trace_id",
    "otel_trace_id",
    "parent_run_id",
    "dotted_order",
    "incomplete",
    "name",
    "run_type",
    "start_time",
    "end_time",
    "error",
    "inputs",
    "outputs",
    "extra",
    "metadata",
    "tags",
    "events",
    "serialized",
    "reference_example_id",
    "attachments",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_cost",
    "completion_cost",
    "total_cost",
    "first_token_time",
    "session_key",
    "trace_key",
)
# Positions in a prepared row (the INSERT's column order).
(
    ID,
    PROJECT,
    TRACE,
    OTEL,
    PARENT,
    DOTTED,
    INCOMPLETE,
    NAME,
    TYPE,
    START,
    END,
    ERROR,
    INPUTS,
    OUTPUTS,
    EXTRA,
    METADATA,
    TAGS,
    EVENTS,
    SERIALIZED,
    REFERENCE,
    ATTACHMENTS,
    P_TOK,
    C_TOK,
    T_TOK,
    P_COST,
    C_COST,
    T_COST,
    FIRST_TOKEN,
    SESSION,
    TRACE_KEY,
) = range(len(_RUN_COLUMNS))
USAGE = slice(P_TOK, T_COST + 1)

# How a stored run merges with the same id arriving again (a retry or a PATCH-like run).
_KEEP_COMPLETE = (
    "CASE WHEN excluded.incomplete > runs.incomplete THEN runs.{c} ELSE excluded.{c} END"
)
_OWN_USAGE = (
    f"CASE WHEN excluded.run_type IN {GEN_SQL} "
    "THEN COALESCE(excluded.{c}, runs.{c}) ELSE runs.{c} END"
)
_MERGE_RULES: dict[str, str] = {
    "trace_id": _KEEP_COMPLETE,
    "dotted_order": _KEEP_COMPLETE,
    "incomplete": "min(runs.incomplete, excluded.incomplete)",
    "name": "excluded.name",
    "run_type": "excluded.run_type",
    "start_time": "excluded.start_time",
    **{
        c: _OWN_USAGE
        for c in (
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "prompt_cost",
            "completion_cost",
            "total_cost",
        )
    },
}
UPSERT = (
    f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_RUN_COLUMNS))}) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(
        f"{c} = " + _MERGE_RULES.get(c, "COALESCE(excluded.{c}, runs.{c})").format(c=c)
        for c in _RUN_COLUMNS
        if c not in ("id", "project_id", "otel_trace_id", "trace_key")
    )
)
TRACE_UPSERT = """
INSERT INTO traces (key, otel_trace_id, trace_id, project_id, root_run_id, name, complete,
    start_time, end_time, run_count, error_count, prompt_tokens, completion_tokens,
    total_tokens, prompt_cost, completion_cost, total_cost, first_token_time, session_key)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (otel_trace_id) DO UPDATE SET
    trace_id = CASE WHEN excluded.complete THEN excluded.trace_id ELSE traces.trace_id END,
    project_id = CASE WHEN excluded.root_run_id IS NOT NULL
                      THEN excluded.project_id ELSE traces.project_id END,
    root_run_id = COALESCE(excluded.root_run_id, traces.root_run_id),
    name = COALESCE(excluded.name, traces.name),
    complete = max(traces.complete, excluded.complete),
    start_time = min(traces.start_time, excluded.start_time),
    end_time = max(traces.end_time, excluded.end_time),
    run_count = traces.run_count + excluded.run_count,
    error_count = traces.error_count + excluded.error_count,
    prompt_tokens = traces.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = traces.completion_tokens + excluded.completion_tokens,
    total_tokens = traces.total_tokens + excluded.total_tokens,
    prompt_cost = traces.prompt_cost + excluded.prompt_cost,
    completion_cost = traces.completion_cost + excluded.completion_cost,
    total_cost = traces.total_cost + excluded.total_cost,
    first_token_time = min(COALESCE(traces.first_token_time, excluded.first_token_time),
                           COALESCE(excluded.first_token_time, traces.first_token_time)),
    session_key = CASE WHEN excluded.root_run_id IS NOT NULL AND excluded.session_key IS NOT NULL
                       THEN excluded.session_key
                       ELSE COALESCE(traces.session_key, excluded.session_key) END
"""
ADD_ROLLUP = (
    "UPDATE runs SET prompt_tokens = COALESCE(prompt_tokens, 0) + ?, "
    "completion_tokens = COALESCE(completion_tokens, 0) + ?, "
    "total_tokens = COALESCE(total_tokens, 0) + ?, "
    "prompt_cost = COALESCE(prompt_cost, 0) + ?, "
    "completion_cost = COALESCE(completion_cost, 0) + ?, "
    f"total_cost = COALESCE(total_cost, 0) + ? WHERE id = ? AND run_type NOT IN {GEN_SQL}"
)
SUBTREE_USAGE = (
    "SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), "
    "COALESCE(SUM(total_tokens), 0), COALESCE(SUM(prompt_cost), 0), "
    "COALESCE(SUM(completion_cost), 0), COALESCE(SUM(total_cost), 0) FROM runs "
    "WHERE trace_key = ? AND trace_id = ? AND dotted_order >= ? AND dotted_order < ? "
    f"AND run_type IN {GEN_SQL} AND duplicate_of IS NULL"  # a duplicate call counts once
)

# Columns read back, and the fields of LangSmith's read shape.
# `duplicate_of` is the store's own (no row gives it): see `duplicates.py`.
_READ_COLUMNS = (
    "rowid",
    *(c for c in _RUN_COLUMNS if c not in ("otel_trace_id", "attachments")),
    "duplicate_of",
)
COLUMN_AT = {c: i for i, c in enumerate(_READ_COLUMNS)}
READ_SQL = ", ".join(_READ_COLUMNS)
READ_SQL_R = ", ".join(f"r.{c}" for c in _READ_COLUMNS)
DOTTED_KEY = operator.itemgetter(COLUMN_AT["dotted_order"])
ALWAYS_SELECTED = frozenset(
    ("id", "name", "run_type", "start_time", "trace_id", "dotted_order", "parent_run_id")
)
READ_FIELDS = (
    "id",
    "name",
    "run_type",
    "start_time",
    "end_time",
    "inputs",
    "outputs",
    "error",
    "extra",
    "tags",
    "events",
    "serialized",
    "session_id",
    "session_name",
    "reference_example_id",
    "parent_run_id",
    "trace_id",
    "dotted_order",
    "status",
    "child_run_ids",
    "parent_run_ids",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_cost",
    "completion_cost",
    "total_cost",
    "prompt_token_details",
    "completion_token_details",
    "first_token_time",
    "feedback_stats",
    "app_path",
    "in_dataset",
    "thread_id",
)
DEFAULT_SELECT = frozenset(READ_FIELDS) - {"child_run_ids"}
METADATA_FIELDS = frozenset(("extra", "prompt_token_details", "completion_token_details"))
loads = orjson.loads

Usage = tuple[float, float, float, float, float, float]
T = TypeVar("T")
ZERO: Usage = (0, 0, 0, 0.0, 0.0, 0.0)


def chunks(items: list[T]) -> Iterator[list[T]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def placeholders(chunk: Sequence[Any]) -> str:
    return ", ".join("?" * len(chunk))


# Columns added after a table's first release, added to older files when they open
# (CREATE TABLE IF NOT EXISTS leaves an existing table as it was); and the indexes that
# need them, made after the columns exist.
ADDED_COLUMNS = (
    ("runs", "session_key", "TEXT"),
    ("traces", "session_key", "TEXT"),
    ("runs", "duplicate_of", "TEXT"),
    ("log_events", "project", "TEXT"),
)
LATE_INDEXES = (
    "CREATE INDEX IF NOT EXISTS traces_project_session ON traces "
    "(project_id, session_key, start_time)",
    "CREATE INDEX IF NOT EXISTS log_events_project ON log_events (project, received_time)",
)
