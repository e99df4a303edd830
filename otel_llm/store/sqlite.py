"""The run store on SQLite: one file, WAL, one serialized writer, readers in parallel.

Durability: every `ingest` is one transaction committed before it returns. With WAL and
`synchronous=NORMAL` (the default) a commit is in the operating system's hands when
`ingest` returns, so it survives `kill -9` of the process; only an OS crash or power
loss can lose the last commits. `synchronous="FULL"` fsyncs every commit and closes
that gap at the cost of one fsync per transaction.

Trees are completed on ingest. Spans end child-first, so a run often arrives before its
parent. Such a run (`extra.otel.incomplete`) has a provisional trace id and a dotted
order that starts at its topmost ancestor present; the topmost run of each such
fragment is listed in the `orphans` table. When a parent arrives, every fragment that
waits for it gets the parent's dotted order as prefix and its trace id, in one indexed
range UPDATE per fragment. A complete trace in one batch touches no orphan at all.

Token counts and costs: a generation (run_type llm or embedding) shows its own usage;
any other run shows the sum over the generations below it (kept current on ingest, so
an agent span's own usage attributes never count twice). Trace aggregates live in the
`traces` table, keyed by OTel trace id so that they never move when a tree is completed.

Indexes, kept few because every one costs ingest time: runs by id, by (project,
start_time) and (project, run_type, start_time) for pages with a keyset cursor, and by
(trace_key, dotted_order) for trees. `trace_key` is an integer each OTel trace gets in
arrival order, so that index grows at its end instead of taking random inserts of UUID
text. WAL checkpoints run on a background thread (`_Checkpointer`), off the commit path.
"""

from __future__ import annotations

import base64
import contextlib
import heapq
import math
import operator
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

from otel_llm._gc import collector_paused
from otel_llm.ids import dotted_segment, uuid_str
from otel_llm.model import Run, iso_to_ns, ns_to_iso
from otel_llm.pricing import PriceTable
from otel_llm.store.base import (
    DEFAULT_LIMIT,
    DEFAULT_PROJECT,
    ProjectDict,
    RunDict,
    RunQuery,
    StoreClosedError,
    StoreError,
    UnstorableRun,
)
from otel_llm.store.query import compile_filter, reads_content

SCHEMA_VERSION = 1
TENANT_ID = "00000000-0000-0000-0000-000000000000"  # one local tenant
GENERATION_TYPES = frozenset(("llm", "embedding"))
FIRST_TOKEN_EVENTS = frozenset(("new_token", "first_token"))
_GEN_SQL = "('llm', 'embedding')"
_CHUNK = 500  # ids per IN (...) list
_MERGE_PROJECTS = 64  # up to this many projects are read one by one and merged
_CONTENT_PROBE = 10_000  # newest runs a content filter tries before a full table scan
_DELETE_CHUNK = 200  # traces deleted per transaction
_PAGE_SIZE = 16384
_CHECKPOINT_INTERVAL = 1.0  # seconds between checkpoints when nothing is written

_SCHEMA = """
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
    trace_key INTEGER NOT NULL
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
    first_token_time INTEGER
);
CREATE INDEX IF NOT EXISTS traces_trace ON traces (trace_id);
CREATE INDEX IF NOT EXISTS traces_project_start ON traces (project_id, start_time);
"""

_RUN_COLUMNS = (
    "id", "project_id", "trace_id", "otel_trace_id", "parent_run_id", "dotted_order",
    "incomplete", "name", "run_type", "start_time", "end_time", "error", "inputs",
    "outputs", "extra", "metadata", "tags", "events", "serialized", "reference_example_id",
    "attachments", "prompt_tokens", "completion_tokens", "total_tokens", "prompt_cost",
    "completion_cost", "total_cost", "first_token_time", "trace_key",
)
# Positions in a prepared row (the INSERT's column order).
(ID, PROJECT, TRACE, OTEL, PARENT, DOTTED, INCOMPLETE, NAME, TYPE, START, END, ERROR,
 INPUTS, OUTPUTS, EXTRA, METADATA, TAGS, EVENTS, SERIALIZED, REFERENCE, ATTACHMENTS,
 P_TOK, C_TOK, T_TOK, P_COST, C_COST, T_COST, FIRST_TOKEN, TRACE_KEY) = range(len(_RUN_COLUMNS))
_USAGE = slice(P_TOK, T_COST + 1)

# How a stored run merges with the same id arriving again (a retry or a PATCH-like run).
_KEEP_COMPLETE = (
    "CASE WHEN excluded.incomplete > runs.incomplete THEN runs.{c} ELSE excluded.{c} END"
)
_OWN_USAGE = (f"CASE WHEN excluded.run_type IN {_GEN_SQL} "
              "THEN COALESCE(excluded.{c}, runs.{c}) ELSE runs.{c} END")
_MERGE_RULES: dict[str, str] = {
    "trace_id": _KEEP_COMPLETE, "dotted_order": _KEEP_COMPLETE,
    "incomplete": "min(runs.incomplete, excluded.incomplete)",
    "name": "excluded.name", "run_type": "excluded.run_type",
    "start_time": "excluded.start_time",
    **{c: _OWN_USAGE for c in ("prompt_tokens", "completion_tokens", "total_tokens",
                               "prompt_cost", "completion_cost", "total_cost")},
}
_UPSERT = (
    f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_RUN_COLUMNS))}) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(
        f"{c} = " + _MERGE_RULES.get(c, "COALESCE(excluded.{c}, runs.{c})").format(c=c)
        for c in _RUN_COLUMNS
        if c not in ("id", "project_id", "otel_trace_id", "trace_key")
    )
)
_TRACE_UPSERT = """
INSERT INTO traces (key, otel_trace_id, trace_id, project_id, root_run_id, name, complete,
    start_time, end_time, run_count, error_count, prompt_tokens, completion_tokens,
    total_tokens, prompt_cost, completion_cost, total_cost, first_token_time)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
                           COALESCE(excluded.first_token_time, traces.first_token_time))
"""
_ADD_ROLLUP = (
    "UPDATE runs SET prompt_tokens = COALESCE(prompt_tokens, 0) + ?, "
    "completion_tokens = COALESCE(completion_tokens, 0) + ?, "
    "total_tokens = COALESCE(total_tokens, 0) + ?, "
    "prompt_cost = COALESCE(prompt_cost, 0) + ?, "
    "completion_cost = COALESCE(completion_cost, 0) + ?, "
    f"total_cost = COALESCE(total_cost, 0) + ? WHERE id = ? AND run_type NOT IN {_GEN_SQL}"
)
_SUBTREE_USAGE = (
    "SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), "
    "COALESCE(SUM(total_tokens), 0), COALESCE(SUM(prompt_cost), 0), "
    "COALESCE(SUM(completion_cost), 0), COALESCE(SUM(total_cost), 0) FROM runs "
    "WHERE trace_key = ? AND trace_id = ? AND dotted_order >= ? AND dotted_order < ? "
    f"AND run_type IN {_GEN_SQL}"
)

