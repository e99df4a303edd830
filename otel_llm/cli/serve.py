"""`otel-llm serve`: the OTLP receiver, run store and LangSmith-compatible read API."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import click

from otel_llm import config
from otel_llm.durations import parse_duration
from otel_llm.server.settings import (
    DEFAULT_FORWARD_BATCH_SIZE,
    DEFAULT_FORWARD_MAX_BYTES,
    DEFAULT_FORWARD_WAIT_SECONDS,
    DEFAULT_GRPC_PORT,
    DEFAULT_HOST,
    DEFAULT_HTTP_PORT,
    DEFAULT_MAX_ATTACHMENT_BYTES,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_INFLIGHT_BYTES,
    DEFAULT_QUEUE_SIZE,
    LOG_LEVELS,
    SERVER_CHECKPOINT_INTERVAL,
    ServerSettings,
)


def _default_workers() -> int:
    # Decode+convert is CPU work, about twice the server process's share (I/O and the
    # commits): one worker per core (measured best on 2 cores), none on one core.
    cores = os.cpu_count() or 1
    return 0 if cores == 1 else min(4, cores)


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _project_retentions(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> list[tuple[str, float]]:
    parsed: list[tuple[str, float]] = []
    for value in values:
        project, sep, duration = value.rpartition("=")
        if not sep or not project:
            raise click.BadParameter(f"{value!r}: use PROJECT=DURATION, e.g. my-app=7d")
        try:
            parsed.append((project, parse_duration(duration)))
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return parsed


def _forward_urls(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    from otel_llm.forward.destinations import parse_destination, split_urls

    urls = tuple(split_urls(values))
    for url in urls:
        try:
            parse_destination(url)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return urls


@contextlib.contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """An event set by the first SIGINT/SIGTERM; a second one exits at once (nothing
    acknowledged is lost: acknowledged means committed). Handlers restored on exit."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(130)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


F = TypeVar("F", bound=Callable[..., Any])


def _setting(*decls: str, **attrs: Any) -> Callable[[F], F]:
    """A `serve` option that also reads its environment variable, and shows both the
    variable and its default in `--help`."""
    return click.option(*decls, show_envvar=True, show_default=True, **attrs)


