"""`SQLiteStore`: connections, the writer, ingest entry points, projects, retention."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from otel_llm.model import Run
from otel_llm.pricing import PriceTable
from otel_llm.store.base import StoreChanges, StoreClosedError
from otel_llm.store.sqlite.feedback import insert_attachments, insert_feedback
from otel_llm.store.sqlite.ingest import Ingest, merge_rows
from otel_llm.store.sqlite.log_events import (
    delete_for_traces,
    delete_unjoined,
    join_spans,
    log_event_counts,
    spans_of_runs,
    store_log_events,
    unjoined_log_events,
)
from otel_llm.store.sqlite.outbox import OUTBOX_SCHEMA, Outbox
from otel_llm.store.sqlite.patches import patched_rows, take_pending
from otel_llm.store.sqlite.reads import SQLiteReads, trace_keys
from otel_llm.store.sqlite.rows import Row, SQLiteRowBuilder
from otel_llm.store.sqlite.schema import (
    ADDED_COLUMNS,
    ID,
    LATE_INDEXES,
    PROJECT,
    SCHEMA,
    SCHEMA_VERSION,
    START,
    placeholders,
)
from otel_llm.store.sqlite.transactions import (
    CHECKPOINT_INTERVAL,
    Checkpointer,
    Transaction,
    store_error,
)

_PAGE_SIZE = 16384

_DELETE_CHUNK = 200  # traces deleted per transaction


class SQLiteStore(SQLiteReads):
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
        self._checkpointer: Checkpointer | None = None  # started by the first commit
        self._checkpoint_interval = checkpoint_interval
        self._writer = self._connect()
        self._writer.execute(f"PRAGMA synchronous = {self._synchronous}")
        self._writer.execute("PRAGMA wal_autocheckpoint = 0")  # see Checkpointer
        self._create_schema()
        # name -> id of committed projects (writer side); projects created by the open
        # transaction wait in _new_project_ids until it commits, so a rollback cannot
        # leave an id whose row is gone.
        self._project_ids: dict[str, str] = {}
        self._new_project_ids: dict[str, str] = {}
        self._project_names: dict[str, str] = {}  # id -> name, read side
        # Set by the forwarder: every ingest transaction queues its runs there too.
        self.outbox: Outbox | None = None

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
            # Tables are created IF NOT EXISTS: an older file gets the new ones, and the
            # columns added since, then the indexes on them.
            conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + OUTBOX_SCHEMA)
            try:
                for table, column, kind in ADDED_COLUMNS:
                    known = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                    if column not in known:
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                for index in LATE_INDEXES:
                    conn.execute(index)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

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

    def _write(self) -> Transaction:
        if self._closed:
            raise StoreClosedError("the store is closed")
        return Transaction(self)

    def _rolled_back(self) -> None:
        """After a rollback (writer lock held): forget what the transaction created."""
        self._new_project_ids.clear()

    def _committed(self) -> None:
        """After each commit (writer lock held): let the checkpointer copy the new pages;
        past `max_wal_bytes` checkpoint here so the WAL cannot grow without bound."""
        self._project_ids.update(self._new_project_ids)
        self._new_project_ids.clear()
        if self._checkpointer is None:
            self._checkpointer = Checkpointer(
                self.path, self._checkpoint_interval or CHECKPOINT_INTERVAL
            )
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
        return self.commit(StoreChanges(rows=list(rows)))

    def commit(self, changes: StoreChanges) -> int:
        """Commit runs, patches, feedback and attachments in one transaction.

        Returns:
            The number of runs written (distinct ids, posted or patched).

        Raises:
            StoreError: when the commit failed; `transient` says whether a retry can help.
            UnstorableRun: when a patch makes a run that cannot be stored.
        """
        if not changes.size:
            return 0
        try:
            with self._write() as conn:
                written = self._ingest(conn, changes.rows)
                patches = (
                    take_pending(conn, written) + changes.patches if written else changes.patches
                )
                if patches:
                    written |= self._ingest(
                        conn, patched_rows(conn, patches, self._stored_run, self.row_builder)
                    )
                feedback = changes.feedback
                spans = store_log_events(conn, changes.log_events) if changes.log_events else set()
                spans |= spans_of_runs(conn, written)
                if spans:
                    joined, evaluations = join_spans(
                        conn, spans, self._stored_run, self.row_builder
                    )
                    written |= self._ingest(conn, joined)
                    feedback = [*feedback, *evaluations]
                if feedback:
                    insert_feedback(conn, feedback)
                if changes.attachments:
                    insert_attachments(conn, changes.attachments)
        except (sqlite3.Error, OverflowError, UnicodeEncodeError, MemoryError) as exc:
            raise store_error(exc) from exc
        return len(written)

    def _ingest(self, conn: sqlite3.Connection, rows: Sequence[Row]) -> set[str]:
        """Upsert rows inside the open transaction; returns their run ids."""
        if not rows:
            return set()
        # The transaction fills in project ids and trace keys: it works on copies, so
        # rows handed in stay as they came and can be committed again after a failure.
        by_id: dict[str, Row] = {}
        for row in rows:
            prev = by_id.get(row[ID])
            by_id[row[ID]] = row.copy() if prev is None else merge_rows(prev, row)
        self._resolve_projects(conn, by_id.values())
        Ingest(conn, by_id).run()
        if self.outbox is not None:
            self.outbox.enqueue(conn, by_id.values())
        return set(by_id)

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
            conn.execute(
                "INSERT INTO projects (id, name, start_time) VALUES (?, ?, ?)",
                (project_id, name, start_ns),
            )
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

    # --- log events ------------------------------------------------------------------

    def log_event_counts(self, wait_seconds: float, project: str | None = None) -> dict[str, int]:
        """OTLP log records joined to runs, waiting for their span (for less than
        `wait_seconds`), and unjoined (no span context, not GenAI, or waited longer);
        of one project (by name), or of all (None)."""
        return log_event_counts(self._reader(), int(wait_seconds * 1e9), project=project)

    def unjoined_log_events(
        self, wait_seconds: float, limit: int = 100, offset: int = 0, project: str | None = None
    ) -> list[dict[str, Any]]:
        """The unjoined log records, oldest first (see `log_event_counts`)."""
        return unjoined_log_events(
            self._reader(), int(wait_seconds * 1e9), limit, offset, project=project
        )

    # --- retention -----------------------------------------------------------------

    def prune(self, older_than_ns: int, project: str | None = None) -> int:
        """Delete whole traces that started before `older_than_ns` (with their log
        records, feedback and attachments), and log records that joined no run and
        patches still waiting for their run that were received before then.

        Deletes a few hundred traces per transaction, so ingest never waits long.

        Args:
            older_than_ns: epoch nanoseconds.
            project: only this project (by name); None means every project.

        Returns:
            The number of runs deleted.
        """
        conn = self._reader()
        if project is None:
            keys = conn.execute(
                "SELECT key FROM traces WHERE start_time < ?", (older_than_ns,)
            ).fetchall()
        else:
            keys = conn.execute(
                "SELECT t.key FROM traces t JOIN projects p ON p.id = t.project_id "
                "WHERE p.name = ? AND t.start_time < ?",
                (project, older_than_ns),
            ).fetchall()
        deleted = self._delete_keys([k[0] for k in keys])
        with self._write() as write:
            delete_unjoined(write, older_than_ns, project)
            if project is None:  # a waiting patch names no project: only a global prune
                write.execute(
                    "DELETE FROM pending_patches WHERE received_time < ?", (older_than_ns,)
                )
        return deleted

    def delete_traces(self, trace_ids: Iterable[str | uuid.UUID]) -> int:
        """Delete traces by run trace id (a UUID) or OTel trace id (32 hex digits), with
        their log records, feedback and attachments.

        Returns:
            The number of runs deleted.

        Raises:
            ValueError: for an id that is neither.
        """
        conn = self._reader()
        keys: set[int] = set()
        for trace_id in trace_ids:
            keys.update(trace_keys(conn, trace_id))
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
            conn.execute(
                "UPDATE projects SET retention_seconds = ? WHERE id = ?", (seconds, project_id)
            )

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
            chunk = keys[i : i + _DELETE_CHUNK]
            marks = placeholders(chunk)
            with self._write() as conn:
                delete_for_traces(conn, marks, chunk)
                # What hangs off the runs by run id goes with them (attachments can be large).
                for table in ("feedback", "attachments"):
                    conn.execute(
                        f"DELETE FROM {table} WHERE run_id IN "
                        f"(SELECT id FROM runs WHERE trace_key IN ({marks}))",
                        chunk,
                    )
                deleted += conn.execute(
                    f"DELETE FROM runs WHERE trace_key IN ({marks})", chunk
                ).rowcount
                conn.execute(f"DELETE FROM orphans WHERE trace_key IN ({marks})", chunk)
                conn.execute(f"DELETE FROM traces WHERE key IN ({marks})", chunk)
        return deleted


def _now_ns() -> int:
    return time.time_ns()