# Columns read back, and the fields of LangSmith's read shape.
_READ_COLUMNS = ("rowid", *(c for c in _RUN_COLUMNS if c not in ("otel_trace_id", "attachments")))
_R = {c: i for i, c in enumerate(_READ_COLUMNS)}
_READ_SQL = ", ".join(_READ_COLUMNS)
_READ_SQL_R = ", ".join(f"r.{c}" for c in _READ_COLUMNS)
_DOTTED_KEY = operator.itemgetter(_R["dotted_order"])
ALWAYS_SELECTED = frozenset(
    ("id", "name", "run_type", "start_time", "trace_id", "dotted_order", "parent_run_id")
)
READ_FIELDS = (
    "id", "name", "run_type", "start_time", "end_time", "inputs", "outputs", "error", "extra",
    "tags", "events", "serialized", "session_id", "session_name", "reference_example_id",
    "parent_run_id", "trace_id", "dotted_order", "status", "child_run_ids", "parent_run_ids",
    "prompt_tokens", "completion_tokens", "total_tokens", "prompt_cost", "completion_cost",
    "total_cost", "prompt_token_details", "completion_token_details", "first_token_time",
    "feedback_stats", "app_path", "in_dataset",
)
_DEFAULT_SELECT = frozenset(READ_FIELDS) - {"child_run_ids"}
_METADATA_FIELDS = frozenset(("extra", "prompt_token_details", "completion_token_details"))
_loads = orjson.loads

