"""Classification: which observation type a span records, by the precedence table
`CLASSIFIERS` (first match wins), then marker keys, then model + usage."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from otel_llm.conventions.base import (
    Convention,
    G,
    Kind,
    S,
)
from otel_llm.convert.tables import (
    CLASSIFIERS,
    MARKERS,
    MODEL_KEYS,
    OBSERVATION_KEY,
    READERS,
    USAGE_KEYS,
)
from otel_llm.model import (
    OBSERVATION_OF,
    ObservationType,
    Run,
    SpanEvent,
    SpanRecord,
)


def classify_attrs(attrs: Mapping[str, Any], shape: _Shape) -> Kind | None:
    for key, table in shape.classifiers:
        value = attrs[key]
        if value is not None and not isinstance(value, (list, dict)):
            kind = table.get(str(value))
            if kind is not None:
                return kind
    return shape.fallback


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the attribute keys (and event names) of a span decide, whatever the values:
    which classifiers can apply, the kind keys alone imply, which readers to call."""

    classifiers: tuple[tuple[str, Mapping[str, Kind]], ...]
    fallback: Kind | None
    readers: tuple[Convention, ...]
    memo: dict[object, Any]  # Extraction.shape_memo of the spans of this shape


def _make_shape(keys: Collection[str], event_names: Iterable[str]) -> _Shape:
    fallback = next((kind for key, kind in MARKERS.items() if key in keys), None)
    if (
        fallback is None
        and any(k in keys for k in MODEL_KEYS)
        and any(k in keys for k in USAGE_KEYS)
    ):
        fallback = (G, None)
    namespaces = {k.partition(".")[0] for k in keys}
    namespaces.update(name.partition(".")[0] for name in event_names)
    return _Shape(
        classifiers=tuple((key, table) for key, table in CLASSIFIERS if key in keys),
        fallback=fallback,
        readers=tuple(c for c in READERS if not namespaces.isdisjoint(c.namespaces)),
        memo={},
    )


# Spans of one instrumentation share a few shapes: the key tuple finds them (its strings
# were hashed when the attribute dict was built, so the lookup is cheap).
_SHAPES: dict[tuple[Any, ...], _Shape] = {}
_SHAPES_MAX = 4096


def shape_of(attrs: Mapping[str, Any], events: Collection[SpanEvent]) -> _Shape:
    key: tuple[Any, ...] = tuple(attrs)
    if events:
        key = (*key, None, *(e.name for e in events))
    shape = _SHAPES.get(key)
    if shape is None:
        if len(_SHAPES) >= _SHAPES_MAX:
            _SHAPES.clear()
        shape = _SHAPES[key] = _make_shape(attrs.keys(), (e.name for e in events))
    return shape


def classify(span: SpanRecord) -> ObservationType | None:
    """The observation type a known convention gives the span; None if none marks it."""
    kind = classify_attrs(span.attributes, shape_of(span.attributes, span.events))
    return kind[0] if kind else None


def observation_of(run: Run) -> ObservationType:
    """A run's observation type: its run_type, refined by metadata for agents."""
    md = run.extra.get("metadata")
    if isinstance(md, dict):
        value = md.get(OBSERVATION_KEY)
        if value is not None:
            try:
                return ObservationType(value)
            except ValueError:
                pass
    return OBSERVATION_OF.get(run.run_type, S)
