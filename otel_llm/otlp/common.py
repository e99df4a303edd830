"""What the OTLP codecs share: the decode error, span validity, integer ranges and the
repair of strings that UTF-8 cannot carry."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from otel_llm.model import SpanEvent, SpanLink, SpanRecord

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "INT64_MAX",
    "INT64_MIN",
    "UINT32_MAX",
    "UINT64_MAX",
    "ZERO8",
    "ZERO16",
    "OTLPDecodeError",
    "span_problem",
    "utf8",
    "utf8_deep",
]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1
UINT32_MAX = 2**32 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
ZERO16, ZERO8 = bytes(16), bytes(8)


class OTLPDecodeError(ValueError):
    """OTLP protobuf bytes or OTLP/JSON that cannot be read.

    The message says where and what, e.g.
    `resourceSpans[0].scopeSpans[1].spans[3].traceId: not hex: 'zz'`.

    Attributes:
        path: where in the request the problem is ("" for the whole input).
        reason: what is wrong there.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason

    def within(self, prefix: str) -> OTLPDecodeError:
        """The same problem, located inside `prefix` (the enclosing field)."""
        if not self.path:
            path = prefix
        elif self.path.startswith("["):
            path = prefix + self.path
        else:
            path = f"{prefix}.{self.path}"
        return OTLPDecodeError(path, self.reason)


# ---------------------------------------------------------------------------------------
# Validity (for OTLP partial success)


def span_problem(span: SpanRecord) -> str | None:
    """Why `span` is not a valid OTel span, or None when it is.

    The decoders keep such spans; a receiver rejects them through OTLP's
    `partial_success` with this text.

    Args:
        span: the span to check.
    """
    trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
    if len(trace_id) != 16:
        return f"trace id {trace_id.hex()!r} is {len(trace_id)} bytes, expected 16"
    if trace_id == ZERO16:
        return "trace id is all zeros"
    if len(span_id) != 8:
        return f"span id {span_id.hex()!r} is {len(span_id)} bytes, expected 8"
    if span_id == ZERO8:
        return "span id is all zeros"
    if parent and len(parent) != 8:
        return f"parent span id {parent.hex()!r} is {len(parent)} bytes, expected 8 or none"
    return None


# ---------------------------------------------------------------------------------------
# Strings that UTF-8 cannot carry

# OTLP strings are UTF-8, so lone surrogates (which lenient JSON parsers let into Python
# strings) cannot be sent. The encoders take this slow path only after a failure.


def utf8(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (escaped pairs are rejoined)."""
    return str.__str__(text).encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def utf8_deep(value: Any) -> Any:
    if isinstance(value, str):
        return utf8(value)
    if isinstance(value, (list, tuple)):
        return [utf8_deep(v) for v in value]
    if isinstance(value, dict):
        return {utf8_deep(k): utf8_deep(v) for k, v in value.items()}
    if isinstance(value, (SpanRecord, SpanEvent, SpanLink)):
        changes = {f.name: utf8_deep(getattr(value, f.name)) for f in fields(value)}
        return replace(value, **changes)
    return value