Usage = tuple[float, float, float, float, float, float]
T = TypeVar("T")
_ZERO: Usage = (0, 0, 0, 0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Fragment:
    """A stored fragment (its topmost run waits for a parent) and where it is."""

    top: str
    parent: str
    trace_key: int
    trace_id: str
    dotted_order: str


@dataclass(slots=True)
class _Stored:
    """What the writer needs to know about a run stored before this batch."""

    trace_id: str
    dotted_order: str
    incomplete: int
    run_type: str
    has_error: bool
    usage: Usage  # own usage for generations (display values otherwise; unused then)


Row = list[Any]
"""One run as a row of the runs table; the project is still a name (or session UUID)."""


class SQLiteRowBuilder:
    """Runs -> rows of the runs table: JSON columns, usage and cost (no database access).

    Picklable (the price table travels with it), so `otel-llm serve` runs it in its decode
    workers and its writer thread only commits.

    Args:
        prices: the price table that costs generation runs.
    """

    def __init__(self, prices: PriceTable) -> None:
        self.prices = prices

    def __call__(self, runs: Iterable[Run], project: str | None = None) -> list[Row]:
        """The rows of `runs` (see `SQLiteStore.ingest` for `project`).

        Raises:
            UnstorableRun: for a run with a parent but neither trace_id nor dotted_order,
                or a time the store cannot hold (an integer column holds 64 bits:
                nanoseconds from 1677 to 2262).
        """
        return [self._row(run, project) for run in runs]

    def _row(self, run: Run, project: str | None) -> Row:
        """A run as a row of the runs table (project still a name or session id)."""
        extra = run.extra
        otel = extra.get("otel")
        run_id = uuid_str(run.id)  # trace and parent ids recur: uuid_str remembers them
        parent = uuid_str(run.parent_run_id) if run.parent_run_id is not None else None
        incomplete = parent is not None and bool(otel and otel.get("incomplete"))
        start, end = run.start_time_ns, run.end_time_ns
        if not _fits_int64(start) or (end is not None and not _fits_int64(end)):
            bad = "start_time" if not _fits_int64(start) else "end_time"
            raise UnstorableRun(run_id, f"{bad} {getattr(run, bad + '_ns')} ns is outside "
                                "what the store holds (nanoseconds from 1677 to 2262)")
        dotted = run.dotted_order
        if dotted is None:
            dotted = dotted_segment(run.start_time_ns, run.id)
            incomplete = parent is not None
        trace = run.trace_id
        if trace is None:
            if parent is not None:
                raise UnstorableRun(
                    run_id, "it has a parent but no trace_id or dotted_order: it cannot be "
                    "placed in a trace"
                )
            trace = run.id
        otel_trace = otel.get("trace_id") if otel else None
        if not isinstance(otel_trace, str):
            otel_trace = trace.hex
        metadata = extra.get("metadata")
        if metadata is not None:
            extra = {k: v for k, v in extra.items() if k != "metadata"}
        row: Row = [
            run_id,
            project or run.session_name or run.session_id or DEFAULT_PROJECT,
            uuid_str(trace), otel_trace.lower(), parent, dotted, int(incomplete),
            run.name, run.run_type, start, end, run.error,
            _dumps(run.inputs), _dumps(run.outputs), _dumps(extra), _dumps(metadata),
            _dumps(run.tags), _dumps(run.events), _dumps(run.serialized),
            str(run.reference_example_id) if run.reference_example_id else None,
            _dumps(run.attachments),
            None, None, None, None, None, None,
            _first_token_ns(run),
            None,  # trace_key, given by the ingest transaction
        ]
        if run.run_type in GENERATION_TYPES:
            usage = run.usage
            if usage:
                row[_USAGE] = self._usage_columns(usage, metadata, run.extra)
        return row

    def _usage_columns(
        self, usage: dict[str, Any], metadata: Any, extra: dict[str, Any]
    ) -> list[Any]:
        prompt = _int(usage.get("input_tokens"))
        completion = _int(usage.get("output_tokens"))
        total = _int(usage.get("total_tokens"))
        if total is None and (prompt is not None or completion is not None):
            total = (prompt or 0) + (completion or 0)
        cost = None
        for model in _model_names(metadata, extra):
            cost = self.prices.cost(model, usage)
            if cost is not None:
                break
        else:
            cost = self.prices.cost(None, usage)
        if cost is None:
            return [prompt, completion, total, None, None, None]
        return [prompt, completion, total, cost.prompt, cost.completion, cost.total]


class SQLiteStore:
    """The run store in one SQLite file.

    Args:
        path: the database file (created with its schema if missing).
        prices_path: a price file that extends or overrides the shipped price table.
        synchronous: "NORMAL" (survives a process crash) or "FULL" (also an OS crash).
        prices: a ready price table (wins over `prices_path`; for tests and embedding).
        max_wal_bytes: past this WAL size the writer checkpoints itself (normally a
            background thread does it without blocking writes).
        checkpoint_interval: None (default) to copy WAL pages into the database file
            after every commit, on a background thread: best while a core is free, as
            it keeps the WAL short. Seconds between checkpoints otherwise: pages that
            consecutive commits rewrite are then copied once, which saves CPU when every
            core is busy (the server with its decode workers).

    Raises:
        ValueError: when the file was written by a newer schema, or the price file is bad.
    """

    def __init__(
        self,
        path: str | Path,
        prices_path: str | Path | None = None,
        *,
        synchronous: str = "NORMAL",
        prices: PriceTable | None = None,
        max_wal_bytes: int = 256 * 1024 * 1024,
        checkpoint_interval: float | None = None,
    ) -> None:
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError(f'synchronous must be "NORMAL" or "FULL", got {synchronous!r}')
        self.path = Path(path)
        self.prices = prices if prices is not None else PriceTable.load(prices_path)
        self._synchronous = synchronous.upper()
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self.max_wal_bytes = max_wal_bytes
        self._wal_path = str(self.path) + "-wal"
        self._checkpointer: _Checkpointer | None = None  # started by the first commit
        self._checkpoint_interval = checkpoint_interval
        self._writer = self._connect()
        self._writer.execute(f"PRAGMA synchronous = {self._synchronous}")
        self._writer.execute("PRAGMA wal_autocheckpoint = 0")  # see _Checkpointer
        self._create_schema()
        # name -> id of committed projects (writer side); projects created by the open
        # transaction wait in _new_project_ids until it commits, so a rollback cannot
        # leave an id whose row is gone.
        self._project_ids: dict[str, str] = {}
        self._new_project_ids: dict[str, str] = {}
        self._project_names: dict[str, str] = {}  # id -> name, read side

    # --- connections and schema ----------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        # Runs are large rows (~1-2 KB of JSON): bigger pages mean fewer overflow pages
        # and page splits. Takes effect only when the file is created.
        conn.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -32000")  # 32 MB
        return conn

    def _create_schema(self) -> None:
        conn = self._writer
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"{self.path} has store schema version {version}; this otel-llm reads up to "
                f"{SCHEMA_VERSION}: upgrade otel-llm"
            )
        if version < SCHEMA_VERSION:
            conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA +
                               f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreClosedError("the store is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = 1")
            # Many server threads may each hold a reader: keep their caches small (the
            # OS page cache serves repeated reads anyway).
            conn.execute("PRAGMA cache_size = -8000")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection; the store cannot be used afterwards."""
        with self._write_lock, self._readers_lock:
            if self._closed:
                return
            self._closed = True
            if self._checkpointer is not None:
                self._checkpointer.stop()
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            # The last connection to close checkpoints and removes the WAL by itself; an
            # explicit checkpoint here could stall a server writing to the same file.
            self._writer.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self) -> _Transaction:
        if self._closed:
            raise StoreClosedError("the store is closed")
        return _Transaction(self)

    def _rolled_back(self) -> None:
        """After a rollback (writer lock held): forget what the transaction created."""
        self._new_project_ids.clear()

    def _committed(self) -> None:
        """After each commit (writer lock held): let the checkpointer copy the new pages;
        past `max_wal_bytes` checkpoint here so the WAL cannot grow without bound."""
        self._project_ids.update(self._new_project_ids)
        self._new_project_ids.clear()
        if self._checkpointer is None:
            self._checkpointer = _Checkpointer(
                self.path, self._checkpoint_interval or _CHECKPOINT_INTERVAL)
        if self._checkpoint_interval is None:
            self._checkpointer.wake.set()
        try:
            wal_bytes = os.path.getsize(self._wal_path)
        except OSError:
            return
        if wal_bytes > self.max_wal_bytes:
            self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # --- ingest ----------------------------------------------------------------------

    def ingest(self, runs: Sequence[Run], project: str | None = None) -> int:
        """Store runs in one transaction, committed before returning; idempotent by id.

        Args:
            runs: the runs. A run whose id is stored already is merged: fields it gives
                (end_time, outputs, error, ...) win, fields it lacks keep their value.
            project: project name for all runs; else each run's session_name (or its
                session_id's project), else "default". Projects are created on first use.

        Returns:
            The number of runs written (distinct ids).

        Raises:
            ValueError: for a run with a parent but neither trace_id nor dotted_order.
        """
        return self.ingest_rows(self.row_builder(runs, project))

    @property
    def row_builder(self) -> SQLiteRowBuilder:
        """The CPU-heavy half of `ingest` (runs -> rows) as a picklable function, so the
        server can run it in its decode workers and commit only rows here."""
        return SQLiteRowBuilder(self.prices)

    def ingest_rows(self, rows: Sequence[Row]) -> int:
        """Store rows made by `row_builder` in one transaction; see `ingest`."""
        if not rows:
            return 0
        # The transaction fills in project ids and trace keys: it works on copies, so
        # rows handed in stay as they came and can be committed again after a failure.
        by_id: dict[str, Row] = {}
        for row in rows:
            prev = by_id.get(row[ID])
            by_id[row[ID]] = row.copy() if prev is None else _merge_rows(prev, row)
        try:
            with self._write() as conn:
                self._resolve_projects(conn, by_id.values())
                _Ingest(conn, by_id).run()
        except (sqlite3.Error, OverflowError, UnicodeEncodeError, MemoryError) as exc:
            raise store_error(exc) from exc
        return len(by_id)

    def _resolve_projects(self, conn: sqlite3.Connection, rows: Iterable[list[Any]]) -> None:
        """Replace each row's project name (or session id) with the project id."""
        first_start: dict[str | uuid.UUID, int] = {}
        for row in rows:
            key = row[PROJECT]
            if key not in first_start or row[START] < first_start[key]:
                first_start[key] = row[START]
        resolved: dict[str | uuid.UUID, str] = {}
        for key, start in first_start.items():
            if isinstance(key, uuid.UUID):
                resolved[key] = self._project_by_id(conn, str(key), start)
            else:
                resolved[key] = self._project_by_name(conn, key, start)
        for row in rows:
            row[PROJECT] = resolved[row[PROJECT]]

    def _project_by_name(self, conn: sqlite3.Connection, name: str, start_ns: int) -> str:
        cached = self._project_ids.get(name) or self._new_project_ids.get(name)
        if cached is not None:
            return cached
        found = conn.execute("SELECT id FROM projects WHERE name = ?", (name,)).fetchone()
        if found is None:
            project_id = str(uuid.uuid4())
            conn.execute("INSERT INTO projects (id, name, start_time) VALUES (?, ?, ?)",
                         (project_id, name, start_ns))
            self._new_project_ids[name] = project_id
        else:
            project_id = self._project_ids[name] = found[0]
        return project_id

    def _project_by_id(self, conn: sqlite3.Connection, project_id: str, start_ns: int) -> str:
        found = conn.execute("SELECT id FROM projects WHERE id = ?", (project_id,)).fetchone()
        if found is None:
            conn.execute(
                "INSERT OR IGNORE INTO projects (id, name, start_time) VALUES (?, ?, ?)",
                (project_id, project_id, start_ns),
            )
        return project_id

    # --- retention -----------------------------------------------------------------

    def prune(self, older_than_ns: int, project: str | None = None) -> int:
        """Delete whole traces that started before `older_than_ns`.

        Deletes a few hundred traces per transaction, so ingest never waits long.

        Args:
            older_than_ns: epoch nanoseconds.
            project: only this project (by name); None means every project.

        Returns:
            The number of runs deleted.
        """
        conn = self._reader()
        if project is None:
            keys = conn.execute("SELECT key FROM traces WHERE start_time < ?",
                                (older_than_ns,)).fetchall()
        else:
            keys = conn.execute(
                "SELECT t.key FROM traces t JOIN projects p ON p.id = t.project_id "
                "WHERE p.name = ? AND t.start_time < ?", (project, older_than_ns)
            ).fetchall()
        return self._delete_keys([k[0] for k in keys])

    def delete_traces(self, trace_ids: Iterable[str | uuid.UUID]) -> int:
        """Delete traces by run trace id (a UUID) or OTel trace id (32 hex digits).

        Returns:
            The number of runs deleted.

        Raises:
            ValueError: for an id that is neither.
        """
        conn = self._reader()
        keys: set[int] = set()
        for trace_id in trace_ids:
            keys.update(_trace_keys(conn, trace_id))
        return self._delete_keys(sorted(keys))

    def set_retention(self, project: str, seconds: float | None) -> None:
        """Keep a project's traces for `seconds` (None: forever); `apply_retention` prunes.

        The project is created if it does not exist yet.

        Raises:
            ValueError: when seconds is not positive.
        """
        if seconds is not None and seconds <= 0:
            raise ValueError(f"retention must be a positive number of seconds, got {seconds}")
        with self._write() as conn:
            project_id = self._project_by_name(conn, project, _now_ns())
            conn.execute("UPDATE projects SET retention_seconds = ? WHERE id = ?",
                         (seconds, project_id))

    def apply_retention(self, now_ns: int) -> int:
        """Prune every project that has a retention; returns the runs deleted."""
        conn = self._reader()
        projects = conn.execute(
            "SELECT name, retention_seconds FROM projects WHERE retention_seconds IS NOT NULL"
        ).fetchall()
        return sum(self.prune(now_ns - int(seconds * 1e9), name) for name, seconds in projects)

    def _delete_keys(self, keys: list[int]) -> int:
        deleted = 0
        for i in range(0, len(keys), _DELETE_CHUNK):
            chunk = keys[i: i + _DELETE_CHUNK]
            marks = _marks(chunk)
            with self._write() as conn:
                deleted += conn.execute(
                    f"DELETE FROM runs WHERE trace_key IN ({marks})", chunk).rowcount
                conn.execute(f"DELETE FROM orphans WHERE trace_key IN ({marks})", chunk)
                conn.execute(f"DELETE FROM traces WHERE key IN ({marks})", chunk)
        return deleted

    # --- reads: projects -------------------------------------------------------------

    def list_projects(
        self, name: str | None = None, limit: int = DEFAULT_LIMIT, offset: int = 0
    ) -> list[ProjectDict]:
        """Projects (LangSmith's TracerSessionResult shape), newest first.

        Args:
            name: only the project of this exact name.
            limit / offset: the page.
        """
        conn = self._reader()
        sql = "SELECT id, name, start_time, retention_seconds FROM projects"
        params: list[Any] = []
        if name is not None:
            sql += " WHERE name = ?"
            params.append(name)
        sql += " ORDER BY start_time DESC, name LIMIT ? OFFSET ?"
        params += [max(limit, 0), max(offset, 0)]
        rows = conn.execute(sql, params).fetchall()
        return [_project_dict(row, self._project_stats(conn, row[0])) for row in rows]

    def get_project(self, project_id: str | uuid.UUID) -> ProjectDict | None:
        """One project by id, or None."""
        try:
            pid = str(uuid.UUID(str(project_id)))
        except ValueError:
            return None
        conn = self._reader()
        row = conn.execute(
            "SELECT id, name, start_time, retention_seconds FROM projects WHERE id = ?", (pid,)
        ).fetchone()
        return None if row is None else _project_dict(row, self._project_stats(conn, pid))

    def _project_stats(self, conn: sqlite3.Connection, project_id: str) -> tuple[Any, ...]:
        row: tuple[Any, ...] = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(run_count), 0), COALESCE(SUM(prompt_tokens), 0), "
            "COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(total_tokens), 0), "
            "COALESCE(SUM(prompt_cost), 0), COALESCE(SUM(completion_cost), 0), "
            "COALESCE(SUM(total_cost), 0), MAX(start_time), "
            "COALESCE(SUM(error_count > 0), 0) FROM traces WHERE project_id = ?",
            (project_id,),
        ).fetchone()
        return row

    def _project_name(self, conn: sqlite3.Connection, project_id: str) -> str | None:
        name = self._project_names.get(project_id)
        if name is None:
            row = conn.execute("SELECT name FROM projects WHERE id = ?", (project_id,)).fetchone()
            if row is not None:
                name = self._project_names[project_id] = row[0]
        return name

    # --- reads: runs -----------------------------------------------------------------

    def get_run(self, run_id: str | uuid.UUID) -> RunDict | None:
        """One run in the read shape, with its child_run_ids; None when unknown."""
        try:
            rid = str(uuid.UUID(str(run_id)))
        except ValueError:
            return None
        conn = self._reader()
        row = conn.execute(
            f"SELECT {_READ_SQL} FROM runs WHERE id = ?", (rid,)
        ).fetchone()
        if row is None:
            return None
        run = self._run_dict(conn, row, _DEFAULT_SELECT)
        run["child_run_ids"] = _children(conn, row)
        return run

    def trace_runs(self, trace_id: str | uuid.UUID) -> list[RunDict]:
        """Every run of a trace in dotted order (parents first), with child_run_ids.

        Args:
            trace_id: the run trace id (the root run's id) or the OTel trace id (hex);
                the latter also returns runs still waiting for their ancestors.
        """
        conn = self._reader()
        rows: list[tuple[Any, ...]] = []
        for key, run_trace_id in _trace_selector(conn, trace_id):
            if run_trace_id is None:
                rows += conn.execute(f"SELECT {_READ_SQL} FROM runs WHERE trace_key = ?",
                                     (key,)).fetchall()
            else:
                rows += conn.execute(
                    f"SELECT {_READ_SQL} FROM runs WHERE trace_key = ? AND trace_id = ?",
                    (key, run_trace_id)).fetchall()
        rows.sort(key=_DOTTED_KEY)
        with collector_paused():
            runs = [self._run_dict(conn, row, _DEFAULT_SELECT) for row in rows]
        children: dict[str, list[str]] = {}
        for run in runs:
            if run["parent_run_id"] is not None:
                children.setdefault(run["parent_run_id"], []).append(run["id"])
        for run in runs:
            run["child_run_ids"] = children.get(run["id"], [])
        return runs

    def get_trace(self, trace_id: str | uuid.UUID) -> dict[str, Any] | None:
        """Trace-level aggregates by run trace id or OTel trace id (hex); None if unknown."""
        column, value = _trace_key(trace_id)
        conn = self._reader()
        row = conn.execute(
            "SELECT otel_trace_id, trace_id, project_id, root_run_id, name, start_time, "
            "end_time, run_count, error_count, prompt_tokens, completion_tokens, total_tokens, "
            "prompt_cost, completion_cost, total_cost, first_token_time FROM traces "
            f"WHERE {column} = ?", (value,)
        ).fetchone()
        if row is None:
            return None
        (otel, tid, pid, root, name, start, end, count, errors, pt, ct, tt, pc, cc, tc,
         first) = row
        end_ns = end or None
        return {
            "trace_id": tid, "otel_trace_id": otel, "session_id": pid,
            "root_run_id": root, "name": name, "incomplete": root is None,
            "start_time": ns_to_iso(start), "end_time": ns_to_iso(end_ns) if end_ns else None,
            "latency": (end_ns - start) / 1e9 if end_ns else None,
            "run_count": count, "error_count": errors, "prompt_tokens": pt,
            "completion_tokens": ct, "total_tokens": tt, "prompt_cost": pc,
            "completion_cost": cc, "total_cost": tc,
            "first_token_time": ns_to_iso(first) if first else None,
        }

    def query_runs(self, q: RunQuery) -> tuple[list[RunDict], str | None]:
        """A page of runs (LangSmith's `POST /runs/query`) and the next page's cursor.

        Raises:
            ValueError: for a bad cursor, time or limit; `FilterSyntaxError` (a
                ValueError) for a bad filter.
        """
        q.validate()
        conn = self._reader()
        conds, params = self._conditions(conn, q)
        if conds is None:
            return [], None
        desc = q.order == "desc"
        keyset, keyset_params = "1", []
        if q.cursor is not None:
            start, rowid = _decode_cursor(q.cursor)
            keyset = f"(r.start_time, r.rowid) {'<' if desc else '>'} (?, ?)"
            keyset_params = [start, rowid]
        direction = "DESC" if desc else "ASC"
        order = f" ORDER BY r.start_time {direction}, r.rowid {direction}"
        tail = f"{order} LIMIT {q.limit + 1}"
        where = " AND ".join([*conds, keyset])
        params += keyset_params
        select = f"SELECT {_READ_SQL_R} FROM runs r WHERE"
        sessions = q.session
        if sessions is None and not (q.trace or q.id or q.parent_run):
            sessions = [r[0] for r in conn.execute("SELECT id FROM projects")]
        rows: list[Any] | None = None
        if sessions is None:
            rows = conn.execute(f"{select} {where}{tail}", params).fetchall()
        elif q.trace or q.id or q.parent_run or len(sessions) > _MERGE_PROJECTS:
            marks = ", ".join("?" * len(sessions))
            rows = conn.execute(f"{select} r.project_id IN ({marks}) AND {where}{tail}",
                                [*sessions, *params]).fetchall()
        elif _scans_content(q):
            rows = _content_rows(conn, sessions, select, where, params, q.limit, order,
                                 (keyset, keyset_params))
        if rows is None:
            assert sessions is not None
            # One keyset scan per project on its (project_id, start_time) index, merged:
            # far cheaper than sorting every matching run of several projects.
            sql = f"{select} r.project_id = ? AND {where}{tail}"
            pages = [conn.execute(sql, [pid, *params]).fetchall() for pid in sessions]
            rows = list(heapq.merge(*pages, key=_row_order_key(desc)))[: q.limit + 1]
        more = len(rows) > q.limit
        rows = rows[: q.limit]
        fields = _select_fields(q.select)
        runs = [self._run_dict(conn, row, fields) for row in rows]
        if "child_run_ids" in fields:
            for run, row in zip(runs, rows, strict=True):
                run["child_run_ids"] = _children(conn, row)
        next_cursor = None
        if more and rows:
            last = rows[-1]
            next_cursor = _encode_cursor(last[_R["start_time"]], last[_R["rowid"]])
        return runs, next_cursor

    def run_stats(self, q: RunQuery, end_time: str | None = None) -> dict[str, Any]:
        """Aggregates over the runs `q` selects (`POST /runs/stats`): `store/stats.py`."""
        from otel_llm.store.stats import run_stats

        return run_stats(self, q, end_time)

    def _conditions(
        self, conn: sqlite3.Connection, q: RunQuery
    ) -> tuple[list[str] | None, list[Any]]:
        """WHERE conditions for a query; None when it cannot match anything."""
        conds: list[str] = []
        params: list[Any] = []
        if q.run_type is not None:
            conds.append("r.run_type = ?")
            params.append(q.run_type)
        if q.is_root is not None:
            conds.append("r.parent_run_id IS NULL" if q.is_root else "r.parent_run_id IS NOT NULL")
        if q.trace is not None:
            selected = _trace_selector(conn, q.trace)
            if not selected:
                return None, []
            either = []
            for key, run_trace_id in selected:
                either.append("r.trace_key = ?" if run_trace_id is None
                              else "(r.trace_key = ? AND r.trace_id = ?)")
                params += [key] if run_trace_id is None else [key, run_trace_id]
            conds.append("(" + " OR ".join(either) + ")")
        if q.parent_run is not None:
            parent = conn.execute("SELECT trace_key FROM runs WHERE id = ?",
                                  (q.parent_run,)).fetchone()
            if parent is None:
                return None, []
            conds.append("r.trace_key = ? AND r.parent_run_id = ?")
            params += [parent[0], q.parent_run]
        if q.start_time is not None:
            try:
                start_ns = iso_to_ns(q.start_time)
            except ValueError:
                raise ValueError(f"start_time is not an ISO 8601 time: {q.start_time!r}") from None
            conds.append("r.start_time >= ?")
            params.append(min(max(start_ns, _INT64_MIN), _INT64_MAX))  # beyond: all or none
        if q.error is not None:
            conds.append("r.error IS NOT NULL" if q.error else "r.error IS NULL")
        if q.id is not None:
            if not q.id:
                return None, []
            conds.append(f"r.id IN ({', '.join('?' * len(q.id))})")
            params += q.id
        if q.reference_example is not None:
            if not q.reference_example:
                return None, []
            conds.append(f"r.reference_example_id IN ({', '.join('?' * len(q.reference_example))})")
            params += q.reference_example
        if q.query:
            sql, p = compile_filter(f"search({_quote(q.query)})")
            conds.append(sql)
            params += p
        if q.filter:
            sql, p = compile_filter(q.filter, "r")
            conds.append(sql)
            params += p
        if q.trace_filter:
            sql, p = compile_filter(q.trace_filter, "t")
            conds.append(f"EXISTS (SELECT 1 FROM runs t WHERE t.id = r.trace_id AND {sql})")
            params += p
        if q.tree_filter:
            sql, p = compile_filter(q.tree_filter, "t")
            conds.append("EXISTS (SELECT 1 FROM runs t WHERE t.trace_key = r.trace_key "
                         f"AND t.trace_id = r.trace_id AND {sql})")
            params += p
        return conds, params

    def _run_dict(
        self, conn: sqlite3.Connection, row: tuple[Any, ...], fields: frozenset[str]
    ) -> RunDict:
        """One row in LangSmith's read shape, restricted to `fields` (JSON columns are
        decoded only when selected)."""
        (_, run_id, project_id, trace_id, parent, dotted, incomplete, name, run_type,
         start, end, error, inputs, outputs, extra_raw, metadata_raw, tags, events, serialized,
         reference, pt, ct, tt, pc, cc, tc, first, _) = row
        full = fields is _DEFAULT_SELECT
        d: RunDict = {
            "id": run_id,
            "name": name,
            "run_type": run_type,
            "start_time": _iso(start),
            "end_time": _iso(end) if end is not None else None,
            "error": error,
            "status": "error" if error is not None else (
                "pending" if end is None else "success"),
            "session_id": project_id,
            "session_name": self._project_name(conn, project_id),
            "reference_example_id": reference,
            "parent_run_id": parent,
            "trace_id": trace_id,
            "dotted_order": dotted,
            "parent_run_ids": [seg[-36:] for seg in dotted.split(".")[:-1]],
            "prompt_tokens": pt,
            "completion_tokens": ct,
            "total_tokens": tt,
            "prompt_cost": pc,
            "completion_cost": cc,
            "total_cost": tc,
            "first_token_time": _iso(first) if first is not None else None,
            "feedback_stats": None,
            "app_path": None,
            "in_dataset": False,
        }
        if full or "inputs" in fields:
            d["inputs"] = _loads(inputs) if inputs is not None else {}
        if full or "outputs" in fields:
            d["outputs"] = _loads(outputs) if outputs is not None else None
        if full or "tags" in fields:
            d["tags"] = _loads(tags) if tags is not None else []
        if full or "events" in fields:
            d["events"] = _loads(events) if events is not None else []
        if full or "serialized" in fields:
            d["serialized"] = _loads(serialized) if serialized is not None else None
        if full or not _METADATA_FIELDS.isdisjoint(fields):
            metadata = _loads(metadata_raw) if metadata_raw is not None else None
            extra: dict[str, Any] = _loads(extra_raw) if extra_raw is not None else {}
            if metadata is not None:
                extra["metadata"] = metadata
            otel = extra.get("otel")
            if isinstance(otel, dict):
                # The stored flag is the truth: a completed tree clears it.
                if incomplete:
                    otel["incomplete"] = True
                else:
                    otel.pop("incomplete", None)
            d["extra"] = extra
            usage = metadata.get("usage_metadata") if isinstance(metadata, dict) else None
            if run_type in GENERATION_TYPES and isinstance(usage, dict):
                d["prompt_token_details"] = _int_details(usage.get("input_token_details"))
                d["completion_token_details"] = _int_details(usage.get("output_token_details"))
        if full:
            return d
        return {k: v for k, v in d.items() if k in fields}


