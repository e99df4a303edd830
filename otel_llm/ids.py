"""OTel ids <-> run UUIDs, and dotted order.

Two rules meet here (see the README's "Ids" section):

- span -> run (LangSmith's server rule): the 8-byte span id right-aligned in a
  zero-padded 16-byte UUID.
- run -> span (LangSmith's SDK rule): the span id is the FIRST 8 bytes of the run UUID,
  so OTel spans an app starts inside a `@traceable` function attach to the right parent.

A run UUID whose first 8 bytes are zero was born from a span, so its span id is its last
8 bytes: the two rules invert each other without any lookup.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timezone

_new_object = object.__new__
_set = object.__setattr__
_UNKNOWN = uuid.SafeUUID.unknown


def uuid_from_int(value: int) -> uuid.UUID:
    """`uuid.UUID(int=value)` for a value known to fit in 128 bits, at a third of the
    cost (the constructor's argument checks dominate on the conversion hot path)."""
    u = _new_object(uuid.UUID)
    _set(u, "int", value)
    _set(u, "is_safe", _UNKNOWN)
    return u


def run_id_from_span_id(span_id: bytes) -> uuid.UUID:
    """The run UUID for an OTel span id (zero-padded, right-aligned)."""
    if len(span_id) != 8:
        raise ValueError(f"a span id has 8 bytes, not {len(span_id)}")
    return uuid_from_int(int.from_bytes(span_id, "big"))


# Text of recently seen UUIDs: a trace's id and a parent's id recur on every run under
# them, and `str(uuid)` costs ~0.45 µs. Bounded: cleared when full.
_TEXT: dict[int, str] = {}
_TEXT_MAX = 16_384


def uuid_str(u: uuid.UUID) -> str:
    """`str(u)`, remembered for the UUIDs that recur on the conversion hot path."""
    n = u.int
    text = _TEXT.get(n)
    if text is None:
        if len(_TEXT) >= _TEXT_MAX:
            _TEXT.clear()
        text = _TEXT[n] = _uuid_text(n)
    return text


def _uuid_text(n: int) -> str:
    """`str(UUID(int=n))`, a third faster for run ids born from span ids."""
    if n >> 64 == 0:  # the first half is zeros
        h = f"{n:016x}"
        return f"00000000-0000-0000-{h[:4]}-{h[4:]}"
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def span_id_from_run_id(run_id: uuid.UUID) -> bytes:
    """The OTel span id for a run UUID; inverse of `run_id_from_span_id`."""
    n = run_id.int
    return (n if n >> 64 == 0 else n >> 64).to_bytes(8, "big")


def trace_bytes_from_run_trace_id(trace_id: uuid.UUID) -> bytes:
    """The OTel trace id for a run trace: the UUID's 16 bytes."""
    return trace_id.bytes


def dotted_segment(start_time_ns: int, run_id: uuid.UUID) -> str:
    """One dotted-order segment: `%Y%m%dT%H%M%S%fZ` of the start time + the run UUID."""
    secs, rem = divmod(start_time_ns, 1_000_000_000)
    return f"{_second(secs)}{rem // 1000:06d}Z{uuid_str(run_id)}"


@functools.lru_cache(maxsize=1024)
def _second(secs: int) -> str:
    # Spans of a batch share few distinct seconds: format each once.
    return f"{datetime.fromtimestamp(secs, tz=timezone.utc):%Y%m%dT%H%M%S}"


def dotted_order(parent_dotted_order: str | None, start_time_ns: int, run_id: uuid.UUID) -> str:
    """A run's dotted order: its parent's, a dot, then its own segment."""
    seg = dotted_segment(start_time_ns, run_id)
    return f"{parent_dotted_order}.{seg}" if parent_dotted_order else seg


def parse_dotted_order(value: str) -> list[tuple[str, uuid.UUID]]:
    """Split a dotted order into (timestamp, run UUID) pairs, root first.

    Raises:
        ValueError: when a segment is not `<22-char timestamp><36-char UUID>`.
    """
    out: list[tuple[str, uuid.UUID]] = []
    for seg in value.split("."):
        if len(seg) < 37 or seg[-37] != "Z":
            raise ValueError(f"bad dotted-order segment {seg!r}")
        out.append((seg[:-36], uuid.UUID(seg[-36:])))
    return out


def ids_from_dotted_order(value: str) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID | None]:
    """(run id, trace id, parent run id) implied by a dotted order."""
    segs = parse_dotted_order(value)
    parent = segs[-2][1] if len(segs) > 1 else None
    return segs[-1][1], segs[0][1], parent
