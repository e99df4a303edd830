"""OTLP codecs: `SpanRecord` <-> OTLP protobuf, OTLP/JSON and the SDK's `ReadableSpan`.

Decoding is on every receiver's hot path. Protobuf bytes go through the optional C
wire codec (`_speedups.c`) when it is built, with the upb message path below as the
reference it hands anything unusual to; that path and the OTLP/JSON one are hand-written
loops over the protobuf accessors (or over `orjson.loads` output) with the common case,
a string attribute, handled inline. Decoders keep spans whose ids are malformed (the converter
tolerates them; `span_problem` says what is wrong, for OTLP's partial success); only
input whose structure cannot be read raises `OTLPDecodeError`, the one documented
exception for bad bytes or JSON.

Encoders group spans by resource (attributes + schema url) and by instrumentation
scope, as OTLP's `ResourceSpans` / `ScopeSpans` nesting expects.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields, replace
from operator import attrgetter
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, TraceFlags, TraceState
from opentelemetry.trace import SpanKind as SdkSpanKind
from opentelemetry.trace.status import Status
from opentelemetry.trace.status import StatusCode as SdkStatusCode

from otel_llm._gc import collector_paused
from otel_llm.model import Attributes, SpanEvent, SpanLink, SpanRecord, span_record

# The optional C codec (otel_llm/_speedups.c); the upb message path is the reference.
_decode_natively: Callable[[bytes, tuple[type, ...]], list[SpanRecord]] | None
_encode_natively: Callable[[list[Any]], bytes] | None
try:
    from otel_llm._speedups import Unsupported as _Unsupported
    from otel_llm._speedups import decode_request as _decode_natively
    from otel_llm._speedups import encode_request as _encode_natively
except ImportError:  # built without a C compiler
    _decode_natively = _encode_natively = None
_RECORD_TYPES = (SpanRecord, SpanEvent, SpanLink)  # what the C decoder builds

__all__ = [
    "OTLPDecodeError",
    "decode_otlp_json",
    "decode_otlp_protobuf",
    "decode_request",
    "encode_otlp_json",
    "encode_otlp_protobuf",
    "encode_request",
    "span_from_readable",
    "span_problem",
    "span_to_readable",
    "spans_to_readable",
]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT64_MAX = 2**64 - 1
_UINT32_MAX = 2**32 - 1
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_ZERO16, _ZERO8 = bytes(16), bytes(8)

# Span.flags bits (trace.proto SpanFlags): the low byte is the W3C trace flags.
_TRACE_FLAGS_MASK = 0xFF
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200


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
    if trace_id == _ZERO16:
        return "trace id is all zeros"
    if len(span_id) != 8:
        return f"span id {span_id.hex()!r} is {len(span_id)} bytes, expected 8"
    if span_id == _ZERO8:
        return "span id is all zeros"
    if parent and len(parent) != 8:
        return f"parent span id {parent.hex()!r} is {len(parent)} bytes, expected 8 or none"
    return None


# ---------------------------------------------------------------------------------------
# Protobuf -> SpanRecord


def _pb_array(v: Any) -> list[Any]:
    return [_pb_value(x) for x in v.array_value.values]


def _pb_kvlist(v: Any) -> dict[str, Any]:
    return {kv.key: _pb_value(kv.value) for kv in v.kvlist_value.values}


# AnyValue's oneof field -> how to read it (string_value is handled before the lookup).
_PB_READ: dict[str | None, Callable[[Any], Any]] = {
    "string_value": attrgetter("string_value"),
    "int_value": attrgetter("int_value"),
    "double_value": attrgetter("double_value"),
    "bool_value": attrgetter("bool_value"),
    "bytes_value": attrgetter("bytes_value"),
    "array_value": _pb_array,
    "kvlist_value": _pb_kvlist,
    None: lambda v: None,  # an empty AnyValue
}


# The unbound method: ~8% faster in the attribute loop than `v.WhichOneof`.
_which = AnyValue.WhichOneof


def _pb_value(v: Any) -> Any:
    kind = _which(v, "value")
    if kind == "string_value":
        return v.string_value
    return _PB_READ[kind](v)


def _pb_attrs(kvs: Any) -> Attributes:
    out: Attributes = {}
    read, which = _PB_READ, _which
    for kv in kvs:
        v = kv.value
        # Most attributes are non-empty strings: one read, no oneof lookup, for them.
        text = v.string_value
        out[kv.key] = text if text else read[which(v, "value")](v)
    return out


def _pb_events(events: Any) -> list[SpanEvent]:
    return [
        SpanEvent(e.name, e.time_unix_nano, _pb_attrs(e.attributes), e.dropped_attributes_count)
        for e in events
    ]


def _pb_links(links: Any) -> list[SpanLink]:
    return [
        SpanLink(
            trace_id=ln.trace_id,
            span_id=ln.span_id,
            trace_state=ln.trace_state,
            attributes=_pb_attrs(ln.attributes),
            dropped_attributes_count=ln.dropped_attributes_count,
            flags=ln.flags,
        )
        for ln in links
    ]


def decode_otlp_protobuf(data: bytes | bytearray | memoryview) -> list[SpanRecord]:
    """Decode the bytes of an OTLP `ExportTraceServiceRequest`.

    Args:
        data: the (uncompressed) protobuf body of an OTLP/HTTP or gRPC export.

    Raises:
        OTLPDecodeError: when the bytes are not an ExportTraceServiceRequest.
    """
    if not isinstance(data, bytes):
        if not isinstance(data, (bytearray, memoryview)):
            raise OTLPDecodeError("", f"protobuf: expected bytes, got {type(data).__name__}")
        data = bytes(data)
    if _decode_natively is not None:
        try:
            with collector_paused():
                return _decode_natively(data, _RECORD_TYPES)
        except _Unsupported:
            pass  # non-canonical or malformed: upb reads it or says what is wrong
    try:
        request = ExportTraceServiceRequest.FromString(data)
    except DecodeError as exc:
        raise OTLPDecodeError("", f"protobuf: {exc}") from None
    return decode_request(request)


@collector_paused()  # parsing is C; walking the message makes the Python objects
def decode_request(request: Any) -> list[SpanRecord]:
    """The spans of a parsed `ExportTraceServiceRequest` (as a gRPC servicer receives it).

    Each span gets its own (shallow) copy of the resource and scope attribute dicts.

    Args:
        request: an `opentelemetry.proto...ExportTraceServiceRequest` message.
    """
    out: list[SpanRecord] = []
    append = out.append
    read, which = _PB_READ, _which
    for rs in request.resource_spans:
        resource = _pb_attrs(rs.resource.attributes)
        resource_url = rs.schema_url
        for ss in rs.scope_spans:
            scope = ss.scope
            scope_name, scope_version = scope.name, scope.version
            scope_attrs = _pb_attrs(scope.attributes)
            scope_url = ss.schema_url
            for s in ss.spans:
                attrs: Attributes = {}
                for kv in s.attributes:
                    v = kv.value
                    text = v.string_value  # as in _pb_attrs
                    attrs[kv.key] = text if text else read[which(v, "value")](v)
                status = s.status
                events = s.events
                links = s.links
                append(
                    span_record(
                        s.trace_id,
                        s.span_id,
                        s.name,
                        s.parent_span_id,
                        s.kind,
                        s.start_time_unix_nano,
                        s.end_time_unix_nano,
                        attrs,
                        _pb_events(events) if events else [],
                        _pb_links(links) if links else [],
                        status.code,
                        status.message,
                        s.trace_state,
                        s.flags,
                        s.dropped_attributes_count,
                        s.dropped_events_count,
                        s.dropped_links_count,
                        resource.copy(),
                        resource_url,
                        scope_name,
                        scope_version,
                        scope_attrs.copy() if scope_attrs else {},
                        scope_url,
                    )
                )
    return out


# ---------------------------------------------------------------------------------------
# Grouping spans by resource and scope (both encoders)


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


_Group = tuple[SpanRecord, list[SpanRecord]]  # (first span, its spans)


def _group(spans: Iterable[SpanRecord]) -> list[tuple[SpanRecord, list[_Group]]]:
    """Spans grouped by resource, then by scope; each group is represented by its first span."""
    resources: dict[Any, tuple[SpanRecord, dict[Any, _Group]]] = {}
    last_resource: Attributes | None = None
    last_url = ""
    last_scopes: dict[Any, _Group] = {}
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


# ---------------------------------------------------------------------------------------
# Strings that UTF-8 cannot carry

# OTLP strings are UTF-8, so lone surrogates (which lenient JSON parsers let into Python
# strings) cannot be sent. The encoders take this slow path only after a failure.


def _utf8(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (escaped pairs are rejoined)."""
    return str.__str__(text).encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _utf8_deep(value: Any) -> Any:
    if isinstance(value, str):
        return _utf8(value)
    if isinstance(value, (list, tuple)):
        return [_utf8_deep(v) for v in value]
    if isinstance(value, dict):
        return {_utf8_deep(k): _utf8_deep(v) for k, v in value.items()}
    if isinstance(value, (SpanRecord, SpanEvent, SpanLink)):
        changes = {f.name: _utf8_deep(getattr(value, f.name)) for f in fields(value)}
        return replace(value, **changes)
    return value


