# Types of the optional C wire codec (otel_llm/otlp/_wire*.c).
from typing import Any

from otel_llm.model import SpanRecord

class Unsupported(ValueError):
    """Input only the reference (upb) codec handles; never seen by users."""

def decode_request(data: bytes, types: tuple[type, type, type], /) -> list[SpanRecord]:
    """The spans of ExportTraceServiceRequest bytes, built positionally from
    `types` = (SpanRecord, SpanEvent, SpanLink)."""

def encode_request(groups: list[Any], /) -> bytes:
    """The ExportTraceServiceRequest bytes of spans grouped by `grouping.group_spans`."""
