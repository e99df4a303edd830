"""OTLP codecs: round trips, the OTLP/JSON rules, the real SDK encoder and exporters."""

from __future__ import annotations

import base64
import enum
import functools
import gzip
import inspect
import io
import math
import threading
from collections.abc import Iterator
from dataclasses import asdict, fields, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType, ModuleType
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import (
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, TraceFlags, TraceState

from otel_llm.model import (
    SpanEvent,
    SpanKind,
    SpanLink,
    SpanRecord,
    StatusCode,
    span_record,
)
from otel_llm.otlp import (
    OTLPDecodeError,
    decode_otlp_json,
    decode_otlp_protobuf,
    decode_request,
    encode_otlp_json,
    encode_otlp_protobuf,
    encode_request,
    span_from_readable,
    span_problem,
    span_to_readable,
    spans_to_readable,
)
from otel_llm.otlp import protobuf as otlp_protobuf
from otel_llm.otlp.grouping import group_spans

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")
PARENT_ID = bytes.fromhex("eee19b7ec3c1b173")


# ---------------------------------------------------------------------------------------
# Exact comparison: SpanRecord equality says 1 == True == 1.0; these helpers do not.


def typed(value: Any) -> Any:
    """`value` with every scalar tagged by its type (IntEnum counts as int)."""
    if isinstance(value, dict):
        return ("dict", tuple((typed(k), typed(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(typed(v) for v in value))
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, enum.IntEnum):
        return ("int", int(value))
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def canon(span: SpanRecord) -> str:
    return repr(typed(asdict(span)))


def same_spans(got: list[SpanRecord], want: list[SpanRecord]) -> bool:
    """Equal as multisets (encoders group by resource and scope, which may reorder)."""
    return sorted(map(canon, got)) == sorted(map(canon, want))


# ---------------------------------------------------------------------------------------
# Strategies

texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
scalars = st.one_of(
    texts,
    st.booleans(),
    st.integers(INT64_MIN, INT64_MAX),
    st.sampled_from([INT64_MIN, INT64_MAX, 0, -1]),
    st.floats(allow_nan=False),
    st.binary(max_size=12),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=10,
)
attributes = st.dictionaries(texts, values, max_size=5)
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
ids16 = st.one_of(st.binary(min_size=16, max_size=16), st.binary(max_size=20))
ids8 = st.one_of(st.binary(min_size=8, max_size=8), st.binary(max_size=10))

events = st.builds(SpanEvent, name=texts, time_unix_nano=u64, attributes=attributes,
                   dropped_attributes_count=u32)  # fmt: skip
links = st.builds(SpanLink, trace_id=ids16, span_id=ids8, trace_state=texts,
                  attributes=attributes, dropped_attributes_count=u32, flags=u32)  # fmt: skip


@st.composite
def span_batches(draw: st.DrawFn) -> list[SpanRecord]:
    """Spans sharing a few resources and scopes, so that grouping is exercised."""
    resources = draw(st.lists(st.tuples(attributes, texts), min_size=1, max_size=3))
    scopes = draw(st.lists(st.tuples(texts, texts, attributes, texts), min_size=1, max_size=3))
    spans = []
    for _ in range(draw(st.integers(1, 6))):
        resource, resource_url = draw(st.sampled_from(resources))
        name, version, scope_attrs, scope_url = draw(st.sampled_from(scopes))
        spans.append(
            SpanRecord(
                trace_id=draw(ids16),
                span_id=draw(ids8),
                name=draw(texts),
                parent_span_id=draw(st.one_of(st.just(b""), ids8)),
                kind=draw(st.integers(0, 5)),
                start_time_unix_nano=draw(u64),
                end_time_unix_nano=draw(u64),
                attributes=draw(attributes),
                events=draw(st.lists(events, max_size=2)),
                links=draw(st.lists(links, max_size=2)),
                status_code=draw(st.integers(0, 2)),
                status_message=draw(texts),
                trace_state=draw(texts),
                flags=draw(u32),
                dropped_attributes_count=draw(u32),
                dropped_events_count=draw(u32),
                dropped_links_count=draw(u32),
                resource=dict(resource),
                resource_schema_url=resource_url,
                scope_name=name,
                scope_version=version,
                scope_attributes=dict(scope_attrs),
                scope_schema_url=scope_url,
            )
        )
    return spans


# ---------------------------------------------------------------------------------------
# Round trips


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(span_batches())
def test_protobuf_round_trip(spans: list[SpanRecord]) -> None:
    assert same_spans(decode_otlp_protobuf(encode_otlp_protobuf(spans)), spans)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(span_batches())
def test_json_round_trip(spans: list[SpanRecord]) -> None:
    assert same_spans(decode_otlp_json(encode_otlp_json(spans)), spans)


@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(span_batches())
def test_request_message_round_trip(spans: list[SpanRecord]) -> None:
    # What the gRPC servicer uses: no serialisation in between.
    assert same_spans(decode_request(encode_request(spans)), spans)


def test_nan_survives_both_encodings() -> None:
    span = SpanRecord(TRACE_ID, SPAN_ID, "n", attributes={"x": math.nan, "i": -math.inf})
    for got in (
        decode_otlp_protobuf(encode_otlp_protobuf([span]))[0],
        decode_otlp_json(encode_otlp_json([span]))[0],
    ):
        assert math.isnan(got.attributes["x"]) and got.attributes["i"] == -math.inf
    doc = orjson.loads(encode_otlp_json([span]))
    values = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
    assert [kv["value"] for kv in values] == [{"doubleValue": "NaN"}, {"doubleValue": "-Infinity"}]


def test_integers_beyond_int64_become_decimal_strings() -> None:
    span = SpanRecord(TRACE_ID, SPAN_ID, "n", attributes={"big": 2**64, "small": -(2**63) - 1})
    for data, decode in (
        (encode_otlp_protobuf([span]), decode_otlp_protobuf),
        (encode_otlp_json([span]), decode_otlp_json),
    ):
        assert decode(data)[0].attributes == {"big": str(2**64), "small": str(-(2**63) - 1)}


def test_lone_surrogates_become_replacement_characters() -> None:
    span = SpanRecord(
        TRACE_ID,
        SPAN_ID,
        "bad \ud800 name",
        attributes={"k\udc00": "pair \ud83d\ude00 and lone \ud800", "ok": "fine"},
        events=[SpanEvent("ev \ud800", 1)],
        resource={"service.name\ud800": "svc"},
        scope_name="lib \udfff",
        scope_attributes={"a": "\ud800"},
    )
    for data, decode in (
        (encode_otlp_protobuf([span]), decode_otlp_protobuf),
        (encode_otlp_json([span]), decode_otlp_json),
    ):
        got = decode(data)[0]
        assert got.name == "bad \ufffd name"
        assert got.attributes == {"k\ufffd": "pair \U0001f600 and lone \ufffd", "ok": "fine"}
        assert got.events[0].name == "ev \ufffd"
        assert got.resource == {"service.name\ufffd": "svc"}
        assert (got.scope_name, got.scope_attributes) == ("lib \ufffd", {"a": "\ufffd"})


def test_encoders_group_by_resource_and_scope_and_keep_order_within() -> None:
    def span(n: int, resource: dict[str, Any], scope: str) -> SpanRecord:
        return SpanRecord(
            TRACE_ID, bytes([n]) * 8, f"s{n}", resource=dict(resource), scope_name=scope
        )

    a, b = {"service.name": "a"}, {"service.name": "b"}
    # {"n": 1} and {"n": True} are equal dicts but different resources.
    spans = [
        span(1, a, "x"),
        span(2, b, "x"),
        span(3, a, "y"),
        span(4, a, "x"),
        span(5, {"n": 1}, "x"),
        span(6, {"n": True}, "x"),
    ]
    request = encode_request(spans)
    layout = [
        [[s.name for s in ss.spans] for ss in rs.scope_spans] for rs in request.resource_spans
    ]
    assert layout == [[["s1", "s4"], ["s3"]], [["s2"]], [["s5"]], [["s6"]]]
    doc = orjson.loads(encode_otlp_json(spans))
    json_layout = [
        [[s["name"] for s in ss["spans"]] for ss in rs["scopeSpans"]] for rs in doc["resourceSpans"]
    ]
    assert json_layout == layout
    assert decode_otlp_protobuf(request.SerializeToString())[5].resource == {"n": True}


def test_a_shared_resource_dict_with_another_schema_url_is_another_resource() -> None:
    shared = {"service.name": "a"}
    spans = [
        SpanRecord(TRACE_ID, bytes([n]) * 8, f"s{n}", resource=shared, resource_schema_url=url)
        for n, url in enumerate(["", "https://s/2", ""], start=1)
    ]
    request = encode_request(spans)
    assert [rs.schema_url for rs in request.resource_spans] == ["", "https://s/2"]
    assert [len(rs.scope_spans[0].spans) for rs in request.resource_spans] == [2, 1]


def test_decoded_spans_do_not_share_resource_dicts() -> None:
    spans = [SpanRecord(TRACE_ID, bytes([n]) * 8, "s", resource={"a": "b"}) for n in (1, 2)]
    for decoded in (
        decode_otlp_protobuf(encode_otlp_protobuf(spans)),
        decode_otlp_json(encode_otlp_json(spans)),
    ):
        decoded[0].resource["changed"] = True
        assert decoded[1].resource == {"a": "b"}


def test_encoding_an_unsupported_value_names_the_span() -> None:
    span = SpanRecord(TRACE_ID, SPAN_ID, "chat", attributes={"when": object()})
    with pytest.raises(ValueError, match=r"span 'chat' \(eee19b7ec3c1b174\): cannot encode"):
        encode_otlp_protobuf([span])
    with pytest.raises(ValueError, match=r"span 'chat' \(eee19b7ec3c1b174\): cannot encode"):
        encode_otlp_json([span])


def test_enum_and_str_subclasses_encode_as_plain_values() -> None:
    class Color(str, enum.Enum):
        RED = "red"

    span = SpanRecord(
        TRACE_ID,
        SPAN_ID,
        "n",
        kind=SpanKind.CLIENT,
        attributes={"c": Color.RED, "k": SpanKind.SERVER},
    )
    for data, decode in (
        (encode_otlp_protobuf([span]), decode_otlp_protobuf),
        (encode_otlp_json([span]), decode_otlp_json),
    ):
        got = decode(data)[0]
        assert typed(got.attributes) == typed({"c": "red", "k": 2})
        assert got.kind == 3


# ---------------------------------------------------------------------------------------
# The C codec (otel_llm/otlp/_wire*.c) against the reference message path


def reference_bytes(spans: list[SpanRecord]) -> bytes:
    data: bytes = encode_request(spans).SerializeToString()
    return data


# The C codec's tests are skipped without the extension, and fail without it under
# OTEL_LLM_REQUIRE_SPEEDUPS=1 (tests/conftest.py).
needs_c_codec = pytest.mark.usefixtures("c_wire_codec")


def test_the_c_codec_is_built(c_wire_codec: ModuleType) -> None:
    assert otlp_protobuf._encode_natively is c_wire_codec.encode_request
    assert otlp_protobuf._decode_natively is c_wire_codec.decode_request


@needs_c_codec
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(span_batches())
def test_c_encoder_writes_what_upb_serializes(spans: list[SpanRecord]) -> None:
    assert otlp_protobuf._encode_natively is not None
    # Called directly: generated batches hold nothing it hands back to the reference.
    assert otlp_protobuf._encode_natively(group_spans(spans)) == reference_bytes(spans)


@needs_c_codec
def test_c_encoder_covers_every_field() -> None:
    span = SpanRecord(
        TRACE_ID, SPAN_ID, "all", PARENT_ID, SpanKind.CLIENT, 1, 2**64 - 1,
        {"s": "é" * 200, "": None, "n": -1, "f": 0.5, "b": False, "x": b"\x00",
         "l": [1, [], {}, None], "d": {"k": ("v",)}},
        [SpanEvent("e", 3, {"a": 1}, 4), SpanEvent("", 0)],
        [SpanLink(TRACE_ID, PARENT_ID, "ts", {"a": 1}, 5, 0x301), SpanLink(b"", b"")],
        StatusCode.ERROR, "boom", "k=v", 0x101, 6, 7, 8,
        {"service.name": "svc"}, "https://r", "lib", "1.0", {"a": [1.5]}, "https://s",
    )  # fmt: skip
    assert otlp_protobuf._encode_natively is not None
    assert otlp_protobuf._encode_natively(group_spans([span])) == reference_bytes([span])
    bare = SpanRecord(b"", b"", "")
    assert otlp_protobuf._encode_natively(group_spans([bare])) == reference_bytes([bare])
    assert otlp_protobuf._encode_natively([]) == b""


@needs_c_codec
def test_without_the_c_encoder_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    spans = [SpanRecord(TRACE_ID, SPAN_ID, "n", attributes={"a": [1, {"b": None}]})]
    fast = encode_otlp_protobuf(spans)
    monkeypatch.setattr(otlp_protobuf, "_encode_natively", None)
    assert encode_otlp_protobuf(iter(spans)) == fast


class Mood(enum.IntEnum):
    HAPPY = 1


@needs_c_codec
@pytest.mark.parametrize(
    "changes",
    [
        {"attributes": {"big": 2**64}},  # a decimal string
        {"attributes": {"lone": "\ud800"}},  # U+FFFD
        {"attributes": {"\udc00": 1}},
        {"name": "\ud800"},
        {"attributes": {"ba": bytearray(b"ab"), "mv": memoryview(b"cd")}},
        {"attributes": {"m": MappingProxyType({"a": 1}), "k": {1: "int key"}}},
        {"attributes": {"deep": functools.reduce(lambda v, _: [v], range(100), 1)}},
        {"attributes": {"mood": Mood.HAPPY, "t": (1, 2)}},
        {"kind": Mood.HAPPY},
    ],
)
def test_c_encoder_agrees_with_the_reference_on_unusual_values(changes: dict[str, Any]) -> None:
    span = replace(SpanRecord(TRACE_ID, SPAN_ID, "n"), **changes)
    assert encode_otlp_protobuf([span]) == reference_bytes([span])


@needs_c_codec
@pytest.mark.parametrize(
    "changes",
    [
        {"attributes": {"when": object()}},
        {"attributes": {1: "int key"}},
        {"start_time_unix_nano": -1},
        {"kind": 2**31},
        {"flags": 2**32},
        {"dropped_links_count": True},
        {"trace_id": "not bytes"},
        {"events": [SpanEvent("e", -5)]},
    ],
)
def test_c_encoder_leaves_errors_to_the_reference(changes: dict[str, Any]) -> None:
    span = replace(SpanRecord(TRACE_ID, SPAN_ID, "bad"), **changes)
    with pytest.raises((ValueError, TypeError)) as reference:
        reference_bytes([span])
    with pytest.raises(type(reference.value)) as fast:
        encode_otlp_protobuf([span])
    assert str(fast.value) == str(reference.value)


def reference_decode(data: bytes) -> list[SpanRecord]:
    return decode_request(ExportTraceServiceRequest.FromString(data))


def native_decode(data: bytes) -> list[SpanRecord]:
    assert otlp_protobuf._decode_natively is not None
    return otlp_protobuf._decode_natively(data, otlp_protobuf._RECORD_TYPES)


def in_order(spans: list[SpanRecord]) -> list[str]:
    return list(map(canon, spans))


@needs_c_codec
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(span_batches())
def test_c_decoder_reads_what_upb_reads(spans: list[SpanRecord]) -> None:
    data = reference_bytes(spans)
    assert in_order(native_decode(data)) == in_order(reference_decode(data))


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (payloads here are shorter than 128 bytes)."""
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


SCOPE = field(1, field(1, b"lib"))  # ScopeSpans.scope, name "lib"
SPAN = field(1, TRACE_ID) + field(2, SPAN_ID) + field(5, b"s")
UNKNOWN = b"\xf8\x06\x01" + b"\xfa\x06\x02hi"  # fields 111 (varint) and 111 (bytes)


@needs_c_codec
@pytest.mark.parametrize(
    "data",
    [
        # unknown fields at every level: skipped
        field(1, UNKNOWN + field(2, UNKNOWN + SCOPE + field(2, SPAN + UNKNOWN))) + UNKNOWN,
        # schema urls and the resource after the spans that share them
        field(1, field(2, field(2, SPAN) + field(3, b"https://s") + SCOPE) + field(3, b"https://r")
              + field(1, field(1, field(1, b"k") + field(2, field(1, b"v"))))),
        # a scalar given twice: the last one counts
        field(1, field(2, SCOPE + field(2, SPAN + field(5, b"renamed")))),
        # an attribute key given twice: the last value, in the first key's place
        field(1, field(2, field(2, SPAN + field(9, field(1, b"a") + field(2, field(1, b"1")))
                                     + field(9, field(1, b"b") + field(2, b""))
                                     + field(9, field(1, b"a") + field(2, field(1, b"2")))))),
        # fields out of number order (kind, then name again)
        field(1, field(2, field(2, SPAN + b"\x30\x01\x2a\x01x"))),
        # a key without a value, a value without a key
        field(1, field(2, field(2, SPAN + field(9, field(1, b"k")) + field(9, field(2, b""))))),
    ],
)  # fmt: skip
def test_c_decoder_reads_non_canonical_layouts_as_upb_does(data: bytes) -> None:
    assert in_order(native_decode(data)) == in_order(reference_decode(data))


# SpanRecord, SpanEvent and SpanLink are built positionally (by `span_record` and by the
# C decoder): a span whose fields all differ reads back field by field, so a change of
# field order fails these two tests rather than swapping values.
EVERY_FIELD_DIFFERS = SpanRecord(
    TRACE_ID, SPAN_ID, "name", PARENT_ID, SpanKind.CLIENT, 11, 12, {"a": 1},
    [SpanEvent("event", 13, {"e": 2}, 14)],
    [SpanLink(TRACE_ID[::-1], SPAN_ID[::-1], "link=1", {"l": 3}, 15, 0x301)],
    StatusCode.ERROR, "message", "state=1", 0x101, 16, 17, 18,
    {"r": 4}, "https://r", "scope", "1.0", {"s": 5}, "https://s",
)  # fmt: skip


def test_decoders_fill_every_field_by_name() -> None:
    assert [f.name for f in fields(SpanRecord)] == list(inspect.signature(span_record).parameters)
    span = EVERY_FIELD_DIFFERS
    assert in_order(reference_decode(reference_bytes([span]))) == in_order([span])
    assert in_order(decode_otlp_json(encode_otlp_json([span]))) == in_order([span])


@needs_c_codec
def test_c_decoder_fills_every_field_by_name() -> None:
    span = EVERY_FIELD_DIFFERS
    assert in_order(native_decode(reference_bytes([span]))) == in_order([span])


@needs_c_codec
@pytest.mark.parametrize(
    ("data", "readable"),
    [
        (field(1, field(2, field(2, SPAN + field(15, b"") + field(15, b"\x18\x02")))), True),
        (field(1, field(2, SCOPE + SCOPE + field(2, SPAN))), True),  # upb merges the two
        # a KeyValue whose AnyValue sets two members of its oneof
        (field(1, field(2, field(2, SPAN + field(9, field(2, field(1, b"a") + b"\x18\x05"))))),
         True),
        (field(1, field(2, field(2, SPAN + b"\x31" + bytes(8)))), True),  # kind as fixed64
        (field(1, field(2, field(2, SPAN + field(5, b"\xff")))), False),  # invalid UTF-8
        (field(1, field(2, field(2, SPAN + b"\x0b\x0c"))), True),  # a group: upb skips it
        (b"\x0a\x05\x12\x03", False),  # truncated
        (field(1, field(2, field(2, SPAN + b"\x30" + b"\xff" * 11))), False),  # overlong varint
    ],
)  # fmt: skip
def test_c_decoder_leaves_the_rest_to_upb(data: bytes, readable: bool) -> None:
    with pytest.raises(otlp_protobuf._Unsupported):
        native_decode(data)
    if readable:
        assert in_order(decode_otlp_protobuf(data)) == in_order(reference_decode(data))
    else:
        with pytest.raises(OTLPDecodeError, match="protobuf: Error parsing"):
            decode_otlp_protobuf(data)


@needs_c_codec
def test_c_decoder_leaves_deep_nesting_to_upb() -> None:
    def nested(depth: int) -> bytes:
        value = functools.reduce(lambda v, _: [v], range(depth), 1)
        return reference_bytes([SpanRecord(TRACE_ID, SPAN_ID, "n", attributes={"v": value})])

    with pytest.raises(otlp_protobuf._Unsupported):
        native_decode(nested(40))
    assert decode_otlp_protobuf(nested(40)) == reference_decode(nested(40))
    with pytest.raises(OTLPDecodeError, match="MaxDepth"):  # upb's limit, with or without C
        decode_otlp_protobuf(nested(60))


@needs_c_codec
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(span_batches(), st.data())
def test_c_decoder_on_damaged_bytes_agrees_with_upb_or_hands_over(
    spans: list[SpanRecord], data: st.DataObject
) -> None:
    """Flipped, cut and inserted bytes: the C decoder reads what upb reads, or hands the
    input over (then the message path reads it or raises OTLPDecodeError)."""
    raw = bytearray(reference_bytes(spans))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw)))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip" and at < len(raw):
            raw[at] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del raw[at : at + data.draw(st.integers(1, 8))]
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=4))
    try:
        got = native_decode(bytes(raw))
    except otlp_protobuf._Unsupported:
        return
    assert in_order(got) == in_order(reference_decode(bytes(raw)))


# ---------------------------------------------------------------------------------------
# OTLP/JSON rules


def json_request(span: dict[str, Any], **resource_spans: Any) -> bytes:
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}], **resource_spans}]})


BASE_SPAN = {"traceId": TRACE_ID.hex(), "spanId": SPAN_ID.hex(), "name": "s"}


def test_json_ids_are_case_insensitive_hex() -> None:
    span = {**BASE_SPAN, "traceId": TRACE_ID.hex().upper(), "parentSpanId": "EEE19b7EC3C1B173"}
    got = decode_otlp_json(json_request(span))[0]
    assert (got.trace_id, got.span_id, got.parent_span_id) == (TRACE_ID, SPAN_ID, PARENT_ID)


def test_json_int64_as_string_or_number() -> None:
    span = {
        **BASE_SPAN,
        "startTimeUnixNano": "1700000000000000001",
        "endTimeUnixNano": 1700000000000000002,
        "attributes": [
            {"key": "s", "value": {"intValue": "-9223372036854775808"}},
            {"key": "n", "value": {"intValue": 42}},
            {"key": "f", "value": {"intValue": 1e3}},  # an integral JSON number
        ],
    }
    got = decode_otlp_json(json_request(span))[0]
    assert got.start_time_unix_nano == 1700000000000000001
    assert got.end_time_unix_nano == 1700000000000000002
    assert typed(got.attributes) == typed({"s": INT64_MIN, "n": 42, "f": 1000})


def test_json_unknown_fields_are_ignored_everywhere() -> None:
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": [], "entityRefs": [{"type": "x"}], "new": 1},
                "scopeSpans": [
                    {
                        "scope": {"name": "sc", "future": True},
                        "spans": [
                            {
                                **BASE_SPAN,
                                "someNewField": {"deep": [1, 2]},
                                "attributes": [
                                    {"key": "a", "value": {"futureValue": 1, "boolValue": True}},
                                    {"key": "b", "value": {"stringValue": "x"}, "extra": 0},
                                ],
                                "events": [{"name": "e", "timeUnixNano": "5", "other": "y"}],
                                "status": {"code": 2, "message": "m", "details": []},
                            }
                        ],
                        "futureScopeField": 3,
                    }
                ],
            }
        ],
        "unknownTopLevel": None,
    }
    got = decode_otlp_json(orjson.dumps(doc))[0]
    assert got.attributes == {"a": True, "b": "x"}
    assert got.events == [SpanEvent("e", 5)]
    assert (got.status_code, got.status_message, got.scope_name) == (2, "m", "sc")


def test_json_accepts_snake_case_field_names() -> None:
    doc = {
        "resource_spans": [
            {
                "schema_url": "https://opentelemetry.io/schemas/1.26.0",
                "scope_spans": [
                    {
                        "spans": [
                            {
                                "trace_id": TRACE_ID.hex(),
                                "span_id": SPAN_ID.hex(),
                                "parent_span_id": PARENT_ID.hex(),
                                "name": "s",
                                "start_time_unix_nano": "10",
                                "end_time_unix_nano": "20",
                                "dropped_attributes_count": 3,
                                "attributes": [
                                    {"key": "i", "value": {"int_value": "7"}},
                                    {"key": "s", "value": {"string_value": "x"}},
                                    {"key": "l", "value": {"array_value": {"values": []}}},
                                ],
                                "events": [{"name": "e", "time_unix_nano": "15"}],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    got = decode_otlp_json(orjson.dumps(doc))[0]
    assert got.parent_span_id == PARENT_ID
    assert (got.start_time_unix_nano, got.end_time_unix_nano) == (10, 20)
    assert got.dropped_attributes_count == 3
    assert typed(got.attributes) == typed({"i": 7, "s": "x", "l": []})
    assert got.events[0].time_unix_nano == 15
    assert got.resource_schema_url == "https://opentelemetry.io/schemas/1.26.0"


@pytest.mark.parametrize(
    ("field", "value", "where", "reason"),
    [
        ("kind", "SPAN_KIND_SERVRE", "kind", "unknown enum name 'SPAN_KIND_SERVRE'"),
        ("kind", 2.0, "kind", "enum values must be integers or names"),
        ("kind", True, "kind", "enum values must be integers or names"),
        ("status", {"code": "ERROR"}, "status.code", "unknown enum name 'ERROR'"),
        ("kind", 2**31, "kind", "2147483648 is out of range"),
    ],
)
def test_json_enums_are_integers_or_their_names(
    field: str, value: Any, where: str, reason: str
) -> None:
    with pytest.raises(OTLPDecodeError) as info:
        decode_otlp_json(json_request({**BASE_SPAN, field: value}))
    assert info.value.path == f"resourceSpans[0].scopeSpans[0].spans[0].{where}"
    assert info.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("kind", "code", "expected"),
    [
        ("SPAN_KIND_CLIENT", "STATUS_CODE_ERROR", (3, 2)),
        ("SPAN_KIND_SERVER", "STATUS_CODE_OK", (2, 1)),
        ("SPAN_KIND_UNSPECIFIED", "STATUS_CODE_UNSET", (0, 0)),
        (5, 2, (5, 2)),
    ],
)
def test_json_enum_names_as_protobufs_json_printer_writes_them(
    kind: Any, code: Any, expected: tuple[int, int]
) -> None:
    (span,) = decode_otlp_json(json_request({**BASE_SPAN, "kind": kind, "status": {"code": code}}))
    assert (span.kind, span.status_code) == expected


def test_json_any_values() -> None:
    raw = b"\x00\xffbinary\xfe"
    span = {
        **BASE_SPAN,
        "attributes": [
            {"key": "b64", "value": {"bytesValue": base64.b64encode(raw).decode()}},
            {"key": "url", "value": {"bytesValue": base64.urlsafe_b64encode(raw).decode()}},
            {"key": "nopad", "value": {"bytesValue": base64.b64encode(b"ab").decode().rstrip("=")}},
            {"key": "d", "value": {"doubleValue": 1}},
            {"key": "inf", "value": {"doubleValue": "Infinity"}},
            {"key": "empty", "value": {}},
            {"key": "none"},
            {"value": {"stringValue": "no key"}},
            {
                "key": "nested",
                "value": {
                    "kvlistValue": {
                        "values": [
                            {
                                "key": "arr",
                                "value": {"arrayValue": {"values": [{"boolValue": False}, {}]}},
                            }
                        ]
                    }
                },
            },
        ],
    }
    got = decode_otlp_json(json_request(span))[0].attributes
    expected = {
        "b64": raw,
        "url": raw,
        "nopad": b"ab",
        "d": 1.0,
        "inf": math.inf,
        "empty": None,
        "none": None,
        "": "no key",
        "nested": {"arr": [False, None]},
    }
    assert typed(got) == typed(expected)


def test_json_empty_request_and_text_input() -> None:
    assert decode_otlp_json(b"{}") == []
    assert decode_otlp_json('{"resourceSpans": []}') == []
    got = decode_otlp_json(json_request(BASE_SPAN).decode())
    assert got[0].name == "s" and got[0].kind == 0


def test_encode_json_writes_the_spec_shape() -> None:
    span = SpanRecord(
        TRACE_ID,
        SPAN_ID,
        "s",
        parent_span_id=PARENT_ID,
        kind=SpanKind.CLIENT,
        start_time_unix_nano=2**63,
        end_time_unix_nano=2**63 + 1,
        attributes={"i": 5, "b": b"\x01"},
        status_code=StatusCode.ERROR,
        status_message="boom",
    )
    out = orjson.loads(encode_otlp_json([span]))["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert out["traceId"] == "5b8efff798038103d269b633813fc60c"
    assert out["parentSpanId"] == "eee19b7ec3c1b173"
    assert out["kind"] == 3 and out["status"] == {"code": 2, "message": "boom"}
    assert out["startTimeUnixNano"] == str(2**63)
    assert out["attributes"] == [
        {"key": "i", "value": {"intValue": "5"}},
        {"key": "b", "value": {"bytesValue": "AQ=="}},
    ]


# ---------------------------------------------------------------------------------------
# Errors: one exception type, a message that says where and what


SPAN_AT = "resourceSpans[0].scopeSpans[0].spans[0]"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"resourceSpans": [}', "not valid JSON at byte 19"),
        (b"", "not valid JSON at byte 0"),
        (b"[1, 2]", "expected an object, got an array"),
        (b'{"resourceSpans": {}}', "resourceSpans: expected an array, got an object"),
        (b'{"resourceSpans": [3]}', "resourceSpans[0]: expected an object, got a number 3"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{}, {"spans": ["x"]}]}]}',
            "resourceSpans[0].scopeSpans[1].spans[0]: expected an object, got a string 'x'",
        ),
        (
            json_request({**BASE_SPAN, "traceId": "zz" * 16}),
            f"{SPAN_AT}.traceId: not hex: '{'z' * 32}'",
        ),
        (
            json_request({**BASE_SPAN, "spanId": base64.b64encode(SPAN_ID).decode()}),
            f"{SPAN_AT}.spanId: not hex: '7uGbfsPBsXQ=' (OTLP/JSON ids are hex, not base64)",
        ),
        (json_request({**BASE_SPAN, "traceId": 12}), f"{SPAN_AT}.traceId: expected a hex string"),
        (
            json_request({**BASE_SPAN, "name": 5}),
            f"{SPAN_AT}.name: expected a string, got a number",
        ),
        (
            json_request({**BASE_SPAN, "startTimeUnixNano": "12ab"}),
            f"{SPAN_AT}.startTimeUnixNano: not an integer: '12ab'",
        ),
        (
            json_request({**BASE_SPAN, "endTimeUnixNano": -1}),
            f"{SPAN_AT}.endTimeUnixNano: -1 is out of range for uint64",
        ),
        (
            json_request({**BASE_SPAN, "flags": 1.5}),
            f"{SPAN_AT}.flags: expected an integer, got a number 1.5",
        ),
        (
            json_request({**BASE_SPAN, "attributes": {"key": "a"}}),
            f"{SPAN_AT}.attributes: expected an array, got an object",
        ),
        (
            json_request(
                {**BASE_SPAN, "attributes": [{"key": "a", "value": {"stringValue": "x"}}, 7]}
            ),
            f"{SPAN_AT}.attributes[1]: expected an object, got a number 7",
        ),
        (
            json_request({**BASE_SPAN, "attributes": [{"key": 1, "value": {"stringValue": "x"}}]}),
            f"{SPAN_AT}.attributes[0].key: expected a string, got a number 1",
        ),
        (
            json_request({**BASE_SPAN, "attributes": [{"key": "a", "value": "x"}]}),
            f"{SPAN_AT}.attributes[0].value: expected an AnyValue object, got a string 'x'",
        ),
        (
            json_request({**BASE_SPAN, "attributes": [{"key": "a", "value": {"intValue": "1.5"}}]}),
            f"{SPAN_AT}.attributes[0].value.intValue: not an integer: '1.5'",
        ),
        (
            json_request(
                {**BASE_SPAN, "attributes": [{"key": "a", "value": {"intValue": str(2**63)}}]}
            ),
            f"{SPAN_AT}.attributes[0].value.intValue: {2**63} is out of range for int64",
        ),
        (
            json_request(
                {**BASE_SPAN, "attributes": [{"key": "a", "value": {"boolValue": "yes"}}]}
            ),
            f"{SPAN_AT}.attributes[0].value.boolValue: expected true or false, got a string 'yes'",
        ),
        (
            json_request(
                {**BASE_SPAN, "attributes": [{"key": "a", "value": {"doubleValue": "fast"}}]}
            ),
            f"{SPAN_AT}.attributes[0].value.doubleValue: expected a number, got a string 'fast'",
        ),
        (
            json_request(
                {**BASE_SPAN, "attributes": [{"key": "a", "value": {"bytesValue": "%%%"}}]}
            ),
            f"{SPAN_AT}.attributes[0].value.bytesValue: not base64: '%%%'",
        ),
        (
            json_request(
                {
                    **BASE_SPAN,
                    "attributes": [
                        {
                            "key": "a",
                            "value": {
                                "kvlistValue": {
                                    "values": [
                                        {"key": "ok", "value": {"stringValue": "x"}},
                                        {
                                            "key": "arr",
                                            "value": {
                                                "arrayValue": {"values": [{}, {"intValue": "x"}]}
                                            },
                                        },
                                    ]
                                }
                            },
                        }
                    ],
                }
            ),
            f"{SPAN_AT}.attributes[0].value.kvlistValue.values[1].value.arrayValue.values[1]"
            ".intValue: not an integer: 'x'",
        ),
        (
            json_request(
                {**BASE_SPAN, "events": [{"name": "e"}, {"name": "f", "timeUnixNano": "t"}]}
            ),
            f"{SPAN_AT}.events[1].timeUnixNano: not an integer: 't'",
        ),
        (
            json_request({**BASE_SPAN, "links": [{"traceId": TRACE_ID.hex(), "spanId": "xyz"}]}),
            f"{SPAN_AT}.links[0].spanId: not hex: 'xyz'",
        ),
        (
            json_request({**BASE_SPAN, "status": "ERROR"}),
            f"{SPAN_AT}.status: expected an object, got a string 'ERROR'",
        ),
        (
            json_request(BASE_SPAN, resource={"attributes": [{"key": "a", "value": 1}]}),
            "resourceSpans[0].resource.attributes[0].value: expected an AnyValue object",
        ),
        (
            orjson.dumps({"resourceSpans": [{"scopeSpans": [{"scope": {"name": 3}}]}]}),
            "resourceSpans[0].scopeSpans[0].scope.name: expected a string, got a number 3",
        ),
    ],
)
def test_json_errors_say_where_and_what(data: bytes, message: str) -> None:
    with pytest.raises(OTLPDecodeError) as info:
        decode_otlp_json(data)
    assert str(info.value).startswith(message), str(info.value)
    assert isinstance(info.value, ValueError)


def test_json_rejects_non_text_input() -> None:
    with pytest.raises(OTLPDecodeError, match="expected bytes or str, got int"):
        decode_otlp_json(123)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xff\xff\xff", "protobuf: Error parsing message"),
        (b"\x0a\x05\x12\x03", "protobuf: Error parsing message"),  # truncated ResourceSpans
    ],
)
def test_protobuf_errors(data: bytes, message: str) -> None:
    with pytest.raises(OTLPDecodeError, match=message):
        decode_otlp_protobuf(data)


def test_protobuf_rejects_text() -> None:
    with pytest.raises(OTLPDecodeError, match="protobuf: expected bytes, got str"):
        decode_otlp_protobuf("not bytes")  # type: ignore[arg-type]


def test_protobuf_accepts_bytearray_and_memoryview() -> None:
    data = encode_otlp_protobuf([SpanRecord(TRACE_ID, SPAN_ID, "s")])
    assert decode_otlp_protobuf(bytearray(data)) == decode_otlp_protobuf(memoryview(data))
    assert decode_otlp_protobuf(b"") == []


# ---------------------------------------------------------------------------------------
# Validity for partial success: decoders keep bad ids, span_problem explains them


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({}, None),
        ({"parent_span_id": PARENT_ID}, None),
        (
            {"trace_id": TRACE_ID[:15]},
            "trace id '5b8efff798038103d269b633813fc6' is 15 bytes, expected 16",
        ),
        ({"trace_id": bytes(16)}, "trace id is all zeros"),
        ({"span_id": b""}, "span id '' is 0 bytes, expected 8"),
        ({"span_id": bytes(8)}, "span id is all zeros"),
        ({"parent_span_id": b"\x01\x02"}, "parent span id '0102' is 2 bytes, expected 8 or none"),
    ],
)
def test_span_problem(changes: dict[str, Any], problem: str | None) -> None:
    span = replace(SpanRecord(TRACE_ID, SPAN_ID, "s"), **changes)
    assert span_problem(span) == problem
    # The decoders keep the span as it came; rejecting it is the receiver's call.
    assert decode_otlp_protobuf(encode_otlp_protobuf([span])) == [span]
    assert decode_otlp_json(encode_otlp_json([span])) == [span]


# ---------------------------------------------------------------------------------------
# The real SDK: its OTLP encoder, span_from_readable, span_to_readable


@pytest.fixture
def sdk_spans() -> Iterator[list[ReadableSpan]]:
    """Spans from a real TracerProvider: nesting, remote parent, events, links, limits."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource({"service.name": "svc", "deployment.environment": "test"}, "https://s/1"),
        span_limits=SpanLimits(max_span_attributes=8, max_events=2, max_links=1),
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("my.lib", "1.2.3", "https://s/scope", {"scope.attr": "x"})
    other = provider.get_tracer("other.lib")
    remote = SpanContext(
        int.from_bytes(TRACE_ID, "big"),
        int.from_bytes(PARENT_ID, "big"),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "abc"), ("k2", "v2")]),
    )
    linked = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1))
    ctx = trace_api.set_span_in_context(NonRecordingSpan(remote))
    with tracer.start_as_current_span(
        "chat gpt-4o",
        context=ctx,
        kind=trace_api.SpanKind.CLIENT,
        links=[Link(linked), Link(linked, {"link.attr": 1})],  # the first is dropped
        attributes={
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.request.temperature": 0.5,
            "gen_ai.request.stream": False,
            "gen_ai.response.finish_reasons": ["stop", "length"],
            "raw": b"\x00\x01",
            "nested": {"a": [1, 2], "b": {"c": "d"}},
        },
    ) as span:
        for n in range(4):  # two are dropped
            span.add_event(f"event {n}", {"n": n}, timestamp=1_700_000_000_000_000_000 + n)
        for n in range(5):  # four over the limit of 8: dropped
            span.set_attribute(f"extra.{n}", n)
        with other.start_as_current_span("tool", kind=trace_api.SpanKind.INTERNAL) as child:
            child.set_status(trace_api.Status(trace_api.StatusCode.ERROR, "tool failed"))
            child.record_exception(RuntimeError("boom"))
        with tracer.start_as_current_span("server", kind=trace_api.SpanKind.SERVER) as s2:
            s2.set_status(trace_api.StatusCode.OK)
    for kind in (trace_api.SpanKind.PRODUCER, trace_api.SpanKind.CONSUMER):
        tracer.start_span(kind.name.lower(), kind=kind).end()
    yield list(exporter.get_finished_spans())
    provider.shutdown()