# ---------------------------------------------------------------------------------------
# SpanRecord -> protobuf

# Python type -> AnyValue field, for values set without further checks.
_PB_FIELD: dict[type, str] = {
    str: "string_value",
    float: "double_value",
    bool: "bool_value",
    bytes: "bytes_value",
}


def _pb_set(target: Any, value: Any) -> None:
    """Fill the AnyValue `target` from a Python value of any supported type."""
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            target.int_value = int(value)
        else:  # OTLP has no wider integer; a decimal string loses nothing
            target.string_value = str(int(value))
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        # OTLP strings are UTF-8; lone surrogates (from lenient JSON) cannot be.
        target.string_value = _utf8(value)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        target.bytes_value = bytes(value)
    elif value is None:
        target.SetInParent()  # an empty AnyValue
    elif isinstance(value, Mapping):
        kvs = target.kvlist_value.values
        target.kvlist_value.SetInParent()  # an empty dict is still a kvlist
        for k, v in value.items():
            _pb_set(kvs.add(key=str(k)).value, v)
    elif isinstance(value, (list, tuple)):
        values = target.array_value.values
        target.array_value.SetInParent()  # an empty list is still an array
        for v in value:
            _pb_set(values.add(), v)
    else:
        raise TypeError(f"cannot encode a {type(value).__name__} as an OTLP value: {value!r}")


