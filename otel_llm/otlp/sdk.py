"""The OpenTelemetry SDK's `ReadableSpan` <-> `SpanRecord` (not OTLP: the span processor
reads SDK spans, and SDK exporters are handed converted runs as SDK spans)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, TraceFlags, TraceState
from opentelemetry.trace import SpanKind as SdkSpanKind
from opentelemetry.trace.status import Status
from opentelemetry.trace.status import StatusCode as SdkStatusCode

from otel_llm.model import Attributes, SpanEvent, SpanLink, SpanRecord, span_record
from otel_llm.otlp.common import ZERO8, ZERO16
from otel_llm.otlp.grouping import group_spans

__all__ = ["span_from_readable", "span_to_readable", "spans_to_readable"]

# Span.flags bits (trace.proto SpanFlags): the low byte is the W3C trace flags.
_TRACE_FLAGS_MASK = 0xFF
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200

_OTLP_KIND_OF_SDK: dict[SdkSpanKind, int] = {
    SdkSpanKind.INTERNAL: 1,
    SdkSpanKind.SERVER: 2,
    SdkSpanKind.CLIENT: 3,
    SdkSpanKind.PRODUCER: 4,
    SdkSpanKind.CONSUMER: 5,
}
# The SDK has no UNSPECIFIED kind: INTERNAL is its default.
_SDK_KIND_OF_OTLP: dict[int, SdkSpanKind] = {
    0: SdkSpanKind.INTERNAL,
    **{otlp: sdk for sdk, otlp in _OTLP_KIND_OF_SDK.items()},
}
_OTLP_STATUS_OF_SDK: dict[SdkStatusCode, int] = {code: code.value for code in SdkStatusCode}
_SDK_STATUS_OF_OTLP: dict[int, SdkStatusCode] = {code.value: code for code in SdkStatusCode}

_SCALARS = frozenset({str, int, float, bool, bytes})


def _plain(value: Any) -> Any:
    """The SDK keeps sequences as tuples; SpanRecord values use lists."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _sdk_attrs(attrs: Mapping[str, Any] | None) -> Attributes:
    if not attrs:
        return {}
    # BoundedAttributes.copy() (also reached through a mappingproxy) is a C-level dict
    # copy; iterating the mapping would run Python code per key.
    copy = getattr(attrs, "copy", None)
    out: Attributes = copy() if copy is not None else dict(attrs)
    if not _SCALARS.issuperset(map(type, out.values())):  # sequences are rare
        for key, value in out.items():
            if type(value) not in _SCALARS:
                out[key] = _plain(value)
    return out


def _context_flags(ctx: SpanContext, remote_ctx: SpanContext | None) -> int:
    flags = int(ctx.trace_flags) | _HAS_IS_REMOTE
    if remote_ctx is not None and remote_ctx.is_remote:
        flags |= _IS_REMOTE
    return flags


# Enum members hash in Python code: these tables are keyed by the members' ids.
_KIND_BY_ID = {id(kind): otlp for kind, otlp in _OTLP_KIND_OF_SDK.items()}
_STATUS_BY_ID = {id(code): otlp for code, otlp in _OTLP_STATUS_OF_SDK.items()}

# A process has few SDK resources and scopes, all immutable and long-lived: what a
# SpanRecord takes from them is built once per pair (each record gets its own copy of
# the dicts, as decoded spans do). Keyed by ids; the entry holds both objects, so the
# ids stay theirs.
_Origin = tuple[Attributes, str, str, str, Attributes, str]
_ORIGINS: dict[tuple[int, int], tuple[object, object, _Origin]] = {}
_ORIGINS_MAX = 256


def _origin(resource: Resource | None, scope: InstrumentationScope | None) -> _Origin:
    key = (id(resource), id(scope))
    hit = _ORIGINS.get(key)
    if hit is not None and hit[0] is resource and hit[1] is scope:
        return hit[2]
    origin = (
        _sdk_attrs(resource.attributes) if resource is not None else {},
        (resource.schema_url or "") if resource is not None else "",
        scope.name if scope is not None else "",
        (scope.version or "") if scope is not None else "",
        _sdk_attrs(scope.attributes) if scope is not None else {},
        (scope.schema_url or "") if scope is not None else "",
    )
    if len(_ORIGINS) >= _ORIGINS_MAX:
        _ORIGINS.clear()
    _ORIGINS[key] = (resource, scope, origin)
    return origin