def as_sdk_encoder_writes(span: SpanRecord) -> SpanRecord:
    """What opentelemetry-exporter-otlp-proto-common 1.45 leaves out: the W3C trace flags
    (low byte of `flags`) and link trace states. Everything else must match."""
    return replace(
        span,
        flags=span.flags & ~0xFF,
        links=[replace(ln, flags=ln.flags & ~0xFF, trace_state="") for ln in span.links],
    )


def test_sdk_encoder_output_decodes_to_span_from_readable(sdk_spans: list[ReadableSpan]) -> None:
    data = encode_spans(sdk_spans).SerializeToString()
    decoded = decode_otlp_protobuf(data)
    ours = [span_from_readable(s) for s in sdk_spans]
    assert same_spans(decoded, [as_sdk_encoder_writes(s) for s in ours])
    # And our own encoder writes the same request content, trace flags included.
    assert same_spans(decode_otlp_protobuf(encode_otlp_protobuf(ours)), ours)


def test_span_from_readable_fields(sdk_spans: list[ReadableSpan]) -> None:
    by_name = {s.name: span_from_readable(s) for s in sdk_spans}
    chat, tool, server = by_name["chat gpt-4o"], by_name["tool"], by_name["server"]
    assert chat.trace_id == TRACE_ID and chat.parent_span_id == PARENT_ID
    assert chat.flags == 0x301  # sampled, parent known to be remote
    assert chat.trace_state == "vendor=abc,k2=v2"
    assert chat.kind == SpanKind.CLIENT and server.kind == SpanKind.SERVER
    assert [by_name["producer"].kind, by_name["consumer"].kind] == [4, 5]
    assert typed(chat.attributes["gen_ai.response.finish_reasons"]) == typed(["stop", "length"])
    assert typed(chat.attributes["nested"]) == typed({"a": [1, 2], "b": {"c": "d"}})
    assert chat.attributes["raw"] == b"\x00\x01"
    assert (chat.dropped_attributes_count, chat.dropped_events_count) == (4, 2)
    assert chat.dropped_links_count == 1
    assert [e.name for e in chat.events] == ["event 2", "event 3"]
    assert chat.links == [SpanLink((0x1234).to_bytes(16, "big"), (0x5678).to_bytes(8, "big"),
                                   attributes={"link.attr": 1}, flags=0x301)]  # fmt: skip
    assert tool.parent_span_id == chat.span_id and tool.flags == 0x101
    assert (tool.status_code, tool.status_message) == (StatusCode.ERROR, "tool failed")
    assert tool.events[0].name == "exception"
    assert tool.scope_name == "other.lib" and tool.scope_version == ""
    assert (server.status_code, server.status_message) == (StatusCode.OK, "")
    assert chat.resource == {"service.name": "svc", "deployment.environment": "test"}
    assert chat.resource_schema_url == "https://s/1"
    assert (chat.scope_name, chat.scope_version) == ("my.lib", "1.2.3")
    assert (chat.scope_attributes, chat.scope_schema_url) == (
        {"scope.attr": "x"},
        "https://s/scope",
    )


