"""The processor's delivery thread: batches of runs to the sink, in order.

The converter posts batches (and flush requests, and at last `STOP`) to an outbox; this
thread hands them to the sink one `export` at a time, merging batches that queued up
while the sink was busy. A batch the sink cannot take is counted and, with a spill
directory, written there as JSONL for `otel-llm replay`.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any

from otel_llm.model import Run
from otel_llm.sinks.base import RunSink, SinkResult
from otel_llm.sinks.spill import SpillDirectory

logger = logging.getLogger("otel_llm.processor")


class Flush:
    """A flush request travelling down the pipeline behind the spans before it."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


STOP = object()
"""Posted last: the delivery thread ends once everything before it is delivered."""


class Delivery:
    """The outbox and the thread that empties it into the sink.

    Args:
        sink: where runs go.
        spill: where batches the sink refuses are written (None: they are dropped).
        max_batch: runs per `sink.export` call, at most (merged batches included).
    """

    def __init__(self, sink: RunSink, spill: SpillDirectory | None, max_batch: int) -> None:
        self._sink = sink
        self._spill = spill
        self._max_batch = max_batch
        self._outbox: collections.deque[Any] = collections.deque()
        self._ready = threading.Condition()
        # Counters (written by the delivery thread only).
        self.emitted = 0
        self.failures = 0
        self.spilled = 0
        self.dropped = 0
        self.thread = threading.Thread(target=self._loop, name="otel-llm-runs-deliver", daemon=True)

    def post(self, *items: Any) -> None:
        """Queue batches (lists of runs), `Flush` requests or `STOP`, in order."""
        if not items:
            return
        with self._ready:
            self._outbox.extend(items)
            self._ready.notify()

    def _loop(self) -> None:
        outbox = self._outbox
        while True:
            with self._ready:
                while not outbox:
                    self._ready.wait()
                item = outbox.popleft()
                if isinstance(item, list):
                    # Batches that queued up while the sink was busy go out together.
                    while (
                        outbox
                        and isinstance(outbox[0], list)
                        and len(item) + len(outbox[0]) <= self._max_batch
                    ):
                        item = item + outbox.popleft()
            if item is STOP:
                return
            if isinstance(item, Flush):
                try:
                    self._sink.force_flush()
                except Exception:
                    logger.exception("otel-llm runs: sink.force_flush failed")
                item.done.set()
                continue
            self._export(item)

    def _export(self, runs: list[Run]) -> None:
        try:
            result = self._sink.export(runs)
        except Exception:
            # The first traceback says what is wrong; the stats line counts the rest.
            log = logger.exception if not self.failures else logger.debug
            log("otel-llm runs: the sink raised; counted as a failed delivery", exc_info=True)
            result = SinkResult.FAILURE
        if result is SinkResult.SUCCESS:
            self.emitted += len(runs)
            return
        self.failures += 1
        if self._spill is not None and self._spill.write(runs):
            self.spilled += len(runs)
        else:
            self.dropped += len(runs)
