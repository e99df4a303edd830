"""OTLP/JSON: `ExportTraceServiceRequest` JSON <-> `SpanRecord`s.

The decoder is a hand-written loop over `orjson.loads` output with the common case, a
string attribute, handled inline, and a checked slow path that says where a problem is.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from otel_llm._gc import collector_paused
from otel_llm.model import Attributes, SpanEvent, SpanLink, SpanRecord, span_record
from otel_llm.otlp.common import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    UINT32_MAX,
    UINT64_MAX,
    OTLPDecodeError,
    utf8_deep,
)
from otel_llm.otlp.grouping import group_spans

__all__ = ["decode_otlp_json", "encode_otlp_json"]


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
    return _integer(value, where, 0, UINT64_MAX, "uint64")


def _u32(value: Any, where: str) -> int:
    return _integer(value, where, 0, UINT32_MAX, "uint32")


# Enum names as protobuf's own JSON printer writes them (`json_format`, and tools built
# on it). The OTLP/JSON spec asks for integers; both are read.
_ENUM_NAMES: dict[str, dict[str, int]] = {
    "kind": {
        "SPAN_KIND_UNSPECIFIED": 0,
        "SPAN_KIND_INTERNAL": 1,
        "SPAN_KIND_SERVER": 2,
        "SPAN_KIND_CLIENT": 3,
        "SPAN_KIND_PRODUCER": 4,
        "SPAN_KIND_CONSUMER": 5,
    },
    "status.code": {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2},
}


def _enum(value: Any, where: str) -> int:
    if value is None:
        return 0
    if type(value) is str:
        names = _ENUM_NAMES[where]
        number = names.get(value)
        if number is None:
            raise OTLPDecodeError(
                where,
                f"unknown enum name {value[:40]!r}; expected an integer or one of "
                f"{', '.join(names)}",
            )
        return number
    if type(value) is not int:
        raise OTLPDecodeError(
            where, f"enum values must be integers or names, got {_describe(value)}"
        )
    if not INT32_MIN <= value <= INT32_MAX:
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
        if INT64_MIN <= n <= INT64_MAX:
            return n
    return _integer(raw, "intValue", INT64_MIN, INT64_MAX, "int64")


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
        if INT64_MIN <= value <= INT64_MAX:
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
    for first, scopes in group_spans(spans):
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
        return orjson.dumps(utf8_deep(doc))