def _may_hold(span: ReadableSpan, private: str) -> bool:
    """False when the SDK's own list behind `span.events` / `span.links` is empty: the
    public properties copy it under a lock (~1 µs each), and most spans have neither.
    Without that list (another SDK version) the property is always read."""
    held = getattr(span, private, None)
    return held is None or len(held) > 0


def span_from_readable(span: ReadableSpan) -> SpanRecord:
    """The SpanRecord of an SDK span (this runs in span processors, once per span).

    Span flags carry the W3C trace flags in the low byte and OTLP's "parent is remote"
    bits, as the OTLP spec defines them.

    Args:
        span: a finished (or started) SDK span.
    """
    ctx = span.context
    parent = span.parent
    if ctx is not None:
        trace_id = ctx.trace_id.to_bytes(16, "big")
        span_id = ctx.span_id.to_bytes(8, "big")
        trace_state = ctx.trace_state.to_header() if ctx.trace_state else ""
        flags = _context_flags(ctx, parent)
    else:
        trace_id, span_id, trace_state, flags = ZERO16, ZERO8, "", 0
    status = span.status
    events = span.events if _may_hold(span, "_events") else ()
    links = span.links if _may_hold(span, "_links") else ()
    resource, resource_url, scope_name, scope_version, scope_attrs, scope_url = _origin(
        span.resource, span.instrumentation_scope
    )
    return span_record(
        trace_id,
        span_id,
        span.name,
        parent.span_id.to_bytes(8, "big") if parent is not None else b"",
        _KIND_BY_ID.get(id(span.kind), 0),
        span.start_time or 0,
        span.end_time or 0,
        _sdk_attrs(span.attributes),
        [
            SpanEvent(e.name, e.timestamp, _sdk_attrs(e.attributes), e.dropped_attributes)
            for e in events
        ]
        if events
        else [],
        [
            SpanLink(
                trace_id=ln.context.trace_id.to_bytes(16, "big"),
                span_id=ln.context.span_id.to_bytes(8, "big"),
                trace_state=ln.context.trace_state.to_header() if ln.context.trace_state else "",
                attributes=_sdk_attrs(ln.attributes),
                dropped_attributes_count=ln.dropped_attributes,
                flags=_context_flags(ln.context, ln.context),
            )
            for ln in links
        ]
        if links
        else [],
        _STATUS_BY_ID[id(status.status_code)],
        status.description or "",
        trace_state,
        flags,
        span.dropped_attributes,
        span.dropped_events,
        span.dropped_links,
        resource.copy(),
        resource_url,
        scope_name,
        scope_version,
        scope_attrs.copy() if scope_attrs else {},
        scope_url,
    )


def _trace_state(header: str) -> TraceState:
    return TraceState.from_header([header]) if header else TraceState()


def _counted(attrs: Attributes, dropped: int) -> Mapping[str, Any]:
    """Attributes as the SDK holds them, with a dropped count when there is one."""
    if not dropped:
        return attrs
    bounded = BoundedAttributes(maxlen=None, attributes=attrs, immutable=True)
    bounded.dropped = dropped
    return bounded


def _counted_list(items: list[Any], dropped: int) -> list[Any] | BoundedList[Any]:
    if not dropped:
        return items
    bounded = BoundedList.from_seq(None, items)
    bounded.dropped = dropped
    return bounded


def _id_int(value: bytes, size: int, what: str, span: SpanRecord) -> int:
    if len(value) != size:
        raise ValueError(
            f"span {span.name!r}: {what} {value.hex()!r} is {len(value)} bytes, expected {size}"
        )
    return int.from_bytes(value, "big")