def test_span_from_readable_of_an_unfinished_span() -> None:
    provider = TracerProvider()
    span = provider.get_tracer("t").start_span("open")
    record = span_from_readable(span)  # type: ignore[arg-type]
    assert record.end_time_unix_nano == 0 and record.start_time_unix_nano > 0
    assert record.parent_span_id == b"" and span_problem(record) is None
    span.end()


# Spans the SDK can hold exactly: 16/8-byte ids, kinds 1-5, a status message only with
# ERROR, W3C trace states, non-empty attribute keys.
sdk_keys = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=10)
sdk_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(sdk_keys, inner, max_size=3)
    ),
    max_leaves=8,
)
sdk_attributes = st.dictionaries(sdk_keys, sdk_values, max_size=5)
trace_states = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True),
    st.from_regex(r"[a-zA-Z0-9]{1,8}", fullmatch=True),
    max_size=3,
).map(lambda d: ",".join(f"{k}={v}" for k, v in d.items()))
remote_flags = st.sampled_from([0x100, 0x300])


@st.composite
def sdk_span_batches(draw: st.DrawFn, encoder_limits: bool) -> list[SpanRecord]:
    """With `encoder_limits`, also leave out what the SDK's OTLP encoder drops."""
    flat = st.dictionaries(sdk_keys, st.one_of(texts, st.integers(0, 99)), max_size=3)
    resources = draw(st.lists(st.tuples(flat, texts), min_size=1, max_size=2))
    scopes = draw(st.lists(st.tuples(texts, texts, flat, texts), min_size=1, max_size=2))
    low_byte = st.just(0) if encoder_limits else st.integers(0, 255)
    spans = []
    for _ in range(draw(st.integers(1, 4))):
        code = draw(st.integers(0, 2))
        parent = draw(st.one_of(st.just(b""), st.binary(min_size=8, max_size=8)))
        resource, resource_url = draw(st.sampled_from(resources))
        name, version, scope_attrs, scope_url = draw(st.sampled_from(scopes))
        span_links = [
            SpanLink(
                trace_id=draw(st.binary(min_size=16, max_size=16)),
                span_id=draw(st.binary(min_size=8, max_size=8)),
                trace_state="" if encoder_limits else draw(trace_states),
                attributes=draw(sdk_attributes),
                dropped_attributes_count=draw(st.integers(0, 3)),
                flags=draw(remote_flags) | draw(low_byte),
            )
            for _ in range(draw(st.integers(0, 2)))
        ]
        spans.append(
            SpanRecord(
                trace_id=draw(st.binary(min_size=16, max_size=16)),
                span_id=draw(st.binary(min_size=8, max_size=8)),
                name=draw(texts),
                parent_span_id=parent,
                kind=draw(st.integers(1, 5)),
                start_time_unix_nano=draw(u64),
                end_time_unix_nano=draw(u64),
                attributes=draw(sdk_attributes),
                events=[
                    SpanEvent(draw(texts), draw(u64), draw(sdk_attributes), draw(st.integers(0, 3)))
                    for _ in range(draw(st.integers(0, 2)))
                ],
                links=span_links,
                status_code=code,
                status_message=draw(texts) if code == StatusCode.ERROR else "",
                trace_state=draw(trace_states),
                flags=(draw(remote_flags) if parent else 0x100) | draw(low_byte),
                dropped_attributes_count=draw(st.integers(0, 3)),
                dropped_events_count=draw(st.integers(0, 3)),
                dropped_links_count=draw(st.integers(0, 3)),
                resource=dict(resource),
                resource_schema_url=resource_url,
                scope_name=name,
                scope_version=version,
                scope_attributes=dict(scope_attrs),
                scope_schema_url=scope_url,
            )
        )
    return spans


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(sdk_span_batches(encoder_limits=False))
def test_readable_round_trip(spans: list[SpanRecord]) -> None:
    readable = spans_to_readable(spans)
    assert all(isinstance(r, ReadableSpan) for r in readable)
    # Same order as given, whatever the grouping.
    assert [canon(span_from_readable(r)) for r in readable] == [canon(s) for s in spans]
    assert [canon(span_from_readable(span_to_readable(s))) for s in spans] == [
        canon(s) for s in spans
    ]


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(sdk_span_batches(encoder_limits=True))
def test_span_to_readable_through_the_sdk_encoder(spans: list[SpanRecord]) -> None:
    data = encode_spans(spans_to_readable(spans)).SerializeToString()
    assert same_spans(decode_otlp_protobuf(data), spans)


