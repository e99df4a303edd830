"""`StoreRunSink`: runs written straight into the run store of `otel-llm serve` (its
SQLite file), so a local viewer shows them without any server in between."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from otel_llm.model import Run
from otel_llm.sinks.base import RunSink, SinkResult, reinit_after_fork
from otel_llm.store.base import RunStore, StoreError
from otel_llm.store.sqlite import SQLiteStore

logger = logging.getLogger(__name__)


class StoreRunSink(RunSink):
    """Ingests runs into a run store.

    Args:
        path: the store's SQLite file (opened on first use, created if missing);
            ignored when `store` is given.
        project: project of runs that name none (the store's default otherwise).
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
        if self.project:
            # The project only fills in for runs that name none, as in the HTTP sink.
            runs = [
                r if r.session_name or r.session_id else replace(r, session_name=self.project)
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