class _Transaction:
    """`with store._write() as conn:` one IMMEDIATE transaction under the writer lock."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.conn = store._writer

    def __enter__(self) -> sqlite3.Connection:
        self.store._write_lock.acquire()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.store._write_lock.release()
            raise
        return self.conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if exc_type is None:
                try:
                    self.conn.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
                self.store._committed()
            else:
                self._rollback()
        finally:
            self.store._write_lock.release()

    def _rollback(self) -> None:
        self.store._rolled_back()
        if self.conn.in_transaction:  # SQLite may have rolled back by itself already
            self.conn.execute("ROLLBACK")


class _Checkpointer:
    """Copies committed WAL pages into the database file on its own thread and
    connection (a PASSIVE checkpoint never blocks the writer), so commits stay cheap:
    the writer itself never checkpoints unless the WAL outgrows `max_wal_bytes`."""

    def __init__(self, path: Path, interval: float) -> None:
        self.path = path
        self.interval = interval
        self.wake = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="otel-llm-checkpoint",
                                       daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=30.0)
        try:
            while not self.stopping:
                self.wake.wait(self.interval)
                self.wake.clear()
                if self.stopping:
                    break
                with contextlib.suppress(sqlite3.Error):  # busy: the next round catches up
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopping = True
        self.wake.set()
        self.thread.join()


class _Ingest:
    """The work of one ingest transaction: place runs in their trees, upsert them, keep
    rollups and trace aggregates current."""

    def __init__(self, conn: sqlite3.Connection, rows: dict[str, list[Any]]) -> None:
        self.conn = conn
        self.rows = rows
        self.existing: dict[str, _Stored] = {}
        # Parent id of the topmost run of each fragment that may be placed now.
        self.parent_of_top: dict[str, str] = {}
        self.stored: dict[str, tuple[str, str, int]] = {}  # id -> (dotted, trace, incomplete)
        self.resolved: dict[str, tuple[str, str, int] | None] = {}
        self.rollup: dict[str, list[float]] = {}  # non-generation ancestor -> usage to add
        self.keys: dict[str, int] = {}  # OTel trace id -> trace key

    def run(self) -> None:
        rows = self.rows
        self.existing = self._fetch_existing()
        known_traces = self._trace_keys({row[OTEL] for row in rows.values()})
        for row in rows.values():
            row[TRACE_KEY] = self.keys[row[OTEL]]
        attached: list[Fragment] = []
        if any(row[INCOMPLETE] for row in rows.values()) or known_traces:
            attached = self._place(known_traces)
        fragments = self._attach_fragments(attached)
        self._new_subtree_usage(known_traces)
        self.conn.executemany(_UPSERT, rows.values())
        self._orphans(attached)
        self._aggregate(fragments)

    # Stored state this batch depends on.

    def _fetch_existing(self) -> dict[str, _Stored]:
        out: dict[str, _Stored] = {}
        for chunk in _chunks(list(self.rows)):
            for (rid, trace, dotted, inc, rtype, has_error, *usage) in self.conn.execute(
                "SELECT id, trace_id, dotted_order, incomplete, run_type, error IS NOT NULL, "
                "prompt_tokens, completion_tokens, total_tokens, prompt_cost, "
                f"completion_cost, total_cost FROM runs WHERE id IN ({_marks(chunk)})", chunk
            ):
                out[rid] = _Stored(trace, dotted, inc, rtype, bool(has_error),
                                   tuple(u or 0 for u in usage))  # type: ignore[arg-type]
        return out

    def _trace_keys(self, traces: set[str]) -> set[str]:
        """Key every OTel trace of the batch: stored traces keep theirs, new ones get the
        next free keys, so the runs' trace index grows at its end. Returns the OTel
        trace ids stored before."""
        for chunk in _chunks(list(traces)):
            self.keys.update(self.conn.execute(
                "SELECT otel_trace_id, key FROM traces "
                f"WHERE otel_trace_id IN ({_marks(chunk)})", chunk))
        known = set(self.keys)
        next_key: int = self.conn.execute(
            "SELECT COALESCE(MAX(key), 0) + 1 FROM traces").fetchone()[0]
        for otel in traces - known:
            self.keys[otel] = next_key
            next_key += 1
        return known

    # Tree placement.

    def _place(self, known_traces: set[str]) -> list[Fragment]:
        """Give every incomplete row of the batch its final dotted order and trace id,
        and find the stored fragments that wait for a run of this batch."""
        rows = self.rows
        for rid, row in rows.items():
            if row[INCOMPLETE] and row[PARENT] not in rows:
                self.parent_of_top[rid] = row[PARENT]
        # Stored fragments whose missing parent is in this batch.
        attached: list[Fragment] = []
        for chunk in _chunks([self.keys[t] for t in known_traces]):
            for top, parent, key, trace, dotted in self.conn.execute(
                "SELECT o.run_id, o.parent_run_id, o.trace_key, r.trace_id, r.dotted_order "
                "FROM orphans o JOIN runs r ON r.id = o.run_id "
                f"WHERE o.trace_key IN ({_marks(chunk)})", chunk,
            ):
                if parent in rows:
                    attached.append(Fragment(top, parent, key, trace, dotted))
                    self.parent_of_top.setdefault(top, parent)
        # Stored parents of the batch's topmost runs.
        wanted = [p for t, p in self.parent_of_top.items() if t in rows and p not in rows]
        for ids in _chunks(wanted):
            for rid, trace, dotted, inc in self.conn.execute(
                "SELECT id, trace_id, dotted_order, incomplete FROM runs "
                f"WHERE id IN ({_marks(ids)})", ids
            ):
                self.stored[rid] = (dotted, trace, inc)
        for row in rows.values():
            if row[INCOMPLETE]:
                row[DOTTED], row[TRACE], row[INCOMPLETE] = self._final(
                    row[DOTTED], row[TRACE], row[INCOMPLETE], set()
                )
        return attached

    def _final(self, dotted: str, trace: str, incomplete: int,
               visiting: set[str]) -> tuple[str, str, int]:
        """The placement of a (partial) dotted order once every ancestor now known is
        prepended; unchanged when its topmost run's parent is still missing."""
        if not incomplete:
            return dotted, trace, incomplete
        top = dotted.split(".", 1)[0][-36:]
        if top in self.resolved:
            prefix = self.resolved[top]
        else:
            prefix = None
            parent = self.parent_of_top.get(top)
            if parent is not None and top not in visiting:  # a parent cycle stays unplaced
                visiting.add(top)
                source = self.rows.get(parent)
                if source is not None:
                    prefix = self._final(source[DOTTED], source[TRACE], source[INCOMPLETE],
                                         visiting)
                elif parent in self.stored:
                    prefix = self._final(*self.stored[parent], visiting)
            self.resolved[top] = prefix
        if prefix is None:
            return dotted, trace, incomplete
        return f"{prefix[0]}.{dotted}", prefix[1], prefix[2]

    def _attach_fragments(self, attached: list[Fragment]) -> list[tuple[str, Usage]]:
        """Move stored fragments under their parent from this batch; returns, per
        fragment, the new parent's dotted order and the fragment's generation usage."""
        out: list[tuple[str, Usage]] = []
        for f in attached:
            source = self.rows[f.parent]
            subtree = (f.trace_key, f.trace_id, f.dotted_order, f.dotted_order + "/")
            usage: Usage = self.conn.execute(_SUBTREE_USAGE, subtree).fetchone()
            self.conn.execute(
                "UPDATE runs SET dotted_order = ? || '.' || dotted_order, trace_id = ?, "
                "incomplete = ? WHERE trace_key = ? AND trace_id = ? AND dotted_order >= ? "
                "AND dotted_order < ?",
                (source[DOTTED], source[TRACE], source[INCOMPLETE], *subtree),
            )
            out.append((source[DOTTED], usage))
        return out

    def _new_subtree_usage(self, known_traces: set[str]) -> None:
        """A new non-generation run of a trace stored before starts with the usage of
        the generations already stored below it."""
        for rid, row in self.rows.items():
            if (row[OTEL] in known_traces and rid not in self.existing
                    and row[TYPE] not in GENERATION_TYPES):
                dotted = row[DOTTED]
                usage = self.conn.execute(
                    _SUBTREE_USAGE, (row[TRACE_KEY], row[TRACE], dotted + ".", dotted + "/")
                ).fetchone()
                if any(usage):
                    row[_USAGE] = list(usage)

    def _orphans(self, attached: list[Fragment]) -> None:
        if attached:
            self.conn.executemany("DELETE FROM orphans WHERE run_id = ?",
                                  [(f.top,) for f in attached])
        waiting = [
            (rid, row[PARENT], row[TRACE_KEY]) for rid, row in self.rows.items()
            if row[INCOMPLETE] and rid in self.parent_of_top
            and row[PARENT] not in self.stored and row[PARENT] not in self.rows
        ]
        if waiting:
            self.conn.executemany(
                "INSERT OR REPLACE INTO orphans (run_id, parent_run_id, trace_key) "
                "VALUES (?, ?, ?)", waiting)

    # Rollups and trace aggregates.

    def _aggregate(self, fragments: list[tuple[str, Usage]]) -> None:
        rows = self.rows
        existing = self.existing
        rollup = self.rollup
        per_trace: dict[str, list[Any]] = {}
        for rid, row in rows.items():
            old = existing.get(rid)
            is_gen = row[TYPE] in GENERATION_TYPES
            has_error = row[ERROR] is not None or (old is not None and old.has_error)
            usage: Usage = _ZERO
            if is_gen:
                own = row[_USAGE]
                if old is not None and old.run_type in GENERATION_TYPES:
                    usage = tuple(  # type: ignore[assignment]
                        o if n is None else n for n, o in zip(own, old.usage, strict=True))
                else:
                    usage = tuple(n or 0 for n in own)  # type: ignore[assignment]
            delta: list[float] = list(usage)
            if old is not None and old.run_type in GENERATION_TYPES:
                delta = [n - o for n, o in zip(usage, old.usage, strict=True)]
            agg = per_trace.get(row[OTEL])
            if agg is None:
                agg = per_trace[row[OTEL]] = [
                    row[TRACE], row[PROJECT], None, None, 0, row[START], 0, 0, 0,
                    0, 0, 0, 0.0, 0.0, 0.0, None,
                ]
            if not row[INCOMPLETE]:
                agg[0], agg[4] = row[TRACE], 1
            if row[PARENT] is None:
                agg[1], agg[2], agg[3] = row[PROJECT], rid, row[NAME]
            agg[5] = min(agg[5], row[START])
            agg[6] = max(agg[6], row[END] or 0)
            agg[7] += old is None
            agg[8] += int(has_error) - int(old is not None and old.has_error)
            if any(delta):
                for i in range(6):
                    agg[9 + i] += delta[i]
                for ancestor in row[DOTTED].split(".")[:-1]:
                    _add(rollup, ancestor[-36:], delta)
            first = row[FIRST_TOKEN]
            if first is not None and (agg[15] is None or first < agg[15]):
                agg[15] = first
        # A fragment attached below existing runs adds its usage to them; new runs
        # counted it already (`_new_subtree_usage`).
        for parent_dotted, usage in fragments:
            if any(usage):
                for segment in parent_dotted.split("."):
                    ancestor = segment[-36:]
                    if ancestor not in rows or ancestor in existing:
                        _add(rollup, ancestor, usage)
        if rollup:
            self.conn.executemany(_ADD_ROLLUP, [(*u, rid) for rid, u in rollup.items()])
        self.conn.executemany(
            _TRACE_UPSERT, [(self.keys[otel], otel, *agg) for otel, agg in per_trace.items()])