@click.command("serve")
@_setting(
    "--host",
    envvar=config.OTEL_LLM_HOST,
    default=DEFAULT_HOST,
    help="Interface to listen on (0.0.0.0 exposes the server).",
)
@_setting(
    "--grpc-port",
    envvar=config.OTEL_LLM_GRPC_PORT,
    type=click.IntRange(0, 65535),
    default=DEFAULT_GRPC_PORT,
    help="OTLP/gRPC port; 0 disables gRPC.",
)
@_setting(
    "--http-port",
    envvar=config.OTEL_LLM_HTTP_PORT,
    type=click.IntRange(0, 65535),
    default=DEFAULT_HTTP_PORT,
    help="HTTP port: OTLP/HTTP (/v1/traces, /otel/v1/traces) and the read API.",
)
@_setting(
    "--db",
    envvar=config.OTEL_LLM_DB,
    type=click.Path(dir_okay=False, path_type=Path),
    default=config.DEFAULT_DB,
    help="SQLite database file of the run store (created if missing).",
)
@_setting(
    "--api-key",
    envvar=config.OTEL_LLM_API_KEY,
    default=None,
    help="Require this key on every request (x-api-key or Authorization: Bearer). "
    "On the command line it is visible to every user in `ps`: prefer the "
    "variable or --api-key-file.",
)
@_setting(
    "--api-key-file",
    envvar=config.OTEL_LLM_API_KEY_FILE,
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the API key from this file (surrounding white space ignored).",
)
@_setting(
    "--max-body-bytes",
    envvar=config.OTEL_LLM_MAX_BODY_BYTES,
    type=click.IntRange(1024),
    default=DEFAULT_MAX_BODY_BYTES,
    help="Largest request, on the wire and after decompression.",
)
@_setting(
    "--max-attachment-bytes",
    envvar=config.OTEL_LLM_MAX_ATTACHMENT_BYTES,
    type=click.IntRange(1),
    default=DEFAULT_MAX_ATTACHMENT_BYTES,
    help="Largest run attachment (run ingest); larger get 413.",
)
@_setting(
    "--queue-size",
    envvar=config.OTEL_LLM_QUEUE_SIZE,
    type=click.IntRange(1),
    default=DEFAULT_QUEUE_SIZE,
    help="Requests accepted but not yet committed; beyond it clients get "
    "503 / UNAVAILABLE and retry.",
)
@_setting(
    "--max-inflight-bytes",
    envvar=config.OTEL_LLM_MAX_INFLIGHT_BYTES,
    type=click.IntRange(1),
    default=DEFAULT_MAX_INFLIGHT_BYTES,
    help="Decoded request bytes accepted but not yet committed.",
)
@_setting(
    "--workers",
    envvar=config.OTEL_LLM_WORKERS,
    type=click.IntRange(0),
    default=None,
    help="Decode+convert worker processes [default: one per CPU core, at most 4; "
    "0 on one core, which decodes on a thread of the server process].",
)
@_setting(
    "--retention",
    envvar=config.OTEL_LLM_RETENTION,
    callback=_duration,
    default=None,
    help="Delete traces older than this (e.g. 14d, 12h), checked every hour.",
)
@click.option(
    "--project-retention",
    multiple=True,
    callback=_project_retentions,
    metavar="PROJECT=DURATION",
    help="Keep one project's traces this long (repeatable; stored in the database).",
)
@_setting(
    "--prices",
    envvar=config.OTEL_LLM_PRICES,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Model price table (JSON, the shipped prices.json shape) that extends or "
    "overrides the shipped one.",
)
@_setting(
    "--fsync/--no-fsync",
    envvar=config.OTEL_LLM_FSYNC,
    default=False,
    help="fsync every commit, so acknowledged spans survive an OS crash or power "
    "loss too (without it they survive a killed server). Group commit keeps "
    "this to one fsync per batch of requests.",
)
@_setting(
    "--forward",
    multiple=True,
    envvar=config.OTEL_LLM_FORWARD,
    callback=_forward_urls,
    metavar="URL",
    help="Forward every stored run to this destination (repeatable): "
    "http(s)://host:4318/v1/traces (OTLP/HTTP), grpc(s)://host:4317 "
    "(OTLP/gRPC), langsmith+http(s)://host (run ingest). Options as query "
    "parameters: emit=gen_ai,openinference  header.NAME=VALUE  api_key=KEY  "
    "project=NAME. The variable takes a comma- or space-separated list.",
)
@_setting(
    "--forward-wait",
    envvar=config.OTEL_LLM_FORWARD_WAIT,
    callback=_duration,
    default=None,
    help=f"Forward runs that have not ended after this long "
    f"[default: {DEFAULT_FORWARD_WAIT_SECONDS:.0f}s].",
)
@_setting(
    "--forward-max-bytes",
    envvar=config.OTEL_LLM_FORWARD_MAX_BYTES,
    type=click.IntRange(1),
    default=DEFAULT_FORWARD_MAX_BYTES,
    help="Outbox bound per destination (stored bytes of the runs waiting); the "
    "oldest runs beyond it go to the spill directory.",
)
@_setting(
    "--forward-spill-dir",
    envvar=config.OTEL_LLM_FORWARD_SPILL_DIR,
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where runs beyond the outbox bound (or refused for good) are written, "
    "a folder per destination [default: <db>.forward-spill]; send them with "
    "`otel-llm replay DIR --to URL`.",
)
@_setting(
    "--forward-batch-size",
    envvar=config.OTEL_LLM_FORWARD_BATCH_SIZE,
    type=click.IntRange(1),
    default=DEFAULT_FORWARD_BATCH_SIZE,
    help="Runs per forwarded request.",
)
@_setting(
    "--log-join-wait",
    envvar="OTEL_LLM_LOG_JOIN_WAIT",
    callback=_duration,
    default=None,
    help="An OTLP log record whose span has not arrived after this long counts as "
    "unjoined (kept, listed at /logs/unjoined, and still joined if the span "
    "comes later) [default: 10m].",
)
@_setting(
    "--log-level",
    envvar=config.OTEL_LLM_LOG_LEVEL,
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="info",
    help="Logging verbosity.",
)
@_setting(
    "--access-log/--no-access-log",
    envvar=config.OTEL_LLM_ACCESS_LOG,
    default=True,
    help="One info line per request: method, path, status, spans or runs, "
    "duration, client. Refusals (4xx, 5xx) are logged either way, with the "
    "reason the client was given.",
)
def serve(
    host: str,
    grpc_port: int,
    http_port: int,
    db: Path,
    api_key: str | None,
    api_key_file: Path | None,
    max_body_bytes: int,
    max_attachment_bytes: int,
    queue_size: int,
    max_inflight_bytes: int,
    workers: int | None,
    retention: float | None,
    project_retention: list[tuple[str, float]],
    prices: Path | None,
    fsync: bool,
    forward: tuple[str, ...],
    forward_wait: float | None,
    forward_max_bytes: int,
    forward_spill_dir: Path | None,
    forward_batch_size: int,
    log_join_wait: float | None,
    log_level: str,
    access_log: bool,
) -> None:
    """Receive OTLP traces (gRPC and HTTP), store them as runs, serve LangSmith's read API.

    Point any OpenTelemetry app at it, e.g.
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318, and read the runs back with
    langsmith.Client(api_url="http://127.0.0.1:4318"). A request is acknowledged only
    after its spans are committed to the database.
    """
    from otel_llm._gc import tune_collector
    from otel_llm.server.runner import OtelLlmServer
    from otel_llm.store.sqlite import SQLiteStore

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not access_log:
        logging.getLogger("otel_llm.access").setLevel(logging.WARNING)
    if api_key_file is not None:
        if api_key:
            raise click.UsageError("give the API key once: --api-key or --api-key-file")
        api_key = api_key_file.read_text().strip()
        if not api_key:
            raise click.BadParameter(f"{api_key_file} is empty", param_hint="'--api-key-file'")
    try:
        settings = ServerSettings(
            host=host,
            grpc_port=grpc_port or None,
            http_port=http_port,
            api_key=api_key or None,
            max_body_bytes=max_body_bytes,
            max_attachment_bytes=max_attachment_bytes,
            queue_size=queue_size,
            max_inflight_bytes=max_inflight_bytes,
            workers=_default_workers() if workers is None else workers,
            retention_seconds=retention,
            forward=forward,
            forward_wait_seconds=(
                DEFAULT_FORWARD_WAIT_SECONDS if forward_wait is None else forward_wait
            ),
            forward_max_bytes=forward_max_bytes,
            forward_spill_dir=str(forward_spill_dir) if forward_spill_dir else None,
            forward_batch_size=forward_batch_size,
            log_join_wait_seconds=600.0 if log_join_wait is None else log_join_wait,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    _check_db_path(db)
    created = not db.exists()
    try:
        store = SQLiteStore(
            str(db),
            prices_path=str(prices) if prices else None,
            synchronous="FULL" if fsync else "NORMAL",
            checkpoint_interval=SERVER_CHECKPOINT_INTERVAL,
        )
    except ValueError as exc:  # a bad price file, or a database of a newer otel-llm
        raise click.ClickException(str(exc)) from None
    except sqlite3.Error as exc:
        _remove_new_database(db, created)
        raise click.ClickException(f"cannot open the database {db}: {exc}") from None
    started = False
    try:
        for project, seconds in project_retention:
            store.set_retention(project, seconds)
        # uvicorn's own start/stop lines only at debug: the banner below says it all.
        uvicorn_level = "debug" if log_level.lower() == "debug" else "warning"
        server = OtelLlmServer(store, settings, log_level=uvicorn_level)
        # Handlers first: a signal that comes while starting still stops us gracefully.
        with _stop_signals() as stop:
            try:
                server.start()
            except OSError as exc:
                raise click.ClickException(f"{exc}; is another server using the port?") from None
            started = True
            tune_collector()  # this process is the server: everything is imported by now
            click.echo(f"otel-llm serve: database {db.resolve()}")
            if server.grpc_address:
                click.echo(f"  OTLP/gRPC  {server.grpc_address}")
            click.echo(f"  OTLP/HTTP  {server.http_url}/v1/traces  (also /otel/v1/traces)")
            click.echo(f"  read API   {server.http_url}  (langsmith.Client api_url)")
            for destination in server.forward_status():
                click.echo(f"  forward    {destination['destination']}")
            if settings.api_key:
                click.echo("  API key required (x-api-key or Authorization: Bearer)")
            sys.stdout.flush()
            # A timeout, not a bare wait(): a signal delivered to another thread only
            # runs its Python handler once the main thread wakes up.
            while not stop.wait(0.2):
                pass
            click.echo("otel-llm serve: shutting down, finishing in-flight requests")
            server.stop()
    finally:
        store.close()
        if not started:
            _remove_new_database(db, created)  # a failed start leaves no empty database
    click.echo("otel-llm serve: stopped")


def _check_db_path(db: Path) -> None:
    """One line naming the path and the fix when the database cannot be where asked."""
    parent = db.resolve().parent
    if not parent.exists():
        raise click.ClickException(
            f"cannot create the database {db}: directory {parent} does not exist; "
            f"create it (mkdir -p {parent}) or give --db a path in an existing directory"
        )
    if not parent.is_dir():
        raise click.ClickException(f"cannot create the database {db}: {parent} is not a directory")


def _remove_new_database(db: Path, created: bool) -> None:
    """Delete the database file this start created (and its WAL files), if it did."""
    if not created:
        return
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
