"""OTLP logs: an `ExportLogsServiceRequest` (protobuf or OTLP/JSON) -> `LogRecord`s.

A `LogRecord` is the small, carrier-neutral part of an OTLP log record that joining an
event to its span needs: time, span context, event name (the `event_name` field, or the
`event.name` attribute older SDKs set), attributes, body, resource and scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from otel_llm.model import Attributes, SpanEvent, SpanRecord
from otel_llm.otlp.common import OTLPDecodeError
from otel_llm.otlp.json import (
    _array,
    _hex,
    _json_attrs_at,
    _json_fields,
    _json_list,
    _json_value,
    _object,
    _str,
    _u64,
)
from otel_llm.otlp.protobuf import _pb_attrs, _pb_value

EVENT_NAME_ATTRIBUTE = "event.name"


@dataclass(slots=True)
class LogRecord:
    """One OTLP log record, carrier-neutral.

    Args:
        time_unix_nano: the record's time (its observed time when the time is unset).
        trace_id / span_id: the span context (b"" when the record has none).
        event_name: the `event_name` field, else the `event.name` attribute, else "".
        attributes: the record's attributes (without `event.name`).
        body: the body as a plain value (a kvlist is a dict).
        resource: the producer's resource attributes.
        scope_name / scope_version: the instrumentation scope.
        severity_text: as sent.
    """

    time_unix_nano: int = 0
    trace_id: bytes = b""
    span_id: bytes = b""
    event_name: str = ""
    attributes: Attributes = field(default_factory=dict)
    body: Any = None
    resource: Attributes = field(default_factory=dict)
    scope_name: str = ""
    scope_version: str = ""
    severity_text: str = ""

    @property
    def has_span(self) -> bool:
        """Whether the record names a valid span (16-byte trace id, 8-byte span id)."""
        return (
            len(self.trace_id) == 16
            and len(self.span_id) == 8
            and any(self.trace_id)
            and any(self.span_id)
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (ids in hex), read back by `from_dict`."""
        return {
            "time_unix_nano": self.time_unix_nano,
            "trace_id": self.trace_id.hex(),
            "span_id": self.span_id.hex(),
            "event_name": self.event_name,
            "attributes": self.attributes,
            "body": self.body,
            "resource": self.resource,
            "scope_name": self.scope_name,
            "scope_version": self.scope_version,
            "severity_text": self.severity_text,
        }

    def event_attributes(self) -> dict[str, Any]:
        """The record as a span event's attributes: its attributes and, for a map body,
        the body's keys (a GenAI event puts its content in the body of a log record and
        in the attributes of a span event); any other body is `content`."""
        attrs = dict(self.attributes)
        if isinstance(self.body, dict):
            attrs.update(self.body)
        elif self.body is not None:
            attrs.setdefault("content", self.body)
        return attrs

    def is_gen_ai(self) -> bool:
        """Whether the record is a GenAI event (a gen_ai.* event name or attributes)."""
        return self.event_name.startswith("gen_ai.") or any(
            k.startswith("gen_ai.") for k in self.attributes
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogRecord:
        return cls(
            time_unix_nano=int(d.get("time_unix_nano") or 0),
            trace_id=bytes.fromhex(d.get("trace_id") or ""),
            span_id=bytes.fromhex(d.get("span_id") or ""),
            event_name=str(d.get("event_name") or ""),
            attributes=dict(d.get("attributes") or {}),
            body=d.get("body"),
            resource=dict(d.get("resource") or {}),
            scope_name=str(d.get("scope_name") or ""),
            scope_version=str(d.get("scope_version") or ""),
            severity_text=str(d.get("severity_text") or ""),
        )


def _record(
    time_ns: int,
    observed_ns: int,
    trace_id: bytes,
    span_id: bytes,
    event_name: str,
    attributes: Attributes,
    body: Any,
    resource: Attributes,
    scope: tuple[str, str],
    severity_text: str,
) -> LogRecord:
    named = attributes.pop(EVENT_NAME_ATTRIBUTE, None)
    if not event_name and isinstance(named, str):
        event_name = named
    elif named is not None and named != event_name:
        attributes[EVENT_NAME_ATTRIBUTE] = named  # a different name: keep it
    return LogRecord(
        time_unix_nano=time_ns or observed_ns,
        trace_id=trace_id,
        span_id=span_id,
        event_name=event_name,
        attributes=attributes,
        body=body,
        resource=resource,
        scope_name=scope[0],
        scope_version=scope[1],
        severity_text=severity_text,
    )


def decode_logs_protobuf(data: bytes | bytearray | memoryview) -> list[LogRecord]:
    """Decode the bytes of an OTLP `ExportLogsServiceRequest`.

    Raises:
        OTLPDecodeError: when the bytes are not an ExportLogsServiceRequest.
    """
    try:
        request = ExportLogsServiceRequest.FromString(bytes(data))
    except DecodeError as exc:
        raise OTLPDecodeError("", f"protobuf: {exc}") from None
    out: list[LogRecord] = []
    for rl in request.resource_logs:
        resource = _pb_attrs(rl.resource.attributes)
        for sl in rl.scope_logs:
            scope = (sl.scope.name, sl.scope.version)
            for r in sl.log_records:
                out.append(
                    _record(
                        r.time_unix_nano,
                        r.observed_time_unix_nano,
                        r.trace_id,
                        r.span_id,
                        r.event_name,
                        _pb_attrs(r.attributes),
                        _pb_value(r.body) if r.HasField("body") else None,
                        resource,
                        scope,
                        r.severity_text,
                    )
                )
    return out


_SNAKE = {
    "resource_logs": "resourceLogs",
    "scope_logs": "scopeLogs",
    "log_records": "logRecords",
    "time_unix_nano": "timeUnixNano",
    "observed_time_unix_nano": "observedTimeUnixNano",
    "trace_id": "traceId",
    "span_id": "spanId",
    "event_name": "eventName",
    "severity_text": "severityText",
    "severity_number": "severityNumber",
}


def _fields(raw: Any, where: str = "") -> dict[str, Any]:
    d = _json_fields(raw, where)
    return {_SNAKE.get(k, k): v for k, v in d.items()}


def _json_log(raw: Any, resource: Attributes, scope: tuple[str, str]) -> LogRecord:
    d = _fields(raw)
    try:
        body = _json_value(d.get("body"))
    except OTLPDecodeError as exc:
        raise exc.within("body") from None
    return _record(
        _u64(d.get("timeUnixNano", 0), "timeUnixNano"),
        _u64(d.get("observedTimeUnixNano", 0), "observedTimeUnixNano"),
        _hex(d.get("traceId"), "traceId"),
        _hex(d.get("spanId"), "spanId"),
        _str(d.get("eventName"), "eventName"),
        _json_attrs_at(d.get("attributes"), "attributes"),
        body,
        resource,
        scope,
        _str(d.get("severityText"), "severityText"),
    )


def _json_scope_logs(raw: Any, resource: Attributes) -> list[LogRecord]:
    d = _fields(raw)
    scope = d.get("scope")
    info = ("", "")
    if scope is not None:
        scope = _object(scope, "scope")
        info = (_str(scope.get("name"), "scope.name"), _str(scope.get("version"), "scope.version"))
    return _json_list(d.get("logRecords"), "logRecords", lambda r: _json_log(r, resource, info))


def _json_resource_logs(raw: Any) -> list[LogRecord]:
    d = _fields(raw)
    resource = d.get("resource")
    attrs = (
        {}
        if resource is None
        else _json_attrs_at(_object(resource, "resource").get("attributes"), "resource.attributes")
    )
    out: list[LogRecord] = []
    for group in _json_list(d.get("scopeLogs"), "scopeLogs", lambda s: _json_scope_logs(s, attrs)):
        out.extend(group)
    return out


def logs_from_json_doc(doc: Any) -> list[LogRecord]:
    """The log records of a parsed OTLP/JSON document (its `resourceLogs`)."""
    top = _fields(doc)
    if top.get("resourceLogs") is None:
        return []
    out: list[LogRecord] = []
    for group in _json_list(
        _array(top.get("resourceLogs"), "resourceLogs"), "resourceLogs", _json_resource_logs
    ):
        out.extend(group)
    return out


def decode_logs_json(data: bytes | bytearray | memoryview | str) -> list[LogRecord]:
    """Decode an OTLP/JSON `ExportLogsServiceRequest` (same rules as `decode_otlp_json`).

    Raises:
        OTLPDecodeError: when the input is not JSON or not a logs export request.
    """
    try:
        doc = orjson.loads(bytes(data) if isinstance(data, memoryview) else data)
    except orjson.JSONDecodeError as exc:
        raise OTLPDecodeError("", f"not valid JSON at byte {exc.pos}: {exc.msg}") from None
    return logs_from_json_doc(doc)


def span_attributes_of(record: LogRecord) -> dict[str, Any]:
    """What a GenAI record says of its span's operation: its attributes (the 1.37+
    details record carries the messages, model, usage and provider keys there), without
    the event's own name and an evaluation's result, which judge the span."""
    return {
        k: v
        for k, v in record.attributes.items()
        if k != "event.name" and not k.startswith("gen_ai.evaluation.")
    }


def apply_to_span(span: SpanRecord, records: list[LogRecord]) -> None:
    """Make GenAI records part of their span: each a span event (time order kept), and
    their `span_attributes_of` span attributes where the span has none."""
    for record in records:
        span.events.append(
            SpanEvent(
                record.event_name,
                record.time_unix_nano or span.start_time_unix_nano,
                record.event_attributes(),
            )
        )
        for key, value in span_attributes_of(record).items():
            span.attributes.setdefault(key, value)
    span.events.sort(key=lambda e: e.time_unix_nano)


def attach_to_spans(spans: list[SpanRecord], records: list[LogRecord]) -> list[LogRecord]:
    """Apply each GenAI record to its span (`apply_to_span`); returns the records that
    found no span (no span context, not GenAI, or their span is absent)."""
    by_span = {(s.trace_id, s.span_id): s for s in spans}
    left: list[LogRecord] = []
    found: dict[tuple[bytes, bytes], list[LogRecord]] = {}
    for record in records:
        key = (record.trace_id, record.span_id)
        if not record.has_span or key not in by_span or not record.is_gen_ai():
            left.append(record)
        else:
            found.setdefault(key, []).append(record)
    for key, joined in found.items():
        apply_to_span(by_span[key], joined)
    return left