def _pb_fill(kvs: Any, attrs: Attributes) -> None:
    add = kvs.add
    table = _PB_FIELD
    for key, value in attrs.items():
        target = add(key=key).value
        field = table.get(type(value))
        if field is None:
            _pb_set(target, value)
        else:
            try:
                setattr(target, field, value)
            except ValueError:  # a str that is not valid UTF-8
                _pb_set(target, value)


def _pb_fill_utf8(kvs: Any, attrs: Attributes) -> None:
    """`_pb_fill`, also for keys that are not valid UTF-8 (values are handled inside)."""
    try:
        _pb_fill(kvs, attrs)
    except UnicodeEncodeError:
        del kvs[:]
        _pb_fill(kvs, _utf8_deep(attrs))


def _pb_span(s: Any, span: SpanRecord) -> None:
    s.trace_id = span.trace_id
    s.span_id = span.span_id
    if span.parent_span_id:
        s.parent_span_id = span.parent_span_id
    s.name = span.name
    s.kind = span.kind
    s.start_time_unix_nano = span.start_time_unix_nano
    s.end_time_unix_nano = span.end_time_unix_nano
    if span.trace_state:
        s.trace_state = span.trace_state
    if span.flags:
        s.flags = span.flags
    _pb_fill(s.attributes, span.attributes)
    if span.dropped_attributes_count:
        s.dropped_attributes_count = span.dropped_attributes_count
    for ev in span.events:
        e = s.events.add(name=ev.name, time_unix_nano=ev.time_unix_nano)
        _pb_fill(e.attributes, ev.attributes)
        if ev.dropped_attributes_count:
            e.dropped_attributes_count = ev.dropped_attributes_count
    if span.dropped_events_count:
        s.dropped_events_count = span.dropped_events_count
    for ln in span.links:
        link = s.links.add(trace_id=ln.trace_id, span_id=ln.span_id)
        if ln.trace_state:
            link.trace_state = ln.trace_state
        _pb_fill(link.attributes, ln.attributes)
        if ln.dropped_attributes_count:
            link.dropped_attributes_count = ln.dropped_attributes_count
        if ln.flags:
            link.flags = ln.flags
    if span.dropped_links_count:
        s.dropped_links_count = span.dropped_links_count
    if span.status_code or span.status_message:
        s.status.code = span.status_code
        s.status.message = span.status_message


