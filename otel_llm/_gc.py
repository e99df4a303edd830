"""Pausing the cycle collector around batch work.

Decoding a request, converting its spans and building a trace's read shape each make
thousands of objects that hold no reference cycles. With the collector on, its
young-generation passes walk them again and again as they are made (~10-30% of those
steps); paused, the ones that are still alive are walked once, later, and the temporary
ones never. Reference counting frees everything as usual.

The pause is process-wide, so it wraps only short, bounded batch steps, and restores
the state it found (an app that disabled the collector keeps it disabled).
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
