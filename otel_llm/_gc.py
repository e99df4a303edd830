"""The cycle collector and batch work: paused around batch steps, tuned in a server.

Decoding a request, converting its spans and building a trace's read shape each make
thousands of objects that hold no reference cycles. With the collector on, its
young-generation passes walk them again and again as they are made (~10-30% of those
steps); paused, the ones that are still alive are walked once, later, and the temporary
ones never. Reference counting frees everything as usual.

The pause is process-wide, so it wraps only short, bounded batch steps, and restores
the state it found (an app that disabled the collector keeps it disabled). Processes that
are the server's own (`otel-llm serve`, its decode workers) are tuned for good instead.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """`with collector_paused():` or `@collector_paused()`: the cycle collector is off
    inside, back to its former state after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# A request's objects (decoded spans, runs, rows) hold no cycles and are all freed when
# it is answered; with the default young-generation threshold (700) the cycle collector
# runs ~20 times a request over objects about to be freed anyway (~15% of a decode
# worker's CPU, measured before the batch steps paused it themselves; the rows, their
# pickling and the server's commits still gain). The server's processes are ours to
# tune: what was imported is frozen out of the collector's passes, and the young
# generation is collected only after this many more objects live than died.
_GC_YOUNG_THRESHOLD = 100_000


def tune_collector() -> None:
    """Tune the cycle collector of a server process (the server itself, each worker)."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(_GC_YOUNG_THRESHOLD, middle, old)
