"""The forwarder: one delivery thread per destination, draining the store's outbox.

Each thread keeps a pipeline of batches: it marks out the next range of due outbox rows
(earliest first) and has it rendered (the runs read as stored now and encoded for the
destination; in render worker processes at a lower CPU priority when the server has
workers, see `otel_llm.forward.render`) while it sends the batches rendered before, in
order, and deletes the rows whose run did not change meanwhile. A failed send is
retried with exponential backoff and full jitter, or after the delay the destination
asked for (`Retry-After`, gRPC `RetryInfo`); a batch the destination refuses for good is
written to the spill directory. Ingest never waits for any of this: it only adds outbox
rows in its own transaction. When a destination is down, the outbox grows up to
`max_bytes` of run data per destination; the oldest runs beyond it are moved to the
spill directory (counted and logged), from where `otel-llm replay DIR --to URL` sends
them later.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otel_llm.forward.destinations import (
    Destination,
    DestinationSpec,
    Outcome,
    open_destination,
)
from otel_llm.forward.render import (
    Rendered,
    render_range,
    render_range_in_worker,
    render_worker_init,
)
from otel_llm.sinks.spill import SpillDirectory
from otel_llm.store.sqlite.outbox import (
    START,
    Entry,
    Outbox,
    Position,
    batch_end,
    depth,
    oldest_rows,
    prepare_outbox,
    settle,
    stored_runs,
)
from otel_llm.store.sqlite.store import SQLiteStore

logger = logging.getLogger(__name__)

DEFAULT_OPEN_WAIT_SECONDS = 300.0
DEFAULT_MAX_OUTBOX_BYTES = 1024**3
DEFAULT_BATCH_SIZE = 1000
_IDLE_POLL = 0.05  # seconds between looks at an empty outbox
_DEPTH_EVERY = 1.0  # seconds between depth and bound checks
_HOLD_RETRY_NS = 1_000_000_000  # an incomplete run for LangSmith is looked at again after
# Batches are marked out in due order from a cursor; a row that went back behind it (a
# run changed while queued keeps its earlier due) is reached when the pipeline empties,
# or at the latest after this many seconds, when the cursor starts over.
_RESCAN_SECONDS = 5.0
# While ingest has stored runs this recently, one batch is rendered at a time: idle
# priority does not keep render workers out of ingest's way (on the core beside the
# writer they still slow it: shared caches, memory bandwidth). On two cores, one render
# at a time left ingest at 0.97-1.05x of its rate without forwarding, two at 0.77-0.92x
# (bench/bench_forward.py); with ingest quiet, every render worker drains the outbox.
_INGEST_ACTIVE_SECONDS = 1.0


def _render_workers() -> int:
    """Render worker processes: one per core, as the decode workers (they yield to
    ingest, see `otel_llm.forward.render`)."""
    return min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class ForwardSettings:
    """How the forwarder works (the destinations are `DestinationSpec`s).

    Args:
        open_wait_seconds: a run that has not ended is forwarded this long after it was
            stored (runs that never end still go out); so is a run whose parent never
            arrives, for LangSmith destinations.
        max_outbox_bytes: stored bytes of the runs waiting per destination; the oldest
            beyond it go to the spill directory.
        spill_dir: where each destination's spill files go (a folder per destination).
        batch_size: runs per request.
        backoff_initial / backoff_max: bounds of the retry wait (full jitter).
        log_interval: seconds between per-destination summary lines (when they moved).
    """

    open_wait_seconds: float = DEFAULT_OPEN_WAIT_SECONDS
    max_outbox_bytes: int = DEFAULT_MAX_OUTBOX_BYTES
    spill_dir: Path = Path("otel-llm-forward-spill")
    batch_size: int = DEFAULT_BATCH_SIZE
    backoff_initial: float = 0.5
    backoff_max: float = 60.0
    log_interval: float = 60.0


@dataclass
class DestinationStats:
    """Counters and the last depth of one destination (`/status`, `/metrics`)."""

    name: str
    kind: str
    sent_runs: int = 0
    sent_batches: int = 0
    retries: int = 0
    spilled_runs: int = 0  # moved to the spill directory: outbox bound or refused
    refused_runs: int = 0  # of which the destination refused for good
    gone_runs: int = 0  # deleted from the store (retention) before they were sent
    outbox_runs: int = 0
    outbox_bytes: int = 0
    lag_seconds: float = 0.0
    last_error: str | None = None
    retrying: bool = False
    retry_after: float | None = field(default=None, repr=False)  # asked by the destination
    logged: tuple[int, int, int] = field(default=(0, 0, 0), repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "destination": self.name,
            "protocol": self.kind,
            "state": "retrying" if self.retrying else "ok",
            "outbox_runs": self.outbox_runs,
            "outbox_bytes": self.outbox_bytes,
            "lag_seconds": round(self.lag_seconds, 3),
            "sent_runs": self.sent_runs,
            "sent_batches": self.sent_batches,
            "retries": self.retries,
            "spilled_runs": self.spilled_runs,
            "refused_runs": self.refused_runs,
            "gone_runs": self.gone_runs,
            "last_error": self.last_error,
        }


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", name).strip("_")


class Forwarder:
    """Forwards every run stored in `store` to each destination.

    Args:
        store: the server's store; the forwarder installs the outbox hook on it.
        specs: the destinations.
        settings: waits, bounds, batch size.
        worker_process: render batches in render worker processes, one per core (the
            server's setting when it has decode workers); else on one thread.
    """

    def __init__(
        self,
        store: SQLiteStore,
        specs: Sequence[DestinationSpec],
        settings: ForwardSettings | None = None,
        *,
        worker_process: bool = False,
    ) -> None:
        self.store = store
        self.specs = list(specs)
        self.settings = settings or ForwardSettings()
        self.stats = {s.name: DestinationStats(s.name, s.kind) for s in self.specs}
        self._render_workers = _render_workers() if worker_process else 0
        # Batches rendered ahead per destination: one per renderer and one more, so a
        # renderer never waits for the send.
        self._pipeline_depth = max(1, self._render_workers) + 1
        self._executor: Executor | None = None
        self._executor_lock = threading.Lock()  # the destinations' threads share it
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Install the outbox hook, then start one delivery thread per destination."""
        with self.store._write() as conn:
            prepare_outbox(conn)
        self.store.outbox = Outbox(
            [s.name for s in self.specs], int(self.settings.open_wait_seconds * 1e9)
        )
        self._executor = self._new_executor()
        for spec in self.specs:
            thread = threading.Thread(
                target=self._deliver_forever,
                args=(spec,),
                name=f"otel-llm-forward-{spec.name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def _new_executor(self) -> Executor:
        if self._render_workers:
            return ProcessPoolExecutor(
                max_workers=self._render_workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=render_worker_init,
            )
        return ThreadPoolExecutor(1, thread_name_prefix="otel-llm-forward-render")

    def _renew_executor(self, broken: Executor) -> None:
        """Replace a process pool one of whose workers died (killed, out of memory):
        such a pool fails every batch from then on."""
        with self._executor_lock:
            if self._executor is broken:
                logger.warning("forward: a render worker died; starting new render workers")
                broken.shutdown(wait=False, cancel_futures=True)
                self._executor = self._new_executor()

    def stop(self) -> None:
        """Stop the threads (a batch in flight is finished or left queued); what is
        still queued is sent after the next start. The outbox hook stays installed, so
        runs committed while the server drains are queued too."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def status(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self.stats.values()]

    # --- one destination -------------------------------------------------------------

    def _deliver_forever(self, spec: DestinationSpec) -> None:
        destination = open_destination(spec)
        stats = self.stats[spec.name]
        attempt = 0
        next_try = next_depth = next_log = rescan_at = 0.0
        cursor = START  # where the last batch marked out ends
        pipeline: deque[Future[Rendered]] = deque()  # in due order
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_depth:
                    self._check_depth(spec, stats, pipeline)
                    next_depth = now + _DEPTH_EVERY
                if now >= next_log:
                    self._log_summary(stats)
                    next_log = now + self.settings.log_interval
                if now < next_try:
                    self._stop.wait(min(next_try - now, _DEPTH_EVERY))
                    continue
                if not pipeline:  # nothing in flight: start over from the earliest row
                    cursor, rescan_at = START, now + _RESCAN_SECONDS
                try:
                    if now < rescan_at:
                        # While the destination fails, one batch probes it at a time.
                        ahead = 1 if stats.retrying else self._pipeline_depth
                        cursor = self._fill(spec, cursor, pipeline, ahead)
                    if not pipeline:
                        self._stop.wait(_IDLE_POLL)
                        continue
                    result = self._finish(spec, destination, stats, pipeline.popleft().result())
                except BrokenProcessPool as exc:  # a render worker died: the rows stay
                    assert self._executor is not None
                    self._renew_executor(self._executor)
                    result, stats.last_error = None, f"{type(exc).__name__}: {exc}"
                    stats.retries, stats.retrying = stats.retries + 1, True
                except Exception as exc:  # a bug or the store closing: keep the rows
                    logger.exception("forward %s: batch failed", spec.name)
                    result, stats.last_error = None, f"{type(exc).__name__}: {exc}"
                    stats.retries, stats.retrying = stats.retries + 1, True
                if result is None:  # failed: back off (rows stay queued), start over after
                    self._abandon(pipeline)
                    attempt += 1
                    next_try = time.monotonic() + self._backoff(attempt, stats)
                else:
                    attempt = 0
        finally:
            self._abandon(pipeline)
            self._log_summary(stats)
            destination.close()

    def _fill(
        self,
        spec: DestinationSpec,
        cursor: Position,
        pipeline: deque[Future[Rendered]],
        ahead: int,
    ) -> Position:
        """Mark out and submit batches after `cursor` until `ahead` are in the pipeline
        (while ingest is active, until one is being rendered) or no more rows are due;
        returns the new cursor."""
        conn = self.store._reader()
        while len(pipeline) < ahead and not (
            self._ingest_active() and any(not f.done() for f in pipeline)
        ):
            now_ns = time.time_ns()
            last = batch_end(conn, spec.name, cursor, now_ns, self.settings.batch_size)
            if last is None:
                break
            hold_after = now_ns - int(self.settings.open_wait_seconds * 1e9)
            pipeline.append(self._render(spec, cursor, last, hold_after))
            cursor = last
        return cursor

    def _ingest_active(self) -> bool:
        outbox = self.store.outbox
        return (
            outbox is not None and time.monotonic() - outbox.last_enqueue < _INGEST_ACTIVE_SECONDS
        )

    def _render(
        self, spec: DestinationSpec, after: Position, last: Position, hold_after: int
    ) -> Future[Rendered]:
        assert self._executor is not None
        args = (spec, after, last, hold_after, self.settings.batch_size)
        if self._render_workers:
            return self._executor.submit(render_range_in_worker, str(self.store.path), *args)
        return self._executor.submit(lambda: render_range(self.store._reader(), *args))

    @staticmethod
    def _abandon(pipeline: deque[Future[Rendered]]) -> None:
        """Drop the batches in flight (their rows stay queued)."""
        for future in pipeline:
            future.cancel()
        pipeline.clear()

    def _backoff(self, attempt: int, stats: DestinationStats) -> float:
        asked, stats.retry_after = stats.retry_after, None
        if asked is not None:
            return asked
        bound = min(self.settings.backoff_max, self.settings.backoff_initial * 2 ** (attempt - 1))
        return random.uniform(0, bound)

    def _finish(
        self,
        spec: DestinationSpec,
        destination: Destination,
        stats: DestinationStats,
        rendered: Rendered,
    ) -> int | None:
        """Send a rendered batch and settle its rows; the runs settled, or None after a
        failure."""
        outcome = Outcome(True)
        for payload in rendered.payloads:  # none when no run is to be sent
            outcome = destination.send(payload, len(rendered.sent))
            if not outcome.ok:
                break
        if outcome.ok:
            with self.store._write() as wconn:
                settle(wconn, spec.name, rendered.settled, rendered.held, self._hold_until())
            stats.gone_runs += len(rendered.gone)
            if rendered.sent:
                stats.sent_runs += len(rendered.sent)
                stats.sent_batches += len(rendered.payloads)
                if stats.retrying:
                    logger.info("forward %s: delivering again", spec.name)
                stats.retrying = False
            return len(rendered.settled) + len(rendered.held)
        stats.last_error = outcome.problem
        if not outcome.retryable:
            logger.error(
                "forward %s refused %d runs for good (%s); spilling them",
                spec.name,
                len(rendered.sent),
                outcome.problem,
            )
            spilled = self._spill(
                spec, stats, rendered.sent, rendered.gone + rendered.skipped, rendered.held
            )
            stats.refused_runs += spilled
            return spilled or None
        stats.retries += 1
        if not stats.retrying:
            logger.warning(
                "forward %s: %s; retrying with backoff (runs stay queued)",
                spec.name,
                outcome.problem,
            )
        stats.retrying = True
        stats.retry_after = outcome.retry_after
        return None

    @staticmethod
    def _hold_until() -> int:
        return time.time_ns() + _HOLD_RETRY_NS

    # --- depth, the outbox bound, the spill directory ------------------------------------

    def _check_depth(
        self, spec: DestinationSpec, stats: DestinationStats, pipeline: deque[Future[Rendered]]
    ) -> None:
        conn = self.store._reader()
        d = depth(conn, spec.name)
        limit = self.settings.max_outbox_bytes
        if d.bytes > limit:
            # The oldest rows are those of the batches in flight: drop the batches, so a
            # row is settled by the spill or by a send, never by both.
            self._abandon(pipeline)
            excess = d.bytes - int(limit * 0.9)  # spill a little more: not every second
            logger.warning(
                "forward %s: outbox holds %d bytes of runs (bound %d); moving the oldest "
                "to the spill directory",
                spec.name,
                d.bytes,
                limit,
            )
            while excess > 0 and not self._stop.is_set():
                chosen: list[Entry] = []
                size = 0
                for entries, row_bytes in oldest_rows(conn, spec.name, 100):
                    if size >= excess:
                        break
                    chosen += entries
                    size += row_bytes
                if not chosen or not self._spill(spec, stats, chosen):
                    break
                excess -= size
            d = depth(conn, spec.name)
        stats.outbox_runs, stats.outbox_bytes = d.runs, d.bytes
        stats.lag_seconds = (
            max(0.0, (time.time_ns() - d.oldest_queued_ns) / 1e9)
            if d.oldest_queued_ns is not None
            else 0.0
        )

    def spill_directory(self, spec: DestinationSpec) -> Path:
        return self.settings.spill_dir / _slug(spec.name)

    def _spill(
        self,
        spec: DestinationSpec,
        stats: DestinationStats,
        entries: list[Entry],
        also: Sequence[Entry] = (),
        held: Sequence[Entry] = (),
    ) -> int:
        """Write the runs of `entries` to the spill directory, then take their rows
        (with `also`, and `held` queued again) out of the outbox; the number spilled (0
        when the file could not be written: the rows then stay queued)."""
        ids = list(dict.fromkeys(e.run_id for e in entries))  # once each, in order
        runs = stored_runs(self.store._reader(), ids)
        ordered = [runs[i] for i in ids if i in runs]
        directory = SpillDirectory(self.spill_directory(spec), max_bytes=2**62)
        if ordered and not directory.write(ordered):
            logger.error(
                "forward %s: cannot write the spill directory; %d runs stay in the outbox",
                spec.name,
                len(ordered),
            )
            return 0
        with self.store._write() as wconn:
            settle(wconn, spec.name, [*entries, *also], held, self._hold_until())
        stats.spilled_runs += len(ordered)
        stats.gone_runs += len(ids) - len(ordered)
        logger.warning(
            "forward %s: %d runs written to %s (send them with `otel-llm replay %s --to URL`)",
            spec.name,
            len(ordered),
            directory.directory,
            directory.directory,
        )
        return len(ordered)

    def _log_summary(self, stats: DestinationStats) -> None:
        moved = (stats.sent_runs, stats.retries, stats.spilled_runs)
        if moved == stats.logged:
            return
        sent, retries, spilled = (a - b for a, b in zip(moved, stats.logged, strict=True))
        stats.logged = moved
        level = logging.WARNING if spilled else logging.INFO
        logger.log(
            level,
            "forward %s: sent %d runs, %d retries, %d spilled; outbox %d runs, lag %.1f s",
            stats.name,
            sent,
            retries,
            spilled,
            stats.outbox_runs,
            stats.lag_seconds,
        )