def encode_request(spans: Iterable[SpanRecord]) -> Any:
    """An `ExportTraceServiceRequest` message holding `spans`, grouped by resource and scope.

    Integers outside int64 are written as decimal strings; lone surrogates in strings
    (not valid UTF-8) become U+FFFD.

    Args:
        spans: the spans to encode.

    Raises:
        ValueError: a span field is out of its protobuf range (e.g. a negative time) or an
            attribute value has a type OTLP cannot carry; the message names the span.
    """
    request = ExportTraceServiceRequest()
    for first, scopes in _group(spans):
        rs = request.resource_spans.add()
        _pb_fill_utf8(rs.resource.attributes, first.resource)
        if first.resource_schema_url:
            rs.schema_url = first.resource_schema_url
        for scope_first, members in scopes:
            ss = rs.scope_spans.add()
            scope = ss.scope
            scope.name = _utf8(scope_first.scope_name)
            if scope_first.scope_version:
                scope.version = _utf8(scope_first.scope_version)
            _pb_fill_utf8(scope.attributes, scope_first.scope_attributes)
            if scope_first.scope_schema_url:
                ss.schema_url = scope_first.scope_schema_url
            add_span = ss.spans.add
            for span in members:
                try:
                    try:
                        _pb_span(add_span(), span)
                    except UnicodeEncodeError:  # a name or message that is not valid UTF-8
                        del ss.spans[-1]
                        _pb_span(add_span(), _utf8_deep(span))
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"span {span.name!r} ({span.span_id.hex()}): {exc}") from exc
    return request


def encode_otlp_protobuf(spans: Iterable[SpanRecord]) -> bytes:
    """The protobuf bytes of an `ExportTraceServiceRequest` holding `spans`.

    Args:
        spans: the spans to encode (see `encode_request`).
    """
    spans = spans if isinstance(spans, list) else list(spans)
    if _encode_natively is not None:
        try:
            return _encode_natively(_group(spans))
        except _Unsupported:
            pass  # a value only the message path handles (or reports): it decides
    data: bytes = encode_request(spans).SerializeToString()
    return data


# ---------------------------------------------------------------------------------------
# OTLP/JSON -> SpanRecord


def _describe(value: Any) -> str:
    name = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value)
    )
    if name is None:
        name = "null" if value is None else "a number"
    shown = repr(value)
    return f"{name} {shown[:40]}{'...' if len(shown) > 40 else ''}" if value is not None else name


def _object(value: Any, where: str = "") -> dict[str, Any]:
    if type(value) is not dict:
        raise OTLPDecodeError(where, f"expected an object, got {_describe(value)}")
    return value


