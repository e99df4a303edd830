"""`RunSpanProcessor`: an existing OpenTelemetry setup's LLM spans, as runs, to any sink.

    provider.add_span_processor(RunSpanProcessor(sink=JsonlRunSink("runs.jsonl")))

On the application's threads the processor only appends the span to a bounded queue
(`on_start` and `on_end`: O(1), never blocking; when the queue is full the span is
dropped and counted). Everything else runs on two background threads:

- the converter takes spans off the queue, keeps a small table of live spans
  (`processor.tree`, filled at `on_start`: parents start before their children, so
  when a child ends, which happens before its parent ends, its whole ancestry is known
  and its run gets its final trace id, parent and dotted order at once), filters,
  converts, samples and redacts;
- the delivery thread (`processor.delivery`) hands batches of runs to the sink; a
  batch the sink cannot take is counted and, with a spill directory, written there as
  JSONL for `otel-llm replay`.

A span whose parent is local but unknown (its start was dropped, or the processor is
fed ended spans only, as the `otel_llm_runs` exporter is) waits for that parent to end,
up to `orphan_timeout_s`; after that it is emitted with a provisional trace id and
`extra.otel.incomplete`, as `spans_to_runs` does for batches.

Filtering: by default only LLM-relevant spans become runs: spans a known convention
marks (`otel_llm.convert.classify`), and their ancestors, so that an application's HTTP
and database spans do not flood the run store. `export_all=True` keeps every span; a
`should_export(span_record) -> bool` predicate replaces the default test (ancestors of
the spans it selects are still kept, so trees stay whole).
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace import Span as SdkSpan

from otel_llm import config
from otel_llm.convert import classify, span_to_run
from otel_llm.model import Run, SpanRecord, StatusCode
from otel_llm.otlp import span_from_readable
from otel_llm.otlp.logs import LogRecord
from otel_llm.processor.delivery import STOP, Delivery, Flush
from otel_llm.processor.logs import LogEventStash
from otel_llm.processor.logs import RunLogProcessor as RunLogProcessor
from otel_llm.processor.tree import Node, SpanTree
from otel_llm.redaction import RedactHook, Redactor, chain
from otel_llm.sampling import TraceSampler
from otel_llm.sinks.base import RunSink, reinit_after_fork
from otel_llm.sinks.spill import SpillDirectory

logger = logging.getLogger(__name__)

ShouldExport = Callable[[SpanRecord], bool]

_HOUSEKEEPING_EVERY_S = 1.0
_INTENDED_DROPS = frozenset({"sampled_out", "redacted"})


@dataclass(frozen=True)
class ProcessorStats:
    """A snapshot of the processor's counters.

    Attributes:
        received: spans that ended while the processor was running.
        emitted: runs the sink took.
        filtered: spans that did not become runs (not LLM-relevant, or duplicates).
        dropped: runs or spans lost, by cause: `queue_full` (the app outran the
            worker), `shutdown` (ended after shutdown), `sampled_out`, `redacted` (the
            redact hook returned None), `conversion_error`, `delivery_failed` (the sink
            refused them and no spill directory could keep them).
        delivery_failures: `export` calls the sink failed.
        spilled: runs written to the spill directory.
        queued: spans waiting in the queue now.
        live_spans: spans tracked for their children now.
        buffered: runs waiting for a parent or a sampling decision now.
        log_events_joined: GenAI log records (from `RunLogProcessor`) that became span
            events of their span.
        log_events_late: log records that came after their span ended (not joined).
    """

    received: int = 0
    emitted: int = 0
    filtered: int = 0
    dropped: Mapping[str, int] = field(default_factory=dict)
    delivery_failures: int = 0
    spilled: int = 0
    queued: int = 0
    live_spans: int = 0
    buffered: int = 0
    log_events_joined: int = 0
    log_events_late: int = 0

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


class RunSpanProcessor(SpanProcessor):
    """Turns ended spans into runs on a background worker and delivers them to a sink.

    Args:
        sink: where runs go (`InMemoryRunSink`, `JsonlRunSink`, `LangSmithRunSink`,
            `StoreRunSink`, or any `RunSink`).
        export_all: every span becomes a run, not only LLM-relevant ones.
        should_export: a predicate on the span that replaces the LLM-relevance test.
        sampler: trace sampling (default: the base ratio of OTEL_LLM_RUNS_SAMPLE_RATE /
            LANGSMITH_TRACING_SAMPLING_RATE, errors kept).
        redaction: the built-in rules: True (default rules), False (none), or a
            configured `Redactor`.
        redact: a hook `(run) -> run | None` applied after the built-in rules; None
            from it drops the run.
        hide_inputs / hide_outputs: send `{}` instead (default: LANGSMITH_HIDE_INPUTS /
            LANGSMITH_HIDE_OUTPUTS); applied even with `redaction=False`.
        spill_dir: where batches the sink cannot take are written (a directory path or
            a `SpillDirectory`); None: they are counted as dropped.
        max_queue_size: spans waiting for the worker, at most (each span takes a slot
            at start and one at end).
        max_batch_size: runs per `sink.export` call, at most.
        schedule_delay_millis: a run waits at most this long for its batch to fill.
        max_live_spans: spans tracked for their children, at most (the oldest is let go
            first, so spans that never end cannot grow memory).
        orphan_timeout_s: how long a span waits for a local parent it has not seen.
        stats_log_interval_s: counters are logged at most this often, when they moved.
        shutdown_on_exit: shut down (flushing everything) when the interpreter exits;
            turn off when something else owns the processor's lifetime (an exporter
            wrapped in the SDK's BatchSpanProcessor, which flushes into it at exit).
    """

    def __init__(
        self,
        sink: RunSink,
        *,
        export_all: bool = False,
        should_export: ShouldExport | None = None,
        sampler: TraceSampler | None = None,
        redaction: bool | Redactor = True,
        redact: RedactHook | None = None,
        hide_inputs: bool | None = None,
        hide_outputs: bool | None = None,
        spill_dir: str | os.PathLike[str] | SpillDirectory | None = None,
        max_queue_size: int = 20_000,
        max_batch_size: int = 1_000,
        schedule_delay_millis: float = 500,
        max_live_spans: int = 50_000,
        orphan_timeout_s: float = 120.0,
        stats_log_interval_s: float = 60.0,
        shutdown_on_exit: bool = True,
    ) -> None:
        for name, value in (
            ("max_queue_size", max_queue_size),
            ("max_batch_size", max_batch_size),
            ("max_live_spans", max_live_spans),
        ):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.sink = sink
        self._export_all = export_all
        self._should_export = should_export
        self._sampler = sampler if sampler is not None else TraceSampler(config.runs_sample_rate())
        self._redact = _redact_pipeline(redaction, redact, hide_inputs, hide_outputs)
        self._spill = (
            spill_dir
            if spill_dir is None or isinstance(spill_dir, SpillDirectory)
            else SpillDirectory(Path(spill_dir))
        )
        self._max_queue = max_queue_size
        self._max_batch = max_batch_size
        self._delay = schedule_delay_millis / 1000
        self._max_live = max_live_spans
        self._orphan_timeout = orphan_timeout_s
        self._log_interval = stats_log_interval_s
        self._wake_at = max(1, min(max_batch_size, max_queue_size // 4))
        self._init_runtime()
        reinit_after_fork(self._after_fork)
        if shutdown_on_exit:
            weak_exit = weakref.WeakMethod(self._at_exit)
            atexit.register(lambda: (m := weak_exit()) is not None and m())

    # --- state (rebuilt in a forked child, whose parent delivers what was queued) -----

    def _after_fork(self) -> None:
        if not self._stopping:  # a processor shut down before the fork stays down
            self._init_runtime()

    def _init_runtime(self) -> None:
        self._queue: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()
        self._closed = False  # no more spans accepted
        self._stopping = False
        self._drop_lock = threading.Lock()
        self._app_dropped: dict[str, int] = {}
        self._flushes: list[Flush] = []
        self._flush_lock = threading.Lock()
        # Converter state.
        self._is_start: dict[type, bool] = {}
        self._log_events = LogEventStash()
        self._tree = SpanTree(self._emit, self._root_ended, self._max_live, self._orphan_timeout)
        self._batch: list[Run] = []
        self._batch_due = 0.0
        self._received = 0
        self._filtered = 0
        self._dropped: collections.Counter[str] = collections.Counter()
        self._last_housekeeping = time.monotonic()
        self._last_log = time.monotonic()
        self._logged: ProcessorStats | None = None
        self._delivery = Delivery(self.sink, self._spill, self._max_batch)
        self._converter = threading.Thread(
            target=self._convert_loop, name="otel-llm-runs-convert", daemon=True
        )
        self._deliverer = self._delivery.thread
        self._converter.start()
        self._deliverer.start()

    # --- the SpanProcessor interface (application threads) ----------------------------

    def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
        """Queues the live span: its ids and start time are what its children need.

        Args:
            span: the span that started.
            parent_context: unused (the span knows its parent).
        """
        if len(self._queue) < self._max_queue and not self._closed:
            self._queue.append(span)

    def _on_ending(self, span: SdkSpan) -> None:
        """Called by the SDK (>= 1.40) just before a span ends; nothing to do yet."""

    def on_end(self, span: ReadableSpan) -> None:
        """Queues the ended span; O(1), never blocks; drops (counted) when full.

        Args:
            span: the span that ended.
        """
        queue = self._queue
        if len(queue) < self._max_queue and not self._closed:
            queue.append(span)
            if len(queue) >= self._wake_at and not self._wake.is_set():
                self._wake.set()
        else:
            self._count_app_drop("shutdown" if self._closed else "queue_full")

    def feed(self, span: ReadableSpan) -> bool:
        """Queue an ended span that did not pass through `on_start` (exporter use).

        Args:
            span: the ended span.

        Returns:
            False when it was dropped (queue full or shut down).
        """
        before = self._app_dropped_total()
        self.on_end(span)
        return self._app_dropped_total() == before

    def feed_log_record(self, record: LogRecord) -> bool:
        """Queue a GenAI log record for its span (`RunLogProcessor` calls it); O(1).

        Returns:
            False when it was dropped (queue full or shut down).
        """
        if len(self._queue) < self._max_queue and not self._closed:
            self._queue.append(record)
            return True
        self._count_app_drop("shutdown" if self._closed else "queue_full")
        return False

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Convert and deliver every span that ended before the call.

        Runs still waiting for an unfinished parent, or for their trace's sampling
        decision, stay where they are.

        Args:
            timeout_millis: how long to wait at most.

        Returns:
            True when everything was handed to the sink (and its own flush returned)
            in time.
        """
        if self._stopping:
            return False
        request = Flush()
        with self._flush_lock:
            self._flushes.append(request)
        self._wake.set()
        return request.done.wait(timeout_millis / 1000)

    def shutdown(self, timeout_millis: int = 30_000) -> None:
        """Stop taking spans, deliver (or spill) what is queued, and shut the sink down.

        Runs waiting for a parent are emitted as incomplete; traces waiting for a
        sampling decision are decided with what is known. When delivery is still busy
        near the deadline the sink is told to shut down, which cuts its retries short
        so the rest is spilled.

        Args:
            timeout_millis: how long to wait at most.
        """
        if self._stopping:
            return
        deadline = time.monotonic() + timeout_millis / 1000
        self._closed = True
        self._stopping = True
        self._wake.set()
        self._converter.join(max(0.0, deadline - time.monotonic()))
        # Leave a fifth of the time for spilling what the sink cannot take by then.
        self._deliverer.join(max(0.0, deadline - timeout_millis / 5000 - time.monotonic()))
        if self._deliverer.is_alive():
            self.sink.shutdown()
            self._deliverer.join(max(0.0, deadline - time.monotonic()))
        else:
            self.sink.shutdown()
        self._log_stats(force=True)

    def _at_exit(self) -> None:
        self.shutdown(timeout_millis=5_000)

    # --- counters ------------------------------------------------------------------------

    def _count_app_drop(self, cause: str) -> None:
        with self._drop_lock:
            self._app_dropped[cause] = self._app_dropped.get(cause, 0) + 1

    def _app_dropped_total(self) -> int:
        return sum(self._app_dropped.values())

    @property
    def stats(self) -> ProcessorStats:
        """The counters now (a consistent-enough snapshot; threads keep counting)."""
        with self._drop_lock:
            app = dict(self._app_dropped)
        dropped: collections.Counter[str] = collections.Counter(app)
        dropped.update(dict(self._dropped))  # one C-level copy: the worker keeps counting
        dropped["sampled_out"] += self._sampler.sampled_out
        delivery = self._delivery
        if delivery.dropped:
            dropped["delivery_failed"] += delivery.dropped
        return ProcessorStats(
            received=self._received + sum(app.values()),
            emitted=delivery.emitted,
            filtered=self._filtered,
            dropped={k: v for k, v in dropped.items() if v},
            delivery_failures=delivery.failures,
            spilled=delivery.spilled,
            queued=len(self._queue),
            live_spans=len(self._tree.nodes),
            buffered=self._tree.waiting + self._sampler.buffered,
            log_events_joined=self._log_events.joined,
            log_events_late=self._log_events.late,
        )

    def _log_stats(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_log < self._log_interval:
            return
        stats = self.stats
        last = self._logged or ProcessorStats()
        if stats == last:
            return
        self._last_log, self._logged = now, stats
        # Sampling and the redact hook drop runs on purpose; anything else is a loss.
        lost = any(
            n > last.dropped.get(cause, 0)
            for cause, n in stats.dropped.items()
            if cause not in _INTENDED_DROPS
        ) or (stats.delivery_failures > last.delivery_failures)
        logger.log(
            logging.WARNING if lost else logging.INFO,
            "otel-llm runs: received %d spans, emitted %d runs, filtered %d, dropped %s, "
            "failed deliveries %d, spilled %d",
            stats.received, stats.emitted, stats.filtered, dict(stats.dropped) or 0,
            stats.delivery_failures, stats.spilled,
        )  # fmt: skip

    # --- converter thread ------------------------------------------------------------------

    def _convert_loop(self) -> None:
        while True:
            timeout = self._delay if not self._batch else self._batch_due - time.monotonic()
            self._wake.wait(max(0.0, timeout))
            self._wake.clear()
            with self._flush_lock:
                flushes, self._flushes = self._flushes, []
            stopping = self._stopping
            try:
                # Only what is queued now: a busy app must not keep the loop from
                # handing off batches and flushes.
                for _ in range(len(self._queue)):
                    self._handle(self._queue.popleft())
                now = time.monotonic()
                if stopping:
                    self._release_all()
                elif now - self._last_housekeeping >= _HOUSEKEEPING_EVERY_S:
                    self._housekeeping(now)
                if self._batch and (flushes or stopping or now >= self._batch_due):
                    self._hand_off()
            except Exception:  # a bug here must not kill the thread and block the app
                logger.exception("otel-llm runs: the converter failed; spans may be lost")
            self._delivery.post(*flushes)
            if stopping:
                self._delivery.post(STOP)
                return
            self._log_stats()

    def _handle(self, item: Any) -> None:
        # Live spans are queued at start, ReadableSpans at end; the type test is cached
        # because isinstance against the API's abstract Span is slow.
        kind = type(item)
        if kind is LogRecord:
            self._log_events.add(item)
            return
        started = self._is_start.get(kind)
        if started is None:
            started = self._is_start[kind] = isinstance(item, SdkSpan)
        if started:
            self._tree.started(item)
        else:
            self._received += 1
            self._ended(item)

    def _ended(self, readable: ReadableSpan) -> None:
        try:
            record = span_from_readable(readable)
        except Exception as exc:
            self._drop("conversion_error", exc)
            return
        self._log_events.attach(record)
        if not self._tree.ended(record, self._relevant(record)):
            self._filtered += 1

    def _relevant(self, record: SpanRecord) -> bool:
        if self._export_all:
            return True
        if self._should_export is not None:
            return bool(self._should_export(record))
        return classify(record) is not None

    # --- runs ------------------------------------------------------------------------------

    def _emit(self, record: SpanRecord, node: Node) -> None:
        try:
            run = span_to_run(record, parent=self._tree.parent_placement(node))
        except Exception as exc:
            self._drop("conversion_error", exc)
            return
        if run is None:
            self._filtered += 1
            return
        if not self._sampler.active:
            self._deliver_later(run)
            return
        for kept in self._sampler.offer(record.trace_id, run):
            self._deliver_later(kept)

    def _root_ended(self, record: SpanRecord) -> None:
        if not self._sampler.active:
            return
        duration = record.end_time_unix_nano - record.start_time_unix_nano
        error = record.status_code == StatusCode.ERROR
        for run in self._sampler.root_ended(record.trace_id, duration, error):
            self._deliver_later(run)

    def _housekeeping(self, now: float) -> None:
        self._last_housekeeping = now
        self._tree.expire(now)
        for run in self._sampler.expire():
            self._deliver_later(run)

    def _release_all(self) -> None:
        """At shutdown: nothing more will end; emit everything still waiting."""
        self._tree.release_all()
        for run in self._sampler.drain():
            self._deliver_later(run)

    def _deliver_later(self, run: Run) -> None:
        if self._redact is not None:
            try:
                redacted = self._redact(run)
            except Exception as exc:
                self._drop("redaction_error", exc)
                return
            if redacted is None:
                self._dropped["redacted"] += 1
                return
            run = redacted
        if not self._batch:
            self._batch_due = time.monotonic() + self._delay
        self._batch.append(run)
        if len(self._batch) >= self._max_batch:
            self._hand_off()

    def _drop(self, cause: str, exc: BaseException) -> None:
        self._dropped[cause] += 1
        if self._dropped[cause] == 1:
            logger.warning("otel-llm runs: %s (%r); counted as dropped", cause, exc)

    def _hand_off(self) -> None:
        batch, self._batch = self._batch, []
        self._delivery.post(batch)


def _redact_pipeline(
    redaction: bool | Redactor,
    redact: RedactHook | None,
    hide_inputs: bool | None,
    hide_outputs: bool | None,
) -> RedactHook | None:
    hide_in = config.runs_hide_inputs() if hide_inputs is None else hide_inputs
    hide_out = config.runs_hide_outputs() if hide_outputs is None else hide_outputs
    builtin: Redactor | None
    if isinstance(redaction, Redactor):
        builtin = redaction
        builtin.hide_inputs = builtin.hide_inputs or hide_in
        builtin.hide_outputs = builtin.hide_outputs or hide_out
    elif redaction:
        builtin = Redactor(hide_inputs=hide_in, hide_outputs=hide_out)
    elif hide_in or hide_out:
        builtin = Redactor((), (), hide_inputs=hide_in, hide_outputs=hide_out)
    else:
        builtin = None
    return chain(builtin, redact)