def _add(rollup: dict[str, list[float]], run_id: str, usage: Sequence[float]) -> None:
    current = rollup.get(run_id)
    if current is None:
        rollup[run_id] = list(usage)
    else:
        for i, value in enumerate(usage):
            current[i] += value


def _merge_rows(old: list[Any], new: list[Any]) -> list[Any]:
    """Two rows of one id in the same batch, merged as the upsert merges them."""
    merged = [n if n is not None else o for n, o in zip(new, old, strict=True)]
    if new[INCOMPLETE] > old[INCOMPLETE]:
        merged[TRACE], merged[DOTTED], merged[INCOMPLETE] = old[TRACE], old[DOTTED], 0
    merged[NAME], merged[TYPE], merged[START] = new[NAME], new[TYPE], new[START]
    merged[PROJECT], merged[OTEL] = old[PROJECT], old[OTEL]
    return merged


def _children(conn: sqlite3.Connection, row: tuple[Any, ...]) -> list[str]:
    children = conn.execute(
        "SELECT id, dotted_order FROM runs WHERE trace_key = ? AND parent_run_id = ?",
        (row[_R["trace_key"]], row[_R["id"]]),
    ).fetchall()
    return [c[0] for c in sorted(children, key=operator.itemgetter(1))]


def _project_dict(row: tuple[Any, ...], stats: tuple[Any, ...]) -> ProjectDict:
    project_id, name, start, retention = row
    traces, runs, pt, ct, tt, pc, cc, tc, last_start, errored = stats
    return {
        "id": project_id,
        "name": name,
        "start_time": ns_to_iso(start),
        "end_time": None,
        "description": None,
        "extra": {"retention_seconds": retention} if retention is not None else {},
        "tenant_id": TENANT_ID,
        "reference_dataset_id": None,
        "run_count": runs,
        "trace_count": traces,
        "prompt_tokens": pt,
        "completion_tokens": ct,
        "total_tokens": tt,
        "prompt_cost": pc,
        "completion_cost": cc,
        "total_cost": tc,
        "last_run_start_time": ns_to_iso(last_start) if last_start is not None else None,
        "error_rate": errored / traces if traces else None,
        "feedback_stats": None,
    }


