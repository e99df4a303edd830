"""What every convention module shares: the object that describes a convention, the
record its reader fills, and small helpers.

A convention module (one per producer: gen_ai, openinference, traceloop, ...) defines
one `CONVENTION = Convention(...)`: the namespaces it reads, its kind tables, the keys
that mark a model call, name run ids, its reader and, where the project emits the
convention, its writer. `otel_llm.convert` ranks them (reading and classification
precedence); nothing else needs to know a convention exists.

Classification (which observation type a span is) is not done by readers: it is one
table in `otel_llm.convert`, built from the conventions' kind tables.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import orjson

from otel_llm.model import Attributes, ObservationType, Run, SpanRecord

V = TypeVar("V")

# Short names for the kind tables of every convention module.
G = ObservationType.GENERATION
E = ObservationType.EMBEDDING
R = ObservationType.RETRIEVER
T = ObservationType.TOOL
A = ObservationType.AGENT
S = ObservationType.SPAN

Kind = tuple[ObservationType, "str | None"]
"""What a span is: its observation type, and its run_type when the convention says it."""

KindTable = Mapping[str, Kind]
"""An attribute's value (or, for markers, an attribute key) -> the kind it means."""

# The Extraction fields that hold one fact each: readers set them with `set_fact`.
Fact = Literal[
    "model",
    "response_model",
    "provider",
    "tags",
    "run_id",
    "trace_id",
    "parent_run_id",
    "dotted_order",
    "session_name",
    "session_id",
    "attachments",
    "name",
    "error",
]

# Values at or above this size that fail to parse are reported by size, not echoed.
_ECHO_LIMIT = 200