def test_span_to_readable_shares_resources_so_the_sdk_groups_them() -> None:
    spans = [
        SpanRecord(
            TRACE_ID, bytes([n]) * 8, f"s{n}", resource={"service.name": svc}, scope_name="l"
        )
        for n, svc in enumerate(["a", "b", "a"], start=1)
    ]
    readable = spans_to_readable(spans)
    assert readable[0].resource is readable[2].resource
    assert readable[0].instrumentation_scope is readable[2].instrumentation_scope
    request = encode_spans(readable)
    assert [len(rs.scope_spans[0].spans) for rs in request.resource_spans] == [2, 1]


def test_span_to_readable_what_the_sdk_cannot_hold() -> None:
    span = SpanRecord(
        TRACE_ID,
        SPAN_ID,
        "s",
        kind=SpanKind.UNSPECIFIED,
        status_code=StatusCode.OK,
        status_message="fine",
    )
    readable = span_to_readable(span)
    assert readable.kind is trace_api.SpanKind.INTERNAL
    assert readable.status.status_code is trace_api.StatusCode.OK
    assert readable.status.description is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"trace_id": b"\x01" * 15}, "trace id '010101010101010101010101010101' is 15 bytes"),
        ({"span_id": b""}, "span id '' is 0 bytes"),
        ({"parent_span_id": b"\x01"}, "parent span id '01' is 1 bytes"),
        ({"links": [SpanLink(TRACE_ID, b"\x02")]}, "link span id '02' is 1 bytes"),
    ],
)
def test_span_to_readable_rejects_ids_the_sdk_cannot_hold(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=f"span 's': {message}"):
        span_to_readable(replace(SpanRecord(TRACE_ID, SPAN_ID, "s"), **changes))


