"""Any Python value as JSON-safe, size-limited data for a run's inputs and outputs.

Pydantic models (LangChain messages and documents, provider answers) become their
fields, dataclasses theirs, UUIDs and times text, bytes a short note; strings longer
than `MAX_STRING` are cut (with a note of the length), lists and dicts beyond
`MAX_ITEMS` entries are cut, nesting beyond `MAX_DEPTH` is shown by its repr. Never
raises: what cannot be read is shown by its type name.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from collections.abc import Mapping
from typing import Any

MAX_STRING = 32_768
MAX_ITEMS = 1_000
MAX_DEPTH = 20
_SCALARS = (str, int, float, bool, type(None))


def capture(value: Any, depth: int = 0) -> Any:
    """The value as JSON-safe, size-limited data."""
    try:
        return _capture(value, depth)
    except Exception:
        return f"<{type(value).__name__}>"


def _text(s: str) -> str:
    if len(s) <= MAX_STRING:
        return s
    return f"{s[:MAX_STRING]}... [{len(s) - MAX_STRING} more characters]"


def _capture(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return value if not isinstance(value, enum.Enum) else _capture(value.value, depth)
    if depth >= MAX_DEPTH:
        return _text(repr(value))
    if isinstance(value, Mapping):
        out = {}
        for i, (k, v) in enumerate(value.items()):
            if i >= MAX_ITEMS:
                out["..."] = f"{len(value) - MAX_ITEMS} more entries"
                break
            out[k if isinstance(k, str) else str(k)] = _capture(v, depth + 1)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        out_list = [_capture(v, depth + 1) for v in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            out_list.append(f"... {len(items) - MAX_ITEMS} more items")
        return out_list
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, enum.Enum):
        return _capture(value.value, depth + 1)
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        return _capture(dump(), depth + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _capture(
            {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, depth + 1
        )
    to_json = getattr(value, "to_json", None)  # LangChain Serializable
    if callable(to_json) and not isinstance(value, type):
        return _capture(to_json(), depth + 1)
    return _text(repr(value))
