"""Runs the HTTP app (uvicorn) and the gRPC server in one event loop, on its own thread.

`OtelLlmServer.start()` returns once both listen; `stop()` shuts down gracefully: no new
connections or RPCs, in-flight requests finish and are committed, then the writer and the
decode workers stop. The owner of the store closes it. The CLI runs one in the main
process and turns SIGINT/SIGTERM into `stop()`; tests run one on a thread the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import uvicorn
from grpc import aio

from otel_llm.server.app import create_app
from otel_llm.server.auth import ApiKeyCheck
from otel_llm.server.otlp_grpc import build_grpc_server
from otel_llm.server.pipeline import IngestPipeline
from otel_llm.server.run_api import run_routes
from otel_llm.server.run_ingest import IngestLimits
from otel_llm.server.sessions_api import session_routes
from otel_llm.server.settings import ServerSettings
from otel_llm.server.status_api import status_routes
from otel_llm.server.writer import GroupCommitWriter
from otel_llm.store.base import RunStore

if TYPE_CHECKING:
    from otel_llm.forward import Forwarder

logger = logging.getLogger(__name__)

# Longest wait for in-flight requests at shutdown before connections are dropped.
SHUTDOWN_GRACE_SECONDS = 30.0


class OtelLlmServer:
    """OTLP/gRPC + HTTP servers over one store.

    Args:
        store: where runs are committed and read from.
        settings: addresses, limits, retention.
        before_commit: test-only hook run on the writer thread before each commit (see
            `GroupCommitWriter`); None in production.
        log_level: uvicorn's log level.
    """

    def __init__(
        self,
        store: RunStore,
        settings: ServerSettings | None = None,
        *,
        before_commit: Callable[[], None] | None = None,
        log_level: str = "warning",
    ) -> None:
        self.store = store
        self.settings = settings or ServerSettings()
        self.writer = GroupCommitWriter(store, before_commit=before_commit)
        self._log_level = log_level
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.http_port: int | None = None
        self.grpc_port: int | None = None
        self.pipeline: IngestPipeline | None = None
        self.forwarder: Forwarder | None = _forwarder(store, self.settings)

    @property
    def http_url(self) -> str:
        return f"http://{_url_host(self.settings.host)}:{self.http_port}"

    @property
    def grpc_address(self) -> str | None:
        if self.grpc_port is None:
            return None
        return f"{_url_host(self.settings.host)}:{self.grpc_port}"

    def start(self, timeout: float = 60.0) -> None:
        """Start serving; returns once both servers listen.

        Raises:
            OSError: when a port cannot be bound (the message names it).
            RuntimeError: when the servers did not start within `timeout`.
        """
        self.writer.start()
        if self.forwarder is not None:
            self.forwarder.start()
        self._thread = threading.Thread(target=self._run, name="otel-llm-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"server did not start within {timeout} s")
        if self._failure is not None:
            self._thread.join()
            self.writer.stop()
            if self.forwarder is not None:
                self.forwarder.stop()
            raise self._failure

    def stop(self) -> None:
        """Graceful shutdown: finish and commit in-flight requests, then stop. Idempotent."""
        loop, stop_requested = self._loop, self._stop_requested
        if loop is not None and stop_requested is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may have just ended
                loop.call_soon_threadsafe(stop_requested.set)
        if self._thread is not None:
            self._thread.join()
        self.writer.stop()
        if self.forwarder is not None:
            self.forwarder.stop()

    def __enter__(self) -> OtelLlmServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # handed to start() or logged
            if not self._ready.is_set():
                self._failure = exc
            else:
                logger.exception("server stopped on an error")
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        settings = self.settings
        self._stop_requested = asyncio.Event()
        pipeline = self.pipeline = IngestPipeline(self.writer, settings, self.store.row_builder)
        grpc_server: aio.Server | None = None
        http_socket: socket.socket | None = None
        try:
            await pipeline.start()
            check = ApiKeyCheck(settings.api_key)
            http_socket = _bind(settings.host, settings.http_port)
            self.http_port = http_socket.getsockname()[1]
            app = create_app(
                pipeline=pipeline,
                store=self.store,
                api_key=settings.api_key,
                max_body_bytes=settings.max_body_bytes,
                log_join_wait_seconds=settings.log_join_wait_seconds,
                extra_routes=[
                    *run_routes(
                        pipeline,
                        self.store,
                        self.store.row_builder,
                        IngestLimits(settings.max_body_bytes, settings.max_attachment_bytes),
                    ),
                    *status_routes(self.forward_status),
                    *session_routes(self.store),
                ],
            )
            config = uvicorn.Config(
                app,
                lifespan="off",
                access_log=False,
                log_level=self._log_level,
                timeout_graceful_shutdown=int(SHUTDOWN_GRACE_SECONDS),
            )
            http = uvicorn.Server(config)
            if settings.grpc_port is not None:
                grpc_server = build_grpc_server(pipeline, check, settings.max_body_bytes)
                address = f"{_url_host(settings.host)}:{settings.grpc_port}"
                try:
                    self.grpc_port = grpc_server.add_insecure_port(address)
                except RuntimeError as exc:
                    raise OSError(f"cannot listen for gRPC on {address}: {exc}") from None
                await grpc_server.start()
            # uvicorn skips signal handling off the main thread: the owner stops us.
            http_task = asyncio.create_task(http.serve(sockets=[http_socket]))
            while not http.started and not http_task.done():
                await asyncio.sleep(0.01)
            if http_task.done():
                http_task.result()
                raise RuntimeError("the HTTP server stopped while starting")
            retention = asyncio.create_task(self._retention_loop())
            self._ready.set()

            await self._stop_requested.wait()
            logger.debug("shutting down: finishing in-flight requests")
            http.should_exit = True
            if grpc_server is not None:
                await grpc_server.stop(grace=SHUTDOWN_GRACE_SECONDS)
            await http_task
            await pipeline.drain()
            retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retention
        finally:
            # Also reached when starting failed half-way: release what was acquired.
            if grpc_server is not None:
                await grpc_server.stop(None)
            if http_socket is not None:
                http_socket.close()
            pipeline.close()

    def forward_status(self) -> list[dict[str, Any]]:
        """Per forward destination: outbox depth, lag, what was sent, retried, spilled."""
        return self.forwarder.status() if self.forwarder is not None else []

    async def _retention_loop(self) -> None:
        settings = self.settings
        while True:
            try:
                deleted = await self.writer.call(self._apply_retention)
                if deleted:
                    logger.info("retention: deleted %d runs", deleted)
            except Exception:  # retried at the next check
                logger.exception("retention failed")
            await asyncio.sleep(settings.retention_check_seconds)

    def _apply_retention(self) -> int:
        now_ns = time.time_ns()
        deleted = self.store.apply_retention(now_ns)
        if self.settings.retention_seconds is not None:
            cutoff = now_ns - int(self.settings.retention_seconds * 1e9)
            deleted += self.store.prune(cutoff)
        return deleted


def _forwarder(store: RunStore, settings: ServerSettings) -> Forwarder | None:
    """The forwarder of `settings.forward` (it needs the SQLite store's outbox)."""
    if not settings.forward:
        return None
    from otel_llm.forward import Forwarder, ForwardSettings, parse_destination
    from otel_llm.store.sqlite import SQLiteStore

    if not isinstance(store, SQLiteStore):
        raise ValueError("forwarding needs the SQLite run store (its outbox)")
    spill = settings.forward_spill_dir or f"{store.path}.forward-spill"
    return Forwarder(
        store,
        [parse_destination(url) for url in settings.forward],
        ForwardSettings(
            open_wait_seconds=settings.forward_wait_seconds,
            max_outbox_bytes=settings.forward_max_bytes,
            spill_dir=Path(spill),
            batch_size=settings.forward_batch_size,
        ),
        worker_process=settings.workers > 0,
    )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        message = f"cannot listen for HTTP on {host}:{port}: {exc.strerror}"
        raise OSError(exc.errno, message) from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock
