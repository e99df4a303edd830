"""Filter values typed for their field: text, UUIDs, times, durations, numbers, lists,
each held to what the store can compare (64-bit integers, finite numbers). Dialect-free:
a SQL emitter inherits these conversions."""

from __future__ import annotations

import math
import uuid
from typing import Any

from otel_llm.durations import FILTER_UNITS, duration_in
from otel_llm.model import iso_to_ns
from otel_llm.store.query.parse import (
    FIELD_KINDS,
    INT64_MAX,
    INT64_MIN,
    ORDERING,
    Compare,
    FilterSyntaxError,
    clip,
)


class ValueConversions:
    """Typed filter values; `text` is the filter, for error messages."""

    text: str

    def error(self, message: str, column: int) -> FilterSyntaxError:
        return FilterSyntaxError(message, self.text, column)

    def as_list(self, node: Compare) -> list[Any]:
        if not isinstance(node.value, list):
            raise self.error(
                f'in() needs a list such as ["a", "b"], got {node.value!r}', node.column
            )
        return node.value

    def to_text(self, value: Any, node: Compare) -> str:
        if isinstance(value, str):
            return value
        if node.op in ORDERING or not isinstance(value, (int, float)) or isinstance(value, bool):
            raise self.error(f"{node.field} needs a string, got {value!r}", node.column)
        return str(value)

    def to_uuid(self, value: Any, node: Compare) -> str:
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise self.error(f"{node.field} needs a UUID, got {value!r}", node.column) from None

    def to_time(self, value: Any, node: Compare) -> int:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self.in_range(value * 1_000_000_000, node, value)  # epoch seconds
        if isinstance(value, str):
            try:
                ns = iso_to_ns(value)
            except ValueError:
                pass
            else:
                return self.in_range(ns, node, value)
        raise self.error(
            f'{node.field} needs an ISO 8601 time such as "2026-01-31T12:00:00Z" '
            f"(or epoch seconds), got {value!r}",
            node.column,
        )

    def to_duration(self, value: Any, node: Compare) -> int:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self.in_range(value * 1_000_000_000, node, value)  # plain numbers: seconds
        if isinstance(value, str):
            nanoseconds = duration_in(value, FILTER_UNITS, leading_point=True)
            if nanoseconds is not None:
                return self.in_range(nanoseconds, node, value)
        raise self.error(
            f'{node.field} needs a duration such as 5, "5s", "500ms", "2m", got {value!r}',
            node.column,
        )

    def to_number(self, value: Any, node: Compare) -> float | int:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value  # the tokenizer keeps integers to 64 bits and floats finite
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                pass
            else:
                if math.isfinite(number):
                    return number
        raise self.error(f"{node.field} needs a number, got {clip(repr(value))}", node.column)

    def in_range(self, ns: float, node: Compare, value: Any) -> int:
        """Nanoseconds as the store's 64-bit integer, or an error naming the field."""
        if math.isfinite(ns) and INT64_MIN <= ns <= INT64_MAX:
            return int(ns)
        bound = (
            "times from 1677-09-21 to 2262-04-11"
            if FIELD_KINDS[node.field] == "time"
            else "durations up to 292 years"
        )
        raise self.error(f"{node.field} {clip(repr(value))} is out of range ({bound})", node.column)
