"""Typed attribute readers shared by the convention readers.

Each takes the attribute only when its value has the expected type; anything else is
left raw (kept in `run.extra["otel"]["attributes"]`) and reported as a problem, so a
malformed value never raises and never goes missing.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from otel_llm.conventions.base import ERROR_TYPE, Extraction, error_type, loads_maybe


def text(x: Extraction, key: str) -> str | None:
    """A string attribute."""
    value = x.attrs.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        x.problem(key, "is not a string", value)
        return None
    x.consumed.add(key)
    return value


def uuid_value(x: Extraction, key: str) -> uuid.UUID | None:
    """A UUID attribute (its text form)."""
    value = x.attrs.get(key)
    if value is None:
        return None
    try:
        parsed = uuid.UUID(str(value))
    except ValueError:
        x.problem(key, "is not a UUID", value)
        return None
    x.consumed.add(key)
    return parsed


def json_object(x: Extraction, key: str) -> dict[str, Any] | None:
    """A JSON-object attribute (JSON text or an already structured mapping)."""
    value = x.take_json(key)
    if value is None or isinstance(value, dict):
        return value
    x.consumed.discard(key)
    x.problem(key, "is not a JSON object", value)
    return None


def number(x: Extraction, key: str) -> int | float | None:
    """A finite numeric attribute; numbers written as text (or JSON text) are accepted."""
    value = x.attrs.get(key)
    parsed = to_number(value)
    if parsed is not None:
        x.consumed.add(key)
        return parsed
    if value is not None:
        x.problem(key, "is not a number", value)
    return None


UsageTable = dict[str, tuple["str | None", str]]
"""attribute key -> (usage_metadata detail group or None, usage key), in precedence order."""


def read_usage(x: Extraction, table: UsageTable) -> None:
    """Usage numbers named by a convention's table into `x.usage` (first one wins)."""
    for key, (group, name) in x.present(table):
        value = number(x, key)
        if value is None:
            continue
        if group is None:
            x.set_usage(name, value)
        else:
            x.set_usage_detail(group, name, value)


def to_number(value: Any) -> int | float | None:
    """A finite number, or a string holding one; None for anything else (NaN and the
    infinities too: no run field can carry them, and JSON cannot)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
        try:
            parsed = float(value)
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    return None


def token_count(value: Any) -> int | None:
    """A usage number as a writer emits it: an int, for any finite number; else None."""
    if type(value) is int:  # the common case, first: writers call this for every count
        return value
    if not isinstance(value, (int, float)) or to_number(value) is None:  # bool, NaN, inf
        return None
    return int(value)


def strings(value: Any) -> list[str] | None:
    """A list of strings (an OTel string array, or JSON text holding one)."""
    if isinstance(value, str) and value[:1] == "[":
        value = loads_maybe(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def claim_error_type(x: Extraction) -> None:
    """Consume `error.type` when it is what `gen_ai.write` derives from the error text a
    reader has just set (the run's error then says everything it says)."""
    if x.error is not None and x.attrs.get(ERROR_TYPE) == error_type(x.error):
        x.consumed.add(ERROR_TYPE)