def _select_fields(select: list[str] | None) -> frozenset[str]:
    if not select:
        return _DEFAULT_SELECT
    fields = ALWAYS_SELECTED | (frozenset(select) & frozenset(READ_FIELDS))
    return _DEFAULT_SELECT if fields == _DEFAULT_SELECT else fields


def _scans_content(q: RunQuery) -> bool:
    return bool(q.query) or any(reads_content(f) for f in (q.filter, q.tree_filter) if f)


def _content_rows(
    conn: sqlite3.Connection, sessions: Sequence[str], select: str, where: str,
    params: list[Any], limit: int, order: str, keyset: tuple[str, list[Any]],
) -> list[Any] | None:
    """A page for a filter that reads every candidate's content (a search, a metadata
    test), or None when the usual per-project index walk is the cheaper way."""
    tail = f"{order} LIMIT {limit + 1}"
    if len(sessions) == 1:
        # A common term fills the page from the newest runs: try those first.
        newest = (f"SELECT rowid FROM runs r WHERE r.project_id = ? AND {keyset[0]}"
                  f"{order} LIMIT {_CONTENT_PROBE}")
        rows = conn.execute(f"{select} r.rowid IN ({newest}) AND {where}{tail}",
                            [*sessions, *keyset[1], *params]).fetchall()
        if len(rows) > limit:
            return rows
    if not _holds_most_runs(conn, sessions):
        return None
    # One sequential pass over the table (the unary + keeps SQLite off the project
    # index) beats fetching most of its rows by rowid in start-time order.
    marks = ", ".join("?" * len(sessions))
    return conn.execute(f"{select} +r.project_id IN ({marks}) AND {where}{tail}",
                        [*sessions, *params]).fetchall()


