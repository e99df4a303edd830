"""`StoreRunSink`: runs written straight into the run store of `otel-llm serve` (its
SQLite file), so a local viewer shows them without any server in between.

Projects follow the server's rule (`otel_llm.projects`), so a run lands in the project
it would land in had its span been sent to `otel-llm serve`: a run that names its project
(`session_name` / `session_id`) keeps it; else the sink's `project` (LANGSMITH_PROJECT),
as the server's `Langsmith-Project` header; else the resource of the span it came from
(`langsmith.project`, `openinference.project.name`, `service.name`); else `default`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from otel_llm.model import Run
from otel_llm.projects import run_project
from otel_llm.sinks.base import RunSink, SinkResult, reinit_after_fork
from otel_llm.store.base import RunStore, StoreError
from otel_llm.store.sqlite import SQLiteStore

logger = logging.getLogger(__name__)


class StoreRunSink(RunSink):
    """Ingests runs into a run store.

    Args:
        path: the store's SQLite file (opened on first use, created if missing);
            ignored when `store` is given.
        project: project of runs that name none, winning over their resource's (see
            the module for the whole rule).
        store: an open store to write into; the sink then does not close it.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        project: str | None = None,
        *,
        store: RunStore | None = None,
    ) -> None:
        if store is None and path is None:
            raise ValueError("StoreRunSink needs a database path or a store")
        self.path = Path(path) if path is not None else None
        self.project = project
        self._store = store
        self._owned = store is None
        self._lock = threading.Lock()
        reinit_after_fork(self._after_fork)

    def _after_fork(self) -> None:
        # SQLite connections must not cross a fork: the child opens its own.
        self._lock = threading.Lock()
        if self._owned:
            self._store = None

    def _open(self) -> RunStore:
        if self._store is None:
            assert self.path is not None
            self._store = SQLiteStore(self.path)
        return self._store

    def export(self, runs: Sequence[Run]) -> SinkResult:
        """Ingest the runs in one transaction.

        Args:
            runs: the batch to ingest.
        """
        # The project only fills in for runs that name none, as in the HTTP sink.
        runs = [
            r
            if r.session_name or r.session_id
            else replace(r, session_name=run_project(r, self.project))
            for r in runs
        ]
        try:
            with self._lock:
                self._open().ingest(runs)
        except (StoreError, sqlite3.Error, OSError, ValueError, RuntimeError) as exc:
            logger.warning("cannot write %d runs to the store %s: %s", len(runs), self.path, exc)
            return SinkResult.FAILURE
        return SinkResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._owned and self._store is not None:
                self._store.close()
                self._store = None