def _to_readable(
    span: SpanRecord, resource: Resource, scope: InstrumentationScope | None
) -> ReadableSpan:
    trace_id = _id_int(span.trace_id, 16, "trace id", span)
    trace_flags = TraceFlags(span.flags & _TRACE_FLAGS_MASK)
    context = SpanContext(
        trace_id,
        _id_int(span.span_id, 8, "span id", span),
        is_remote=False,
        trace_flags=trace_flags,
        trace_state=_trace_state(span.trace_state),
    )
    parent = None
    if span.parent_span_id:
        parent = SpanContext(
            trace_id,
            _id_int(span.parent_span_id, 8, "parent span id", span),
            is_remote=span.flags & (_HAS_IS_REMOTE | _IS_REMOTE) == _HAS_IS_REMOTE | _IS_REMOTE,
            trace_flags=trace_flags,
        )
    events = [
        Event(e.name, _counted(e.attributes, e.dropped_attributes_count), e.time_unix_nano)
        for e in span.events
    ]
    links = [
        Link(
            SpanContext(
                _id_int(ln.trace_id, 16, "link trace id", span),
                _id_int(ln.span_id, 8, "link span id", span),
                is_remote=ln.flags & _IS_REMOTE != 0,
                trace_flags=TraceFlags(ln.flags & _TRACE_FLAGS_MASK),
                trace_state=_trace_state(ln.trace_state),
            ),
            _counted(ln.attributes, ln.dropped_attributes_count),
        )
        for ln in span.links
    ]
    code = _SDK_STATUS_OF_OTLP.get(span.status_code, SdkStatusCode.UNSET)
    return ReadableSpan(
        name=span.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=_counted(span.attributes, span.dropped_attributes_count),
        events=_counted_list(events, span.dropped_events_count),
        links=_counted_list(links, span.dropped_links_count),
        kind=_SDK_KIND_OF_OTLP.get(span.kind, SdkSpanKind.INTERNAL),
        # The SDK keeps a description only with ERROR (it logs and drops it otherwise).
        status=Status(code, span.status_message if code is SdkStatusCode.ERROR else None),
        start_time=span.start_time_unix_nano,
        end_time=span.end_time_unix_nano,
        instrumentation_scope=scope,
    )


def _sdk_resource(span: SpanRecord) -> Resource:
    return Resource(span.resource, span.resource_schema_url or None)


def _sdk_scope(span: SpanRecord) -> InstrumentationScope | None:
    if not (
        span.scope_name or span.scope_version or span.scope_attributes or span.scope_schema_url
    ):
        return None
    return InstrumentationScope(
        span.scope_name,
        span.scope_version or None,
        span.scope_schema_url or None,
        span.scope_attributes or None,
    )


def span_to_readable(span: SpanRecord) -> ReadableSpan:
    """An SDK `ReadableSpan` for `span`, so SDK exporters (OTLP, console) can export it.

    What the SDK cannot hold is lost: a status message without ERROR status, and the
    UNSPECIFIED kind (it becomes INTERNAL). Prefer `spans_to_readable` for batches: it
    shares one `Resource` per distinct resource, which exporters group by.

    Args:
        span: the span to convert.

    Raises:
        ValueError: an id has the wrong length for an OTel span context.
    """
    return _to_readable(span, _sdk_resource(span), _sdk_scope(span))


def spans_to_readable(spans: Iterable[SpanRecord]) -> list[ReadableSpan]:
    """SDK `ReadableSpan`s for `spans`, sharing Resource and scope objects between them.

    Args:
        spans: the spans to convert (see `span_to_readable`).

    Raises:
        ValueError: an id has the wrong length for an OTel span context.
    """
    spans = list(spans)
    context: dict[int, tuple[Resource, InstrumentationScope | None]] = {}
    for first, scopes in group_spans(spans):
        resource = _sdk_resource(first)
        for scope_first, members in scopes:
            scope = _sdk_scope(scope_first)
            for span in members:
                context[id(span)] = (resource, scope)
    # In the input order (the grouping only decides which spans share objects).
    return [_to_readable(span, *context[id(span)]) for span in spans]