@dataclass(slots=True)
class Extraction:
    """What the readers learn about one span.

    Every field starts empty; readers run in precedence order and each sets only what
    is still empty, so the first reader that knows a fact wins. `consumed` names the
    attributes that were mapped onto run fields; everything else is kept verbatim in
    `run.extra["otel"]["attributes"]`.
    """

    span: SpanRecord
    observation: ObservationType | None = None
    run_type: str | None = None
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    model: str | None = None
    response_model: str | None = None
    provider: str | None = None
    invocation_params: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] | None = None  # exact `run.extra` (without "otel") when known
    tags: list[str] | None = None
    run_id: uuid.UUID | None = None
    trace_id: uuid.UUID | None = None
    parent_run_id: uuid.UUID | None = None
    dotted_order: str | None = None
    session_name: str | None = None
    session_id: uuid.UUID | None = None
    reference_example_id: uuid.UUID | None = None
    serialized: dict[str, Any] | None = None
    attachments: dict[str, Any] | None = None
    name: str | None = None  # the run's name when it differs from the span's
    unfinished: bool = False  # the run had no end time
    incomplete: bool = False  # the run's ancestors were not all known when it was made
    error: str | None = None
    # Unmapped attributes of the run's span that a writer overwrote (otel_llm.span.replaced):
    # they go back to `run.extra["otel"]["attributes"]`.
    replaced: dict[str, Any] | None = None
    skip: bool = False  # e.g. Logfire pending spans, which duplicate a real span
    consumed: set[str] = field(default_factory=set)
    # Rarely needed: None until a reader adds one (fewer objects for the collector).
    consumed_events: set[int] | None = None  # indexes into span.events
    run_events: list[dict[str, Any]] | None = None
    problems: list[str] | None = None
    # Shared by every span with the same attribute keys: readers keep what the keys
    # alone decide here (see openinference.flattened), so it is worked out once.
    shape_memo: dict[object, Any] = field(default_factory=dict)

    @property
    def attrs(self) -> Attributes:
        return self.span.attributes

    def set_fact(self, fact: Fact, value: Any) -> None:
        """Set one fact unless an earlier reader did: the first reader that knows it wins."""
        if value is not None and getattr(self, fact) is None:
            setattr(self, fact, value)

    def present(self, table: Mapping[str, V]) -> list[tuple[str, V]]:
        """The entries of a table keyed by attribute whose keys this span has, in the
        table's order. Which keys a span has is its shape: found once per shape (so
        `table` must be a module-level constant: its id names it in the memo)."""
        found: list[tuple[str, V]] | None = self.shape_memo.get(id(table))  # tables live on
        if found is None:
            a = self.span.attributes
            found = self.shape_memo[id(table)] = [(k, v) for k, v in table.items() if k in a]
        return found

    def take(self, key: str) -> Any:
        """The attribute's value (None when absent), marked as mapped."""
        value = self.span.attributes.get(key)
        if value is not None:
            self.consumed.add(key)
        return value

    def take_json(self, key: str) -> Any:
        """An attribute that holds JSON text (or an already structured value).

        A value that does not parse is NOT consumed: it stays, raw, in the run's
        `extra.otel.attributes`, and the problem is noted in the run's metadata.
        """
        value = self.span.attributes.get(key)
        if value is None:
            return None
        if not isinstance(value, (str, bytes)):
            self.consumed.add(key)
            return value
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            self.problem(key, f"is not valid JSON ({exc})", value)
            return None
        self.consumed.add(key)
        return parsed

    def take_indexed(self, prefix: str) -> dict[int, dict[str, Any]]:
        """Flattened list attributes `prefix{i}.rest`, re-nested and marked as mapped."""
        found = indexed(self.span.attributes, prefix)
        if found:
            n = len(prefix)
            for key in self.span.attributes:
                if key.startswith(prefix) and key[n : n + 1].isdigit():
                    self.consumed.add(key)
        return found

    def problem(self, key: str, what: str, value: Any = None) -> None:
        """Record a malformed value; the conversion goes on."""
        if value is not None:
            text = repr(value)
            shown = text if len(text) <= _ECHO_LIMIT else f"<{len(text)} chars>"
            self.note(f"{key} {what}: {shown}")
        else:
            self.note(f"{key} {what}")

    def note(self, problem: str) -> None:
        """Record a problem, in words (it goes to the run's metadata)."""
        if self.problems is None:
            self.problems = []
        self.problems.append(problem)

    def consume_events(self, indexes: Iterable[int]) -> None:
        """Mark events (indexes into span.events) as mapped: they become no run event."""
        if self.consumed_events is None:
            self.consumed_events = set()
        self.consumed_events.update(indexes)

    def add_run_event(self, event: dict[str, Any]) -> None:
        """A run event (e.g. LangSmith's `new_token`) a reader derived."""
        if self.run_events is None:
            self.run_events = []
        self.run_events.append(event)

    def set_inputs(self, value: Any) -> None:
        if self.inputs is None and value is not None:
            self.inputs = as_dict(value, "input")

    def set_outputs(self, value: Any) -> None:
        if self.outputs is None and value is not None:
            self.outputs = as_dict(value, "output")

    def set_metadata(self, key: str, value: Any) -> None:
        if value is not None:
            self.metadata.setdefault(key, value)

    def set_usage(self, key: str, value: Any) -> None:
        """Set one usage_metadata number (`input_tokens`, ...) if not yet known."""
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            try:
                value = int(value)
            except (TypeError, ValueError, OverflowError):
                self.problem(f"usage.{key}", "is not a number", value)
                return
        elif isinstance(value, float) and not math.isfinite(value):
            self.problem(f"usage.{key}", "is not a number", value)
            return
        self.usage.setdefault(key, value)

    def set_usage_detail(self, group: str, key: str, value: Any) -> None:
        """Set `input_token_details[key]` / `output_token_details[key]` if not yet known."""
        if value is None:
            return
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):  # NaN is a ValueError, inf overflows
            self.problem(f"usage.{group}.{key}", "is not a number", value)
            return
        self.usage.setdefault(group, {}).setdefault(key, number)


