"""Trace sampling that keeps traces whole.

All runs of a trace are kept or dropped together. A trace is kept when

- its OTel trace id falls under the base ratio (the same test as the SDK's
  `TraceIdRatioBased` sampler: the low 64 bits of the id against `ratio * 2**64`, so
  every process, and an OTel head sampler at the same ratio, agrees), or
- any of its runs has an error (`keep_errors`), or
- its local root ran for at least `slow_threshold_ms`.

Traces the ratio keeps pass straight through. The others wait in a bounded buffer
until their local root ends; a trace whose root has not ended after `root_timeout_s`,
or that is the oldest when the buffer is full, is decided with what is known by then
(it is kept if it has already been running longer than the slow threshold). Decisions
are remembered for a while, so runs that end after their root follow them.

The sampler is not thread-safe: the span processor calls it from its one worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from otel_llm.model import Run

_TRACE_ID_LIMIT = 1 << 64


def ratio_keeps(trace_id: bytes, ratio: float) -> bool:
    """Does the base ratio keep this trace? Deterministic in the trace id.

    Args:
        trace_id: the 16-byte OTel trace id.
        ratio: 0..1.
    """
    if ratio >= 1.0:
        return True
    if ratio <= 0.0:
        return False
    return int.from_bytes(trace_id[-8:], "big") < int(ratio * _TRACE_ID_LIMIT)


@dataclass
class _Pending:
    runs: list[Run] = field(default_factory=list)
    first_seen: float = 0.0
    earliest_start_ns: int = 0


class TraceSampler:
    """Keeps or drops whole traces.

    Args:
        ratio: base ratio of traces kept, 0..1.
        keep_errors: keep every trace in which a run has an error.
        slow_threshold_ms: keep every trace whose local root ran at least this long.
        max_buffered_runs: runs waiting for their trace's decision, at most.
        root_timeout_s: how long a trace may wait for its root to end.
        clock / wall_clock_ns: monotonic seconds and epoch nanoseconds (for tests).
    """

    def __init__(
        self,
        ratio: float = 1.0,
        *,
        keep_errors: bool = True,
        slow_threshold_ms: float | None = None,
        max_buffered_runs: int = 10_000,
        root_timeout_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"sampling ratio must be between 0 and 1, got {ratio}")
        if slow_threshold_ms is not None and slow_threshold_ms < 0:
            raise ValueError(f"slow_threshold_ms must be >= 0, got {slow_threshold_ms}")
        self.ratio = ratio
        self.keep_errors = keep_errors
        self.slow_ns = None if slow_threshold_ms is None else int(slow_threshold_ms * 1e6)
        self.max_buffered_runs = max_buffered_runs
        self.root_timeout_s = root_timeout_s
        self._clock = clock
        self._wall_ns = wall_clock_ns
        self._pending: dict[bytes, _Pending] = {}  # insertion order: oldest first
        self._buffered = 0
        self._decided: dict[bytes, bool] = {}
        self._max_decided = 100_000
        self.sampled_out = 0  # runs dropped by sampling
        self.decided_early = 0  # traces decided before their root ended

    @property
    def active(self) -> bool:
        """False when every trace is kept anyway (ratio 1)."""
        return self.ratio < 1.0

    @property
    def buffered(self) -> int:
        """Runs waiting for their trace's decision."""
        return self._buffered

    def offer(self, trace_id: bytes, run: Run) -> list[Run]:
        """A run of a trace; returns the runs now released (possibly none).

        Args:
            trace_id: the OTel trace id of the run's span.
            run: the run.
        """
        decided = self._decided.get(trace_id)
        if decided is None and ratio_keeps(trace_id, self.ratio):
            decided = True
        if decided is True:
            return [run]
        if decided is False:
            self.sampled_out += 1
            return []
        if self.keep_errors and run.error is not None:
            return [*self._decide(trace_id, True), run]
        if not self.keep_errors and self.slow_ns is None:
            self._decide(trace_id, False)  # nothing could change the verdict
            self.sampled_out += 1
            return []
        pending = self._pending.get(trace_id)
        if pending is None:
            pending = self._pending[trace_id] = _Pending(
                first_seen=self._clock(), earliest_start_ns=run.start_time_ns
            )
        pending.runs.append(run)
        pending.earliest_start_ns = min(pending.earliest_start_ns, run.start_time_ns)
        self._buffered += 1
        released: list[Run] = []
        while self._buffered > self.max_buffered_runs and self._pending:
            oldest = next(iter(self._pending))
            self.decided_early += 1
            released.extend(self._decide(oldest, self._running_slow(oldest)))
        return released

    def root_ended(self, trace_id: bytes, duration_ns: int, error: bool = False) -> list[Run]:
        """The local root of a trace ended: decide the trace.

        Args:
            trace_id: the OTel trace id.
            duration_ns: the root span's duration.
            error: whether the root span itself failed.
        """
        if trace_id in self._decided:
            return []
        keep = (
            ratio_keeps(trace_id, self.ratio)
            or (self.keep_errors and error)
            or (self.slow_ns is not None and duration_ns >= self.slow_ns)
        )
        return self._decide(trace_id, keep)

    def expire(self) -> list[Run]:
        """Decide the traces that waited longer than `root_timeout_s` for their root."""
        released: list[Run] = []
        limit = self._clock() - self.root_timeout_s
        while self._pending:
            trace_id, pending = next(iter(self._pending.items()))
            if pending.first_seen > limit:
                break
            self.decided_early += 1
            released.extend(self._decide(trace_id, self._running_slow(trace_id)))
        return released

    def drain(self) -> list[Run]:
        """Decide every waiting trace now (at shutdown)."""
        released: list[Run] = []
        for trace_id in list(self._pending):
            self.decided_early += 1
            released.extend(self._decide(trace_id, self._running_slow(trace_id)))
        return released

    def _running_slow(self, trace_id: bytes) -> bool:
        """Has this trace already run longer than the slow threshold?"""
        pending = self._pending.get(trace_id)
        if self.slow_ns is None or pending is None:
            return False
        return self._wall_ns() - pending.earliest_start_ns >= self.slow_ns

    def _decide(self, trace_id: bytes, keep: bool) -> list[Run]:
        self._decided[trace_id] = keep
        if len(self._decided) > self._max_decided:
            del self._decided[next(iter(self._decided))]
        pending = self._pending.pop(trace_id, None)
        if pending is None:
            return []
        self._buffered -= len(pending.runs)
        if keep:
            return pending.runs
        self.sampled_out += len(pending.runs)
        return []
