"""`InMemoryRunSink`: keeps every run it receives; for tests (like the SDK's
`InMemorySpanExporter`)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from otel_llm.model import Run
from otel_llm.sinks.base import RunSink, SinkResult, reinit_after_fork


class InMemoryRunSink(RunSink):
    """Stores runs in a list; `get_finished_runs()` returns a copy of it."""

    def __init__(self) -> None:
        self._runs: list[Run] = []
        self._lock = threading.Lock()
        self._stopped = False
        reinit_after_fork(self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()

    def export(self, runs: Sequence[Run]) -> SinkResult:
        """Keep the runs (refused after `shutdown`).

        Args:
            runs: the batch to keep.
        """
        if self._stopped:
            return SinkResult.FAILURE
        with self._lock:
            self._runs.extend(runs)
        return SinkResult.SUCCESS

    def get_finished_runs(self) -> list[Run]:
        """Every run received so far, in arrival order."""
        with self._lock:
            return list(self._runs)

    def clear(self) -> None:
        """Forget the runs received so far."""
        with self._lock:
            self._runs.clear()

    def shutdown(self) -> None:
        self._stopped = True
