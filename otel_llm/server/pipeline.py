"""One export request, start to answer: admission, prepare off the loop, durable commit.

Both transports (OTLP/HTTP and OTLP/gRPC) call `IngestPipeline.ingest`, so backpressure,
size limits and the durable-ack rule are the same for both.

Memory stays bounded by admission: at most `queue_size` requests and about
`max_inflight_bytes` of decoded bodies are between arrival and commit at any time; a
request beyond that is refused at once (HTTP 503 / gRPC UNAVAILABLE, with a retry delay)
instead of waiting in memory.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, TypeVar

from otel_llm._gc import tune_collector
from otel_llm.server.body import Media
from otel_llm.server.prepare import Prepared, prepare
from otel_llm.server.settings import ServerSettings
from otel_llm.server.status import Failure, RequestError
from otel_llm.server.writer import GroupCommitWriter
from otel_llm.store.base import RowBuilder, StoreChanges, StoreError, UnstorableRun

logger = logging.getLogger(__name__)


def worker_init() -> None:
    tune_collector()
    # The server process decides when workers stop (after in-flight requests finish);
    # a Ctrl+C or SIGTERM sent to the whole process group must not kill them first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # ... but a server that dies (kill -9) must not leave workers behind.
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(1)


def _noop() -> None:
    return None


class PreparedRequest(Protocol):
    """What a prepare function returns: the changes to commit and the decoded size."""

    decoded_bytes: int

    def changes(self) -> StoreChanges: ...


P = TypeVar("P", bound=PreparedRequest)


class _Ticket:
    """Bytes one admitted request holds against `max_inflight_bytes`."""

    __slots__ = ("charged",)

    def __init__(self) -> None:
        self.charged = 0


class IngestPipeline:
    """Admits, prepares and commits export requests.

    Args:
        writer: the group-commit writer (started by the caller).
        settings: limits (queue size, bytes in flight, body size) and worker count.
        row_builder: the store's runs -> rows function, run in the workers.
    """

    def __init__(
        self, writer: GroupCommitWriter, settings: ServerSettings, row_builder: RowBuilder
    ) -> None:
        self._writer = writer
        self._settings = settings
        self._row_builder = row_builder
        self._executor: Executor = self._new_executor()
        self._admitted = 0
        self._inflight_bytes = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    def _new_executor(self) -> Executor:
        workers = self._settings.workers
        if workers == 0:
            return ThreadPoolExecutor(max_workers=2, thread_name_prefix="otel-llm-prepare")
        # spawn, not fork: the server process has gRPC and writer threads.
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=worker_init,
        )

    async def start(self) -> None:
        """Start worker processes now rather than on the first request."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(
                loop.run_in_executor(self._executor, _noop)
                for _ in range(max(1, self._settings.workers))
            )
        )

    async def drain(self) -> None:
        """Wait for every admitted request to be committed (used at shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    @property
    def admitted(self) -> int:
        """Requests between admission and commit."""
        return self._admitted

    def has_room(self, size: int) -> bool:
        """Whether a request of `size` bytes would be admitted now."""
        if self._admitted == 0:
            return True  # always take one request, however large, so nothing starves
        return (
            self._admitted < self._settings.queue_size
            and self._inflight_bytes + size <= self._settings.max_inflight_bytes
        )

    def busy_error(self) -> RequestError:
        return RequestError(
            Failure.BUSY,
            f"server is busy: {self._admitted} requests are waiting to be stored; "
            f"retry after {self._settings.retry_after_seconds} s",
            retry_after=self._settings.retry_after_seconds,
        )

    async def ingest(
        self,
        data: bytes,
        media: Media,
        content_encoding: str = "",
        project_header: str | None = None,
    ) -> Prepared:
        """Store one OTLP export request; returns once its runs are committed.

        Args:
            data: the body as received.
            media: protobuf or JSON.
            content_encoding: "", gzip or deflate.
            project_header: the request's project header or metadata, if any.

        Raises:
            RequestError: BUSY when admission is refused; MALFORMED / TOO_LARGE for bad
                bodies; STORE_UNAVAILABLE when the commit failed and a retry can succeed,
                UNSTORABLE when the store refuses the data itself.
        """
        return await self.submit(
            len(data),
            prepare,
            data,
            media,
            content_encoding,
            project_header,
            self._settings.max_body_bytes,
            self._row_builder,
        )

    async def submit(self, size: int, prepare_fn: Callable[..., P], *args: Any) -> P:
        """Admit a request of `size` bytes, run `prepare_fn(*args)` off the event loop (in
        a worker process: it and its arguments must pickle), commit what it prepared,
        and return it once committed. Every way in (OTLP, run ingest) comes through here,
        so admission, backpressure and the durable-ack rule are the same for all."""
        if not self.has_room(size):
            raise self.busy_error()
        ticket = _Ticket()
        self._admitted += 1
        self._charge(ticket, size)
        task: asyncio.Task[P] = asyncio.ensure_future(self._process(ticket, size, prepare_fn, args))
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._release(done, ticket))
        # Shielded: a client that hangs up does not stop the commit, and admission is
        # released only once the runs are stored (or failed), keeping memory bounded.
        return await asyncio.shield(task)

    def _charge(self, ticket: _Ticket, size: int) -> None:
        ticket.charged += size
        self._inflight_bytes += size

    def _release(self, task: asyncio.Task[Any], ticket: _Ticket) -> None:
        self._tasks.discard(task)
        self._admitted -= 1
        self._inflight_bytes -= ticket.charged
        if not task.cancelled():
            task.exception()  # retrieved here so a hung-up client's failure is not logged

    async def _process(
        self, ticket: _Ticket, size: int, prepare_fn: Callable[..., P], args: tuple[Any, ...]
    ) -> P:
        loop = asyncio.get_running_loop()
        executor = self._executor
        try:
            prepared = await loop.run_in_executor(executor, prepare_fn, *args)
        except RequestError:
            raise
        except BrokenProcessPool:
            logger.error("a decode worker process died; starting new workers")
            if executor is self._executor:
                self._executor = self._new_executor()
            raise RequestError(
                Failure.STORE_UNAVAILABLE,
                "a decode worker process died while handling this request; retry",
                retry_after=self._settings.retry_after_seconds,
            ) from None
        except Exception as exc:
            logger.exception("could not prepare a request")
            raise RequestError(
                Failure.INTERNAL, f"could not process the request: {exc!r}"
            ) from None
        # Decoded runs take more memory than the wire bytes: count the decoded size.
        self._charge(ticket, max(prepared.decoded_bytes - size, 0))
        changes = prepared.changes()
        if changes.size:
            try:
                await self._writer.write(changes)
            except Exception as exc:
                raise self.commit_error(exc) from None
        return prepared

    def commit_error(self, exc: Exception) -> RequestError:
        """What to tell a client whose runs could not be committed: retry later only
        when a retry can succeed."""
        if isinstance(exc, StoreError) and exc.transient:
            return RequestError(
                Failure.STORE_UNAVAILABLE,
                f"could not store the spans: {exc}; retry later",
                retry_after=self._settings.retry_after_seconds,
            )
        if isinstance(exc, (StoreError, UnstorableRun)):
            return RequestError(
                Failure.UNSTORABLE,
                f"the store refused these spans: {exc}; sending them again will not help",
            )
        logger.error("commit failed with an unexpected error", exc_info=exc)
        return RequestError(Failure.INTERNAL, f"could not store the spans: {exc!r}")
