"""The one interface every run sink implements, shaped like the SDK's `SpanExporter`.

A sink takes batches of finished runs. It never raises for a delivery problem: it
answers `SinkResult.FAILURE` and the caller (the span processor, `otel-llm replay`)
decides what to do with the batch (count it, spill it to disk).
"""

from __future__ import annotations

import enum
import os
import weakref
from collections.abc import Callable, Sequence

from otel_llm.model import Run


class SinkResult(enum.Enum):
    """The outcome of one `RunSink.export` call."""

    SUCCESS = 0
    FAILURE = 1


class RunSink:
    """Base class of run sinks. Subclasses implement `export`; the rest is optional.

    `export` may be called from any thread, but never concurrently by the span
    processor (it has one delivery thread).
    """

    def export(self, runs: Sequence[Run]) -> SinkResult:
        """Deliver a batch of runs.

        Args:
            runs: finished runs, in the order they ended.

        Returns:
            SUCCESS when the sink has taken the whole batch, else FAILURE.
        """
        raise NotImplementedError

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Push out anything the sink buffers itself.

        Args:
            timeout_millis: how long the caller is prepared to wait.
        """
        return True

    def shutdown(self) -> None:
        """Release resources and cut short any retry in progress; idempotent."""


def reinit_after_fork(method: Callable[[], None]) -> None:
    """Call `method` (a bound method) in a forked child, to rebuild locks, threads and
    connections that the child must not share with its parent. Holds no strong
    reference to the object."""
    if not hasattr(os, "register_at_fork"):
        return
    weak = weakref.WeakMethod(method)

    def after_in_child() -> None:
        bound = weak()
        if bound is not None:
            bound()

    os.register_at_fork(after_in_child=after_in_child)