def as_dict(value: Any, key: str) -> dict[str, Any]:
    """Runs carry dicts: wrap anything else as `{key: value}`, as the SDK does."""
    if isinstance(value, dict):
        return value
    return {key: value}


def loads_maybe(value: Any) -> Any:
    """Parse JSON text if it is JSON, else return the value unchanged (never raises)."""
    if isinstance(value, str) and value[:1] in ("{", "[", '"'):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def dumps(value: Any) -> str:
    """Compact JSON text, as the project writes every JSON-valued attribute."""
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:  # e.g. integers beyond 64 bits, which only the stdlib writes
        return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))


def indexed(attrs: Attributes, prefix: str) -> dict[int, dict[str, Any]]:
    """Re-nest flattened list attributes: `prefix.{i}.rest` -> {i: {rest: value}}.

    Keys are returned as found (`rest` may itself contain further `.{j}.` levels).
    """
    out: dict[int, dict[str, Any]] = {}
    n = len(prefix)
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        idx, _, rest = key[n:].partition(".")
        if not idx.isdigit():
            continue
        out.setdefault(int(idx), {})[rest] = value
    return out


@dataclass(slots=True)
class RunFacts:
    """What the writers need to know about a run, worked out once per run."""

    observation: ObservationType
    model: str | None = None
    provider: str | None = None
    invocation_params: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] | None = None
    response_model: str | None = None  # the model that answered, when it differs
    input_messages: list[dict[str, Any]] | None = None  # official {role, parts}
    output_messages: list[dict[str, Any]] | None = None
    tool_arguments: str | None = None
    tool_result: str | None = None
    retrieval_query: str | None = None
    retrieval_documents: list[Any] | None = None
    span_name: str = ""  # the name the span gets
    session: str | None = None  # otel_llm.sessions.session_of the run's metadata
    operation: str | None = None  # the official operation name (None for plain spans)
    # False when the span written on has ids of its own (a live span): the run's would
    # only repeat them, and a LangSmith backend trusts them over the span's.
    ids: bool = True


Reader = Callable[[Extraction], None]
Writer = Callable[[Run, RunFacts, dict[str, Any]], None]


@dataclass(frozen=True, slots=True, eq=False)  # one object per module: identity is equality
class Convention:
    """One convention, whole: what `otel_llm.convert` needs to read and write it.

    Args:
        name: the family name (`run_to_span(emit=...)` takes it for writers).
        namespaces: the first dotted segments of the attribute keys (and event names)
            it reads; its reader runs only on spans that have one of them.
        read: fills the fields of an `Extraction` that are still empty, taking
            attributes with `x.take(...)` so that what it maps is not kept twice.
        kinds: (attribute key, value -> kind) tables, in precedence order.
        markers: attribute keys whose mere presence marks a kind (for producers that
            write no kind key).
        model_keys / usage_keys: keys that name a model / report token usage; a span
            with one of each and no other kind is a generation.
        id_keys: keys through which a span names its own run ids (or dotted order);
            such a span's ids come from the converter, never from its span ids alone.
        dotted_order_key: the key holding a run's whole dotted order (the run is placed
            in its tree without its ancestors).
        write: writes the convention's keys for a run, where the project emits it.
    """

    name: str
    namespaces: frozenset[str]
    read: Reader
    kinds: tuple[tuple[str, KindTable], ...] = ()
    markers: KindTable = field(default_factory=dict)
    model_keys: frozenset[str] = frozenset()
    usage_keys: frozenset[str] = frozenset()
    id_keys: frozenset[str] = frozenset()
    dotted_order_key: str | None = None
    write: Writer | None = None


ERROR_TYPE = "error.type"  # OpenTelemetry's general key, which the GenAI conventions use


def error_type(error: str) -> str:
    """The `error.type` of a run's error text: what precedes the message (`ValueError`
    of `ValueError: bad`), as the GenAI writer emits it and readers recognise it."""
    return error.split(":", 1)[0].split("(", 1)[0].strip()[:128] or "error"
