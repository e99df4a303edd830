"""Spans grouped by resource (attributes + schema url), then by instrumentation scope, as
OTLP's `ResourceSpans` / `ScopeSpans` nesting expects (both encoders and the SDK adapter,
which shares one Resource per group)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from otel_llm.model import Attributes, SpanRecord

__all__ = ["ScopeGroup", "group_spans"]


def _frozen(value: Any) -> Any:
    """A hashable stand-in for an attribute value that keeps types apart (1 vs True)."""
    if isinstance(value, Mapping):
        return (dict, tuple(sorted((str(k), _frozen(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return (list, tuple(_frozen(v) for v in value))
    return (type(value), value)


def _attrs_key(attrs: Attributes) -> Any:
    try:
        # Fast and exact for flat attributes: the types tuple keeps 1 and True apart.
        key = (tuple(attrs.items()), tuple(map(type, attrs.values())))
        hash(key)
        return key
    except TypeError:  # a list or dict value
        return _frozen(attrs)


ScopeGroup = tuple[SpanRecord, list[SpanRecord]]  # (first span, its spans)


def group_spans(spans: Iterable[SpanRecord]) -> list[tuple[SpanRecord, list[ScopeGroup]]]:
    """Spans grouped by resource, then by scope; each group is represented by its first span."""
    resources: dict[Any, tuple[SpanRecord, dict[Any, ScopeGroup]]] = {}
    last_resource: Attributes | None = None
    last_url = ""
    last_scopes: dict[Any, ScopeGroup] = {}
    for span in spans:
        # Producers that build spans in bulk often share one resource dict between them:
        # then the previous span's group is this one's, without computing a key.
        if span.resource is not last_resource or span.resource_schema_url != last_url:
            rkey = (span.resource_schema_url, _attrs_key(span.resource))
            entry = resources.get(rkey)
            if entry is None:
                entry = resources[rkey] = (span, {})
            last_resource, last_url, last_scopes = span.resource, span.resource_schema_url, entry[1]
        skey = (
            span.scope_name,
            span.scope_version,
            span.scope_schema_url,
            _attrs_key(span.scope_attributes) if span.scope_attributes else (),
        )
        group = last_scopes.get(skey)
        if group is None:
            group = last_scopes[skey] = (span, [])
        group[1].append(span)
    return [(first, list(scopes.values())) for first, scopes in resources.values()]
