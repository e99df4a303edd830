"""The two shapes everything converts between: a neutral OTel span and a run.

`SpanRecord` is one OpenTelemetry span with plain values (ids as bytes, times in
nanoseconds, a flat attribute dict). Every carrier of spans (the SDK's ReadableSpan,
OTLP protobuf, OTLP/JSON) converts to and from it in `otel_llm.otlp`.

`Run` is one step of a trace in the run/trace data format that LangSmith's SDK writes
and reads. `Run.to_dict` / `Run.from_dict` produce and accept the SDK's JSON shape.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypedDict, cast

from otel_llm.ids import uuid_str

AttributeValue = Any
"""An attribute value: str, bool, int, float, bytes, a list of those, or a dict (kvlist)."""

Attributes = dict[str, AttributeValue]


class SpanKind(enum.IntEnum):
    """OTLP span kinds (the protobuf enum values, not the SDK's)."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


class StatusCode(enum.IntEnum):
    """OTLP status codes (the protobuf enum values)."""

    UNSET = 0
    OK = 1
    ERROR = 2


@dataclass(slots=True)
class SpanEvent:
    name: str
    time_unix_nano: int
    attributes: Attributes = field(default_factory=dict)
    dropped_attributes_count: int = 0


@dataclass(slots=True)
class SpanLink:
    trace_id: bytes
    span_id: bytes
    trace_state: str = ""
    attributes: Attributes = field(default_factory=dict)
    dropped_attributes_count: int = 0
    flags: int = 0


@dataclass(slots=True)
class SpanRecord:
    """One OpenTelemetry span, carrier-neutral.

    Args:
        trace_id: 16 bytes.
        span_id: 8 bytes.
        parent_span_id: 8 bytes, or b"" for a root span.
        start_time_unix_nano / end_time_unix_nano: epoch nanoseconds.
        resource: the resource attributes of the span's producer.
        scope_name / scope_version / scope_attributes: the instrumentation scope.
    """

    trace_id: bytes
    span_id: bytes
    name: str
    parent_span_id: bytes = b""
    kind: int = SpanKind.INTERNAL
    start_time_unix_nano: int = 0
    end_time_unix_nano: int = 0
    attributes: Attributes = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    links: list[SpanLink] = field(default_factory=list)
    status_code: int = StatusCode.UNSET
    status_message: str = ""
    trace_state: str = ""
    flags: int = 0
    dropped_attributes_count: int = 0
    dropped_events_count: int = 0
    dropped_links_count: int = 0
    resource: Attributes = field(default_factory=dict)
    resource_schema_url: str = ""
    scope_name: str = ""
    scope_version: str = ""
    scope_attributes: Attributes = field(default_factory=dict)
    scope_schema_url: str = ""


def span_record(
    trace_id: bytes,
    span_id: bytes,
    name: str,
    parent_span_id: bytes,
    kind: int,
    start_time_unix_nano: int,
    end_time_unix_nano: int,
    attributes: Attributes,
    events: list[SpanEvent],
    links: list[SpanLink],
    status_code: int,
    status_message: str,
    trace_state: str,
    flags: int,
    dropped_attributes_count: int,
    dropped_events_count: int,
    dropped_links_count: int,
    resource: Attributes,
    resource_schema_url: str,
    scope_name: str,
    scope_version: str,
    scope_attributes: Attributes,
    scope_schema_url: str,
) -> SpanRecord:
    """A SpanRecord from all of its fields, in declaration order: how the decoders build
    one.

    Every field is required, so a decoder cannot leave one to its default by mistake.
    Callers pass them positionally (keywords cost ~1 µs a span on the decode paths);
    this signature, SpanRecord's field order and the order the C decoder builds one in
    are held equal by tests/test_otlp.py.
    """
    return SpanRecord(
        trace_id,
        span_id,
        name,
        parent_span_id,
        kind,
        start_time_unix_nano,
        end_time_unix_nano,
        attributes,
        events,
        links,
        status_code,
        status_message,
        trace_state,
        flags,
        dropped_attributes_count,
        dropped_events_count,
        dropped_links_count,
        resource,
        resource_schema_url,
        scope_name,
        scope_version,
        scope_attributes,
        scope_schema_url,
    )


class ObservationType(str, enum.Enum):
    """What a step is, in Langfuse's words; `run_type` says the same in LangSmith's."""

    GENERATION = "generation"
    EMBEDDING = "embedding"  # a sub-type of generation
    RETRIEVER = "retriever"
    TOOL = "tool"
    AGENT = "agent"  # a sub-type of span
    SPAN = "span"


RUN_TYPES = ("llm", "chain", "tool", "retriever", "embedding", "prompt", "parser")

# The run_type each observation type becomes when nothing more precise is known.
RUN_TYPE_OF: dict[ObservationType, str] = {
    ObservationType.GENERATION: "llm",
    ObservationType.EMBEDDING: "embedding",
    ObservationType.RETRIEVER: "retriever",
    ObservationType.TOOL: "tool",
    ObservationType.AGENT: "chain",
    ObservationType.SPAN: "chain",
}

# The observation type of each run_type (agent is recorded separately, in metadata).
OBSERVATION_OF: dict[str, ObservationType] = {
    "llm": ObservationType.GENERATION,
    "embedding": ObservationType.EMBEDDING,
    "retriever": ObservationType.RETRIEVER,
    "tool": ObservationType.TOOL,
    "chain": ObservationType.SPAN,
    "prompt": ObservationType.SPAN,
    "parser": ObservationType.SPAN,
}


def ns_to_iso(ns: int) -> str:
    """Epoch nanoseconds -> ISO 8601 with offset and microseconds, as the SDK writes."""
    secs, rem = divmod(ns, 1_000_000_000)
    dt = datetime.fromtimestamp(secs, tz=timezone.utc).replace(microsecond=rem // 1000)
    return dt.isoformat(timespec="microseconds")


def iso_to_ns(value: str | datetime) -> int:
    """ISO 8601 (with or without offset; naive means UTC) -> epoch nanoseconds."""
    if isinstance(value, datetime):
        dt = value
    else:
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    # Integer arithmetic: a float timestamp would lose microseconds.
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class OtelExtra(TypedDict, total=False):
    """`run.extra["otel"]`: what a run made from a span keeps of the span where the run
    format has no field for it, only where it differs from what `run_to_span` derives
    (see `otel_llm.convert`). Hex ids, and the span's own values otherwise."""

    trace_id: str
    span_id: str
    parent_span_id: str
    # Made before its ancestors were all known: the trace id is provisional and the
    # dotted order starts at the topmost ancestor known (a store completes both).
    incomplete: bool
    name: str
    kind: int
    status: dict[str, Any]  # {"code", "message"}
    start_time_unix_nano: int  # when not a whole microsecond
    end_time_unix_nano: int
    attributes: dict[str, Any]  # the attributes no reader mapped
    links: list[dict[str, Any]]
    resource: dict[str, Any]
    scope: dict[str, Any]
    flags: int
    trace_state: str
    resource_schema_url: str
    dropped_attributes_count: int
    dropped_events_count: int
    dropped_links_count: int


# Where a run's `extra` names its model, the most specific first: LangSmith's
# `metadata.ls_model_name`, then the invocation parameters.
MODEL_NAME_KEYS: tuple[tuple[str, str], ...] = (
    ("metadata", "ls_model_name"),
    ("invocation_params", "model"),
    ("invocation_params", "model_name"),
    ("invocation_params", "model_id"),
)


def model_names(extra: Mapping[str, Any]) -> Iterator[str]:
    """The names a run's `extra` gives its model (`MODEL_NAME_KEYS`), in order."""
    for part, key in MODEL_NAME_KEYS:
        found = extra.get(part)
        if isinstance(found, dict):
            name = found.get(key)
            if isinstance(name, str):
                yield name


def mark_incomplete(extra: dict[str, Any], incomplete: bool) -> None:
    """Set `extra["otel"]["incomplete"]` from the store's flag, which is the truth: a tree
    completed since the run was made clears it (runs not made from a span have no otel)."""
    otel = extra.get("otel")
    if isinstance(otel, dict):
        if incomplete:
            otel["incomplete"] = True
        else:
            otel.pop("incomplete", None)


def total_tokens(input_tokens: Any, output_tokens: Any, reported: Any = None) -> Any:
    """A run's total tokens: the total it reported, else input plus output tokens when
    either is known (None when neither is)."""
    if reported is not None:
        return reported
    if input_tokens is None and output_tokens is None:
        return None
    return (input_tokens or 0) + (output_tokens or 0)


@dataclass(slots=True)
class Run:
    """One run of the run/trace data format.

    Times are epoch nanoseconds here (OTel precision); the JSON shape carries ISO 8601
    with microseconds, and `span_to_run` keeps any sub-microsecond rest in
    `extra["otel"]` so that a span survives the trip.

    Usage lives where the SDK puts it: `outputs["usage_metadata"]` for the LLM's own
    report, mirrored by `extra["metadata"]["usage_metadata"]`.
    """

    id: uuid.UUID
    name: str
    run_type: str = "chain"
    trace_id: uuid.UUID | None = None
    parent_run_id: uuid.UUID | None = None
    dotted_order: str | None = None
    start_time_ns: int = 0
    end_time_ns: int | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    serialized: dict[str, Any] | None = None
    session_name: str | None = None
    session_id: uuid.UUID | None = None
    reference_example_id: uuid.UUID | None = None
    # Attachment metadata only ({name: {"mime_type": ..., "size": ...}}); bytes travel
    # with the ingest API, not with the run.
    attachments: dict[str, Any] = field(default_factory=dict)

    @property
    def metadata(self) -> dict[str, Any]:
        """`extra["metadata"]`, created on first use."""
        md: dict[str, Any] = self.extra.setdefault("metadata", {})
        return md

    @property
    def start_time(self) -> datetime:
        secs, rem = divmod(self.start_time_ns, 1_000_000_000)  # no float: keep microseconds
        return datetime.fromtimestamp(secs, tz=timezone.utc).replace(microsecond=rem // 1000)

    @property
    def usage(self) -> dict[str, Any] | None:
        """The run's usage_metadata, wherever the producer put it."""
        if self.outputs and isinstance(self.outputs.get("usage_metadata"), dict):
            u: dict[str, Any] = self.outputs["usage_metadata"]
            return u
        md = self.extra.get("metadata")
        if isinstance(md, dict) and isinstance(md.get("usage_metadata"), dict):
            mu: dict[str, Any] = md["usage_metadata"]
            return mu
        return None

    @property
    def model_name(self) -> str | None:
        """The name of the run's model: the first of `model_names`, or None."""
        extra = self.extra
        for part, key in MODEL_NAME_KEYS:  # model_names without a generator: hot path
            found = extra.get(part)
            if isinstance(found, dict):
                name = found.get(key)
                if isinstance(name, str):
                    return name
        return None

    @property
    def otel(self) -> OtelExtra:
        """`extra["otel"]`: what the run keeps of its span (empty for other runs)."""
        otel = self.extra.get("otel")
        return cast(OtelExtra, otel) if isinstance(otel, dict) else {}

    @property
    def otel_incomplete(self) -> bool:
        """The run was made before its ancestors were all known (see `OtelExtra`)."""
        otel = self.extra.get("otel")  # not self.otel: this one is on hot paths
        return isinstance(otel, dict) and bool(otel.get("incomplete"))

    def to_dict(self) -> dict[str, Any]:
        """The SDK's JSON shape: UUIDs as strings, times as ISO 8601 with offset."""
        d: dict[str, Any] = {
            "id": uuid_str(self.id),
            "name": self.name,
            "run_type": self.run_type,
            "trace_id": uuid_str(self.trace_id) if self.trace_id else None,
            "parent_run_id": uuid_str(self.parent_run_id) if self.parent_run_id else None,
            "dotted_order": self.dotted_order,
            "start_time": ns_to_iso(self.start_time_ns),
            "end_time": ns_to_iso(self.end_time_ns) if self.end_time_ns is not None else None,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "error": self.error,
            "extra": self.extra,
            "tags": self.tags,
            "events": self.events,
            "serialized": self.serialized,
            "session_name": self.session_name,
            "session_id": str(self.session_id) if self.session_id else None,
            "reference_example_id": (
                str(self.reference_example_id) if self.reference_example_id else None
            ),
            "attachments": self.attachments,
        }
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Run:
        """Accepts the SDK's JSON shape (and its aliases project_name / project_id).

        Raises:
            ValueError: when `id`, `name` or a time is missing or malformed.
        """
        try:
            run_id = _uuid(d["id"])
        except KeyError:
            raise ValueError("run has no 'id'") from None
        if run_id is None:
            raise ValueError("run has no 'id'")
        name = d.get("name")
        if not isinstance(name, str):
            raise ValueError(f"run {run_id}: 'name' must be a string, got {name!r}")
        start = d.get("start_time")
        if start is None:
            raise ValueError(f"run {run_id}: 'start_time' is missing")
        try:
            start_ns = iso_to_ns(start)
            end = d.get("end_time")
            end_ns = iso_to_ns(end) if end is not None else None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"run {run_id}: bad time: {exc}") from None
        outputs = d.get("outputs")
        if outputs is not None and not isinstance(outputs, dict):
            outputs = {"output": outputs}
        inputs = d.get("inputs")
        if inputs is None:
            inputs = {}
        elif not isinstance(inputs, dict):
            inputs = {"input": inputs}
        return cls(
            id=run_id,
            name=name,
            run_type=d.get("run_type") or "chain",
            trace_id=_uuid(d.get("trace_id")),
            parent_run_id=_uuid(d.get("parent_run_id")),
            dotted_order=d.get("dotted_order") or None,
            start_time_ns=start_ns,
            end_time_ns=end_ns,
            inputs=inputs,
            outputs=outputs,
            error=d.get("error"),
            extra=d.get("extra") or {},
            tags=list(d.get("tags") or []),
            events=list(d.get("events") or []),
            serialized=d.get("serialized"),
            session_name=d.get("session_name") or d.get("project_name"),
            session_id=_uuid(d.get("session_id") or d.get("project_id")),
            reference_example_id=_uuid(d.get("reference_example_id")),
            attachments=dict(d.get("attachments") or {}),
        )


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValueError(f"not a UUID: {value!r}") from None
