"""The one thread that writes to the store, committing several requests at a time.

Every write of the server goes through here, so the store sees a single writer. While
one commit runs, new requests queue up; the next commit takes all of them at once
(group commit): one `store.commit` call (one transaction, one fsync) for the whole
group instead of one per request. Each request's future resolves only after the
commit that holds its runs returned: that is what makes an OK durable.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from otel_llm.store.base import StoreChanges

logger = logging.getLogger(__name__)


class IngestStore(Protocol):
    """The part of the run store the writer needs."""

    def commit(self, changes: StoreChanges) -> int: ...


@dataclass
class _Write:
    changes: StoreChanges
    future: asyncio.Future[int]


@dataclass
class _Task:
    """Maintenance (e.g. retention) that must run on the writer thread, alone."""

    fn: Callable[[], Any]
    future: asyncio.Future[Any]


_STOP = object()


class GroupCommitWriter:
    """Commits batches of runs on one thread; callers await a future per request.

    Args:
        store: where runs go; only this thread writes to it.
        max_group_runs: a group stops growing once it holds this many runs.
        before_commit: called on the writer thread before each commit. A test-only hook
            (e.g. block on an event to hold the queue full); None in production.
    """

    def __init__(
        self,
        store: IngestStore,
        *,
        max_group_runs: int = 20_000,
        before_commit: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._max_group_runs = max_group_runs
        self._before_commit = before_commit
        self._queue: queue.SimpleQueue[_Write | _Task | object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="otel-llm-writer", daemon=True)
        self.commits = 0  # store.ingest calls, for logs and the benchmark

    def start(self) -> None:
        self._thread.start()

    def write(self, changes: StoreChanges) -> asyncio.Future[int]:
        """Queue changes for the next commit; the future gives the number of runs stored.

        Must be called on the event loop that awaits the future.
        """
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.put(_Write(changes, future))
        return future

    def call(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        """Run `fn` on the writer thread between commits (for retention and the like)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put(_Task(fn, future))
        return future

    def stop(self, timeout: float | None = None) -> None:
        """Commit everything queued so far, then end the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, _Task):
                self._run_task(item)
                continue
            assert isinstance(item, _Write)
            group = [item]
            runs = item.changes.size
            # Take whatever queued up meanwhile, so one commit serves all of it.
            while runs < self._max_group_runs:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                if isinstance(nxt, _Task):
                    self._commit(group)
                    group, runs = [], 0
                    self._run_task(nxt)
                    continue
                assert isinstance(nxt, _Write)
                group.append(nxt)
                runs += nxt.changes.size
            if group:
                self._commit(group)

    def _commit(self, group: list[_Write]) -> None:
        changes = StoreChanges()
        for write in group:
            changes.add(write.changes)
        try:
            if self._before_commit is not None:
                self._before_commit()
            stored = self._store.commit(changes)
            self.commits += 1
        except Exception:  # retried per request below, then reported
            logger.warning("group commit failed; retrying request by request", exc_info=True)
            for write in group:
                self._commit_alone(write)
            return
        for write in group:  # each request's share of the runs
            _resolve(write.future, len(write.changes.rows) if len(group) > 1 else stored)

    def _commit_alone(self, write: _Write) -> None:
        """Commit one request, so that one request's failure does not fail its group."""
        try:
            stored = self._store.commit(write.changes)
            self.commits += 1
        except Exception as exc:  # the request's caller reports it
            logger.error("commit failed", exc_info=True)
            _fail(write.future, exc)
            return
        _resolve(write.future, stored)

    def _run_task(self, task: _Task) -> None:
        try:
            result = task.fn()
        except Exception as exc:  # the caller reports it
            _fail(task.future, exc)
            return
        _resolve(task.future, result)


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    future.get_loop().call_soon_threadsafe(_set_result, future, value)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    future.get_loop().call_soon_threadsafe(_set_exception, future, exc)


def _set_result(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():  # the awaiting request may have been cancelled
        future.set_result(value)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
