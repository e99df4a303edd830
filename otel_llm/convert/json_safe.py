"""Attribute values through JSON: `extra.otel` keeps a span's attributes as JSON, and
bytes, which JSON cannot hold, travel as `{"$bytes": base64}`."""

from __future__ import annotations

import base64
from typing import Any

# Attribute values may be bytes, which JSON cannot hold: they travel as {"$bytes": b64}.
BYTES_KEY = "$bytes"


_PLAIN = frozenset({str, int, float, bool})


def json_safe(value: Any) -> Any:
    """An attribute value as JSON can hold it (bytes as `{BYTES_KEY: base64}`)."""
    if isinstance(value, dict):
        # Fast path (a C-level walk): attribute dicts are nearly always flat scalars.
        if _PLAIN.issuperset(map(type, value.values())):
            return value
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return {BYTES_KEY: base64.b64encode(bytes(value)).decode()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def from_json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and BYTES_KEY in value:
            return base64.b64decode(value[BYTES_KEY])
        if _PLAIN.issuperset(map(type, value.values())):  # fast path, as in json_safe
            return dict(value)
        return {k: from_json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json_safe(v) for v in value]
    return value