def _holds_most_runs(conn: sqlite3.Connection, projects: Sequence[str]) -> bool:
    """Whether these projects hold more than half the table's rows; counted on the
    project index and stopped at that half (~25 ms at most over a million runs, measured)."""
    newest = conn.execute("SELECT max(rowid) FROM runs").fetchone()[0] or 0
    half = newest // 2  # rowids are distinct and positive: max(rowid) >= row count
    marks = ", ".join("?" * len(projects))
    count = conn.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM runs WHERE project_id IN ({marks}) LIMIT ?)",
        [*projects, half + 1]).fetchone()[0]
    return bool(count > half)


def _row_order_key(desc: bool) -> Any:
    start, rowid = _R["start_time"], _R["rowid"]
    if desc:
        return lambda r: (-r[start], -r[rowid])
    return lambda r: (r[start], r[rowid])


def _encode_cursor(start_ns: int, rowid: int) -> str:
    return base64.urlsafe_b64encode(f"{start_ns}:{rowid}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        start, rowid = text.split(":")
        return int(start), int(rowid)
    except (ValueError, UnicodeDecodeError):
        raise ValueError(
            f"bad cursor {cursor!r}: pass back cursors.next of the previous page unchanged"
        ) from None


def _trace_key(trace_id: str | uuid.UUID) -> tuple[str, str]:
    """("trace_id", uuid) for a run trace id, ("otel_trace_id", hex) for an OTel one."""
    text = str(trace_id).strip().lower()
    if len(text) == 32 and all(c in "0123456789abcdef" for c in text):
        return "otel_trace_id", text
    try:
        return "trace_id", str(uuid.UUID(text))
    except ValueError:
        raise ValueError(
            f"not a trace id: {trace_id!r} (use the run trace UUID or the OTel trace id, "
            "32 hex digits)"
        ) from None


def _trace_selector(
    conn: sqlite3.Connection, trace_id: str | uuid.UUID
) -> list[tuple[int, str | None]]:
    """The traces a trace id names: (trace key, run trace id the runs must carry, or
    None for all runs of that trace).

    An OTel trace id, as 32 hex digits or as the UUID of its 16 bytes (which is also the
    provisional trace id of runs still waiting for ancestors), names every run of the
    OTel trace. A run trace id (the root run's id) names the runs that carry it.
    """
    column, value = _trace_key(trace_id)
    if column == "otel_trace_id":
        rows = conn.execute("SELECT key FROM traces WHERE otel_trace_id = ?", (value,))
        return [(r[0], None) for r in rows]
    otel = uuid.UUID(value).hex
    rows = conn.execute(
        "SELECT key, otel_trace_id FROM traces WHERE trace_id = ? OR otel_trace_id = ?",
        (value, otel))
    return [(key, None if found == otel else value) for key, found in rows]


def _trace_keys(conn: sqlite3.Connection, trace_id: str | uuid.UUID) -> list[int]:
    return [key for key, _ in _trace_selector(conn, trace_id)]


_DUMPS_OPTS = orjson.OPT_NON_STR_KEYS


def _dumps(value: Any) -> str | None:
    """JSON text, or None for an empty/absent value (stored as NULL)."""
    if not value:
        return None
    try:
        return orjson.dumps(value, default=str, option=_DUMPS_OPTS).decode()
    except TypeError:  # an integer beyond 64 bits (a run posted as JSON may hold one)
        return orjson.dumps(_wide_ints_as_text(value), default=str, option=_DUMPS_OPTS).decode()


def _wide_ints_as_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and not _fits_int64(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _wide_ints_as_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wide_ints_as_text(v) for v in value]
    return value


_SECOND_PREFIX: dict[int, str] = {}  # epoch second -> "YYYY-MM-DDTHH:MM:SS"


def _iso(ns: int) -> str:
    """`ns_to_iso`, memoising the date part: runs read together share their seconds."""
    secs, rest = divmod(ns, 1_000_000_000)
    prefix = _SECOND_PREFIX.get(secs)
    if prefix is None:
        if len(_SECOND_PREFIX) > 65_536:
            _SECOND_PREFIX.clear()
        prefix = _SECOND_PREFIX[secs] = ns_to_iso(secs * 1_000_000_000)[:19]
    return f"{prefix}.{rest // 1000:06d}+00:00"


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _fits_int64(value: int) -> bool:
    return _INT64_MIN <= value <= _INT64_MAX


# Token counts beyond this are not real usage; they stay in the run's JSON but out of
# the count columns, whose sums over a trace must never overflow 64 bits.
_MAX_COUNT = 2**40


def _int(value: Any) -> int | None:
    """A count for an INTEGER column; None for what is not a plausible finite count."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    number = int(value)
    return number if -_MAX_COUNT <= number <= _MAX_COUNT else None


def _int_details(value: Any) -> dict[str, int] | None:
    if not isinstance(value, dict):
        return None
    if all(type(v) is int for v in value.values()):
        return value
    return {k: int(v) for k, v in value.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _model_names(metadata: Any, extra: dict[str, Any]) -> Iterator[str]:
    """Model names a run may be priced by, most specific source first."""
    if isinstance(metadata, dict):
        name = metadata.get("ls_model_name")
        if isinstance(name, str):
            yield name
    params = extra.get("invocation_params")
    if isinstance(params, dict):
        for key in ("model", "model_name", "model_id"):
            name = params.get(key)
            if isinstance(name, str):
                yield name


def _first_token_ns(run: Run) -> int | None:
    """When the first token arrived: the first `new_token` event of a streaming run."""
    for event in run.events:
        if isinstance(event, dict) and event.get("name") in FIRST_TOKEN_EVENTS:
            ns = event.get("time_unix_nano")
            if not isinstance(ns, int):
                try:
                    ns = iso_to_ns(event["time"])
                except (KeyError, TypeError, ValueError):
                    continue
            return ns if _fits_int64(ns) else None
    return None


# SQLite result codes (the low byte of an extended code) of faults that pass: the same
# commit can succeed later. Anything else SQLite refuses is about the data.
_TRANSIENT_CODES = frozenset((
    5,  # SQLITE_BUSY
    6,  # SQLITE_LOCKED
    7,  # SQLITE_NOMEM
    8,  # SQLITE_READONLY (the file's permissions or a read-only mount)
    9,  # SQLITE_INTERRUPT
    10,  # SQLITE_IOERR
    11,  # SQLITE_CORRUPT
    13,  # SQLITE_FULL
    14,  # SQLITE_CANTOPEN
    15,  # SQLITE_PROTOCOL
))


def store_error(exc: BaseException) -> StoreError:
    """A failed commit as a `StoreError` that says whether a retry can succeed: faults
    of the disk, the memory or a closed store pass; a value or constraint SQLite refuses
    fails the same way every time."""
    if isinstance(exc, MemoryError):
        return StoreError("out of memory", transient=True)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
        if code is not None:
            transient = code & 0xFF in _TRANSIENT_CODES
        else:
            transient = isinstance(exc, sqlite3.OperationalError) and "too big" not in str(exc)
        return StoreError(f"{type(exc).__name__}: {exc}", transient=transient)
    return StoreError(f"{type(exc).__name__}: {exc}", transient=False)


def _chunks(items: list[T]) -> Iterator[list[T]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i: i + _CHUNK]


def _marks(chunk: Sequence[Any]) -> str:
    return ", ".join("?" * len(chunk))


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _now_ns() -> int:
    return time.time_ns()