class _Collector(BaseHTTPRequestHandler):
    bodies: list[bytes]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        type(self).bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[bytes]]]:
    """A real HTTP server on a free 127.0.0.1 port that records OTLP request bodies."""
    bodies: list[bytes] = []
    handler = type("Handler", (_Collector,), {"bodies": bodies})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_span_records_export_through_the_real_otlp_http_exporter(
    collector: tuple[str, list[bytes]], sdk_spans: list[ReadableSpan]
) -> None:
    endpoint, bodies = collector
    records = [span_from_readable(s) for s in sdk_spans]
    exporter = OTLPSpanExporter(endpoint=endpoint, timeout=10)
    try:
        assert exporter.export(spans_to_readable(records)) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    assert len(bodies) == 1
    assert same_spans(decode_otlp_protobuf(bodies[0]), [as_sdk_encoder_writes(r) for r in records])


def test_span_records_export_through_the_console_exporter() -> None:
    out = io.StringIO()
    span = SpanRecord(
        TRACE_ID, SPAN_ID, "console me", attributes={"k": "v"}, resource={"service.name": "c"}
    )
    assert ConsoleSpanExporter(out=out).export([span_to_readable(span)]) is SpanExportResult.SUCCESS
    printed = orjson.loads(out.getvalue())
    assert printed["name"] == "console me"
    assert printed["context"]["trace_id"] == "0x" + TRACE_ID.hex()
    assert printed["attributes"] == {"k": "v"}
    assert printed["resource"]["attributes"] == {"service.name": "c"}