def _array(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if type(value) is not list:
        raise OTLPDecodeError(where, f"expected an array, got {_describe(value)}")
    return value


def _str(value: Any, where: str) -> str:
    if value is None:
        return ""
    if type(value) is not str:
        raise OTLPDecodeError(where, f"expected a string, got {_describe(value)}")
    return value


def _hex(value: Any, where: str) -> bytes:
    if not value:
        return b""
    if type(value) is not str:
        raise OTLPDecodeError(where, f"expected a hex string, got {_describe(value)}")
    try:
        return bytes.fromhex(value)
    except ValueError:
        hint = " (OTLP/JSON ids are hex, not base64)" if _looks_base64_id(value) else ""
        raise OTLPDecodeError(where, f"not hex: {value[:40]!r}{hint}") from None


def _looks_base64_id(value: str) -> bool:
    """True for a base64 trace or span id, as protobuf's own JSON mapping writes them."""
    try:
        return len(base64.b64decode(value, validate=True)) in (8, 16)
    except (binascii.Error, ValueError):
        return False


def _integer(value: Any, where: str, low: int, high: int, what: str) -> int:
    """A protobuf integer field: a JSON number or a decimal string (proto3 JSON)."""
    if value is None:
        return 0
    n: int
    kind = type(value)
    if kind is int:
        n = value
    elif kind is str:
        try:
            n = int(value)
        except ValueError:
            raise OTLPDecodeError(where, f"not an integer: {value[:40]!r}") from None
    elif kind is float and value.is_integer():
        n = int(value)
    else:
        raise OTLPDecodeError(where, f"expected an integer, got {_describe(value)}")
    if not low <= n <= high:
        raise OTLPDecodeError(where, f"{n} is out of range for {what}")
    return n


def _u64(value: Any, where: str) -> int:
    return _integer(value, where, 0, _UINT64_MAX, "uint64")


def _u32(value: Any, where: str) -> int:
    return _integer(value, where, 0, _UINT32_MAX, "uint32")


def _enum(value: Any, where: str) -> int:
    # The OTLP/JSON spec: enums MUST be integers (json_format's names are not accepted).
    if value is None:
        return 0
    if type(value) is not int:
        raise OTLPDecodeError(where, f"enum values must be integers, got {_describe(value)}")
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise OTLPDecodeError(where, f"{value} is out of range for an enum (int32)")
    return value


def _json_double(raw: Any) -> float:
    if type(raw) is float:
        return raw
    if type(raw) is int:
        return float(raw)
    if type(raw) is str:  # proto3 JSON: "NaN", "Infinity", "-Infinity", or a numeric string
        try:
            return float(raw)
        except ValueError:
            pass
    raise OTLPDecodeError("doubleValue", f"expected a number, got {_describe(raw)}")


def _json_bool(raw: Any) -> bool:
    if type(raw) is not bool:
        raise OTLPDecodeError("boolValue", f"expected true or false, got {_describe(raw)}")
    return bool(raw)


def _json_bytes(raw: Any) -> bytes:
    if type(raw) is not str:
        raise OTLPDecodeError("bytesValue", f"expected a base64 string, got {_describe(raw)}")
    # proto3 JSON accepts standard and URL-safe base64, padded or not.
    text = raw.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise OTLPDecodeError("bytesValue", f"not base64: {raw[:40]!r}") from None


def _json_array(raw: Any) -> list[Any]:
    values = _array(_object(raw, "arrayValue").get("values"), "arrayValue.values")
    out = []
    for i, item in enumerate(values):
        try:
            out.append(_json_value(item))
        except OTLPDecodeError as exc:
            raise exc.within(f"arrayValue.values[{i}]") from None
    return out


def _json_kvlist(raw: Any) -> dict[str, Any]:
    values = _array(_object(raw, "kvlistValue").get("values"), "kvlistValue.values")
    try:
        return _json_attrs(values)
    except OTLPDecodeError as exc:
        raise exc.within("kvlistValue.values") from None


def _json_int64(raw: Any) -> int:
    if type(raw) is str:  # the usual spelling: a decimal string
        try:
            n = int(raw)
        except ValueError:
            raise OTLPDecodeError("intValue", f"not an integer: {raw[:40]!r}") from None
        if _INT64_MIN <= n <= _INT64_MAX:
            return n
    return _integer(raw, "intValue", _INT64_MIN, _INT64_MAX, "int64")


_JSON_READ: dict[str, Callable[[Any], Any]] = {
    "stringValue": lambda raw: _str(raw, "stringValue"),
    "boolValue": _json_bool,
    "intValue": _json_int64,
    "doubleValue": _json_double,
    "bytesValue": _json_bytes,
    "arrayValue": _json_array,
    "kvlistValue": _json_kvlist,
}
# proto3 JSON parsers also accept the protobuf field names.
_JSON_READ.update(
    {
        "string_value": _JSON_READ["stringValue"],
        "bool_value": _json_bool,
        "int_value": _json_int64,
        "double_value": _json_double,
        "bytes_value": _json_bytes,
        "array_value": _json_array,
        "kvlist_value": _json_kvlist,
    }
)


def _json_value(value: Any) -> Any:
    """An AnyValue object (or null) -> Python value."""
    if value is None:
        return None
    if type(value) is not dict:
        raise OTLPDecodeError("", f"expected an AnyValue object, got {_describe(value)}")
    for field, raw in value.items():
        read = _JSON_READ.get(field)
        if read is not None and raw is not None:  # unknown fields are ignored
            return read(raw)
    return None


def _json_attr(kv: Any) -> tuple[str, Any]:
    """One KeyValue, every part checked (the slow path that locates problems)."""
    kv = _object(kv)
    key = kv.get("key")
    if key is None:
        key = ""  # proto3 JSON: absent or null means the default
    elif type(key) is not str:
        raise OTLPDecodeError("key", f"expected a string, got {_describe(key)}")
    try:
        return key, _json_value(kv.get("value"))
    except OTLPDecodeError as exc:
        raise exc.within("value") from None


def _json_attrs(items: Any) -> Attributes:
    """A KeyValue array -> dict; the hot loop of OTLP/JSON decoding."""
    out: Attributes = {}
    if not items:
        return out
    try:
        for kv in items:
            key = kv.get("key")
            if type(key) is not str:
                raise TypeError  # let the slow path below say what is wrong
            value = kv.get("value")
            s = value.get("stringValue") if value else None
            out[key] = s if type(s) is str else _json_value(value)
    except (TypeError, AttributeError, OTLPDecodeError):
        # Redo it with every part checked: this locates the item at fault for a precise
        # message, or reads what the fast loop does not (e.g. an absent key).
        out.clear()
        for i, kv in enumerate(items):
            try:
                key, value = _json_attr(kv)
            except OTLPDecodeError as exc:
                raise exc.within(f"[{i}]") from None
            out[key] = value
    return out


# Field names proto3 JSON parsers accept besides lowerCamelCase.
_SNAKE_TO_CAMEL = {
    "resource_spans": "resourceSpans",
    "scope_spans": "scopeSpans",
    "schema_url": "schemaUrl",
    "trace_id": "traceId",
    "span_id": "spanId",
    "parent_span_id": "parentSpanId",
    "trace_state": "traceState",
    "start_time_unix_nano": "startTimeUnixNano",
    "end_time_unix_nano": "endTimeUnixNano",
    "time_unix_nano": "timeUnixNano",
    "dropped_attributes_count": "droppedAttributesCount",
    "dropped_events_count": "droppedEventsCount",
    "dropped_links_count": "droppedLinksCount",
}
_SNAKE_KEYS = frozenset(_SNAKE_TO_CAMEL)


def _camel(d: dict[str, Any]) -> dict[str, Any]:
    if _SNAKE_KEYS.isdisjoint(d):
        return d
    return {_SNAKE_TO_CAMEL.get(k, k): v for k, v in d.items()}


def _json_fields(d: Any, where: str = "") -> dict[str, Any]:
    return _camel(_object(d, where))


def _json_attrs_at(items: Any, where: str) -> Attributes:
    try:
        return _json_attrs(_array(items, ""))
    except OTLPDecodeError as exc:
        raise exc.within(where) from None


def _json_list(items: Any, where: str, read: Callable[[Any], Any]) -> list[Any]:
    out = []
    for i, item in enumerate(_array(items, where)):
        try:
            out.append(read(item))
        except OTLPDecodeError as exc:
            raise exc.within(f"{where}[{i}]") from None
    return out


def _json_event(raw: Any) -> SpanEvent:
    d = _json_fields(raw)
    return SpanEvent(
        name=_str(d.get("name"), "name"),
        time_unix_nano=_u64(d.get("timeUnixNano"), "timeUnixNano"),
        attributes=_json_attrs_at(d.get("attributes"), "attributes"),
        dropped_attributes_count=_u32(d.get("droppedAttributesCount"), "droppedAttributesCount"),
    )


def _json_link(raw: Any) -> SpanLink:
    d = _json_fields(raw)
    return SpanLink(
        trace_id=_hex(d.get("traceId"), "traceId"),
        span_id=_hex(d.get("spanId"), "spanId"),
        trace_state=_str(d.get("traceState"), "traceState"),
        attributes=_json_attrs_at(d.get("attributes"), "attributes"),
        dropped_attributes_count=_u32(d.get("droppedAttributesCount"), "droppedAttributesCount"),
        flags=_u32(d.get("flags"), "flags"),
    )


def _json_span(
    raw: Any,
    resource: Attributes,
    resource_url: str,
    scope: tuple[str, str, Attributes, str],
) -> SpanRecord:
    d = _json_fields(raw)
    get = d.get
    status = get("status")
    if status is None:
        code, message = 0, ""
    else:
        status = _object(status, "status")
        code = _enum(status.get("code"), "status.code")
        message = _str(status.get("message"), "status.message")
    events = get("events")
    links = get("links")
    return span_record(
        _hex(get("traceId"), "traceId"),
        _hex(get("spanId"), "spanId"),
        _str(get("name"), "name"),
        _hex(get("parentSpanId"), "parentSpanId"),
        _enum(get("kind"), "kind"),
        _u64(get("startTimeUnixNano"), "startTimeUnixNano"),
        _u64(get("endTimeUnixNano"), "endTimeUnixNano"),
        _json_attrs_at(get("attributes"), "attributes"),
        _json_list(events, "events", _json_event) if events else [],
        _json_list(links, "links", _json_link) if links else [],
        code,
        message,
        _str(get("traceState"), "traceState"),
        _u32(get("flags"), "flags"),
        _u32(get("droppedAttributesCount"), "droppedAttributesCount"),
        _u32(get("droppedEventsCount"), "droppedEventsCount"),
        _u32(get("droppedLinksCount"), "droppedLinksCount"),
        resource.copy(),
        resource_url,
        scope[0],
        scope[1],
        scope[2].copy(),
        scope[3],
    )


def _json_scope_spans(raw: Any, resource: Attributes, resource_url: str) -> list[SpanRecord]:
    d = _json_fields(raw)
    scope = d.get("scope")
    if scope is None:
        name, version, attrs = "", "", {}
    else:
        scope = _object(scope, "scope")
        name = _str(scope.get("name"), "scope.name")
        version = _str(scope.get("version"), "scope.version")
        attrs = _json_attrs_at(scope.get("attributes"), "scope.attributes")
    info = (name, version, attrs, _str(d.get("schemaUrl"), "schemaUrl"))
    return _json_list(
        d.get("spans"), "spans", lambda s: _json_span(s, resource, resource_url, info)
    )


def _json_resource_spans(raw: Any) -> list[SpanRecord]:
    d = _json_fields(raw)
    resource = d.get("resource")
    attrs = (
        {}
        if resource is None
        else _json_attrs_at(_object(resource, "resource").get("attributes"), "resource.attributes")
    )
    url = _str(d.get("schemaUrl"), "schemaUrl")
    out: list[SpanRecord] = []
    for group in _json_list(
        d.get("scopeSpans"), "scopeSpans", lambda ss: _json_scope_spans(ss, attrs, url)
    ):
        out.extend(group)
    return out


@collector_paused()
def decode_otlp_json(data: bytes | bytearray | memoryview | str) -> list[SpanRecord]:
    """Decode an OTLP/JSON `ExportTraceServiceRequest`.

    Follows the OTLP/JSON rules: ids are case-insensitive hex, enums are integers,
    64-bit integers may be numbers or decimal strings, unknown fields are ignored, and
    protobuf field names (snake_case) are accepted besides lowerCamelCase.

    Args:
        data: the (uncompressed) JSON body, as bytes or text.

    Raises:
        OTLPDecodeError: when the input is not JSON or not an export request; the message
            gives the path of the offending field.
    """
    if not isinstance(data, (bytes, str, bytearray, memoryview)):
        raise OTLPDecodeError("", f"expected bytes or str, got {type(data).__name__}")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise OTLPDecodeError("", f"not valid JSON at byte {exc.pos}: {exc.msg}") from None
    top = _json_fields(doc)
    out: list[SpanRecord] = []
    for group in _json_list(top.get("resourceSpans"), "resourceSpans", _json_resource_spans):
        out.extend(group)
    return out


# ---------------------------------------------------------------------------------------
# SpanRecord -> OTLP/JSON


def _json_any(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return {"intValue": str(int(value))}
        return {"stringValue": str(int(value))}  # as in protobuf: no wider integer
    if isinstance(value, float):
        # orjson writes NaN and infinities as null; proto3 JSON spells them as strings.
        if math.isfinite(value):
            return {"doubleValue": float(value)}
        return {
            "doubleValue": "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
        }
    if isinstance(value, str):
        return {"stringValue": str.__str__(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": _json_kvs(value)}}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_json_any(v) for v in value]}}
    raise TypeError(f"cannot encode a {type(value).__name__} as an OTLP value: {value!r}")


def _json_kvs(attrs: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"key": str(k), "value": {"stringValue": v} if type(v) is str else _json_any(v)}
        for k, v in attrs.items()
    ]


def _json_span_out(span: SpanRecord) -> dict[str, Any]:
    d: dict[str, Any] = {
        "traceId": span.trace_id.hex(),
        "spanId": span.span_id.hex(),
        "name": span.name,
        "kind": int(span.kind),
        "startTimeUnixNano": str(span.start_time_unix_nano),
        "endTimeUnixNano": str(span.end_time_unix_nano),
        "attributes": _json_kvs(span.attributes),
    }
    if span.parent_span_id:
        d["parentSpanId"] = span.parent_span_id.hex()
    if span.trace_state:
        d["traceState"] = span.trace_state
    if span.flags:
        d["flags"] = span.flags
    if span.dropped_attributes_count:
        d["droppedAttributesCount"] = span.dropped_attributes_count
    if span.events:
        d["events"] = [
            {
                "timeUnixNano": str(ev.time_unix_nano),
                "name": ev.name,
                "attributes": _json_kvs(ev.attributes),
                "droppedAttributesCount": ev.dropped_attributes_count,
            }
            for ev in span.events
        ]
    if span.dropped_events_count:
        d["droppedEventsCount"] = span.dropped_events_count
    if span.links:
        d["links"] = [
            {
                "traceId": ln.trace_id.hex(),
                "spanId": ln.span_id.hex(),
                "traceState": ln.trace_state,
                "attributes": _json_kvs(ln.attributes),
                "droppedAttributesCount": ln.dropped_attributes_count,
                "flags": ln.flags,
            }
            for ln in span.links
        ]
    if span.dropped_links_count:
        d["droppedLinksCount"] = span.dropped_links_count
    if span.status_code or span.status_message:
        d["status"] = {"code": int(span.status_code), "message": span.status_message}
    return d


def encode_otlp_json(spans: Iterable[SpanRecord]) -> bytes:
    """OTLP/JSON bytes of an `ExportTraceServiceRequest` holding `spans`.

    Writes the spec's shape: hex ids, 64-bit integers as decimal strings, enums as
    integers, lowerCamelCase keys, NaN and infinities as "NaN" / "Infinity" /
    "-Infinity"; spans grouped by resource and scope. As in `encode_request`, integers
    outside int64 become decimal strings and lone surrogates become U+FFFD.

    Args:
        spans: the spans to encode.

    Raises:
        ValueError: an attribute value has a type OTLP cannot carry; the message names
            the span.
    """
    resource_spans = []
    for first, scopes in _group(spans):
        scope_spans = []
        for scope_first, members in scopes:
            out_spans = []
            for span in members:
                try:
                    out_spans.append(_json_span_out(span))
                except TypeError as exc:
                    raise ValueError(f"span {span.name!r} ({span.span_id.hex()}): {exc}") from exc
            scope: dict[str, Any] = {"name": scope_first.scope_name}
            if scope_first.scope_version:
                scope["version"] = scope_first.scope_version
            if scope_first.scope_attributes:
                scope["attributes"] = _json_kvs(scope_first.scope_attributes)
            entry: dict[str, Any] = {"scope": scope, "spans": out_spans}
            if scope_first.scope_schema_url:
                entry["schemaUrl"] = scope_first.scope_schema_url
            scope_spans.append(entry)
        rs: dict[str, Any] = {
            "resource": {"attributes": _json_kvs(first.resource)},
            "scopeSpans": scope_spans,
        }
        if first.resource_schema_url:
            rs["schemaUrl"] = first.resource_schema_url
        resource_spans.append(rs)
    doc = {"resourceSpans": resource_spans}
    try:
        return orjson.dumps(doc)
    except orjson.JSONEncodeError:  # a string that is not valid UTF-8 (lone surrogates)
        return orjson.dumps(_utf8_deep(doc))


# ---------------------------------------------------------------------------------------
# The SDK's ReadableSpan <-> SpanRecord

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
_NO_ATTRS: Mapping[str, Any] = {}


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
        trace_id, span_id, trace_state, flags = _ZERO16, _ZERO8, "", 0
    status = span.status
    events = span.events if _may_hold(span, "_events") else ()
    links = span.links if _may_hold(span, "_links") else ()
    resource, resource_url, scope_name, scope_version, scope_attrs, scope_url = _origin(
        span.resource, span.instrumentation_scope)
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
    for first, scopes in _group(spans):
        resource = _sdk_resource(first)
        for scope_first, members in scopes:
            scope = _sdk_scope(scope_first)
            for span in members:
                context[id(span)] = (resource, scope)
    # In the input order (the grouping only decides which spans share objects).
    return [_to_readable(span, *context[id(span)]) for span in spans]
