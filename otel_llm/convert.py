"""span <-> run: the one place where OTel spans become runs and runs become spans.

Reading (`spans_to_runs`, `span_to_run`):
  1. classify the span with `CLASSIFIERS`, a precedence table (first match wins);
  2. let each convention's reader (`READERS`, in precedence order) fill what is still
     unknown, marking the attributes it maps;
  3. assemble the run: ids and tree, inputs/outputs, extra; whatever the run format has
     no field for is kept in `run.extra["otel"]` so the span can be restored.

Writing (`runs_to_spans`, `run_to_span`): the project's own `otel_llm.*` keys, then each
selected convention family (`EMIT_FAMILIES`), then the span's original unmapped
attributes when the run came from OTel.

Round trips: run -> span -> run returns an equal run; a span in the project's
conventions (as `run_to_span` writes it, plus any attributes, events, links, resource
and scope of its own) survives span -> run -> span unchanged. Spans of other
conventions are normalised on the way: their information is kept, their keys become
the project's.
"""

from __future__ import annotations

import base64
import functools
import operator
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from otel_llm import semconv as sc
from otel_llm._gc import collector_paused
from otel_llm.conventions import (
    gen_ai,
    langfuse,
    langsmith,
    logfire,
    mlflow,
    native,
    openinference,
    traceloop,
    vercel,
)
from otel_llm.conventions import messages as msgs
from otel_llm.conventions.base import (
    A,
    Convention,
    E,
    Extraction,
    G,
    Kind,
    KindTable,
    R,
    RunFacts,
    S,
    T,
    Writer,
    dumps,
    loads_maybe,
)
from otel_llm.ids import (
    dotted_order,
    dotted_segment,
    ids_from_dotted_order,
    run_id_from_span_id,
    span_id_from_run_id,
    uuid_from_int,
)
from otel_llm.model import (
    OBSERVATION_OF,
    RUN_TYPE_OF,
    ObservationType,
    Run,
    SpanEvent,
    SpanKind,
    SpanLink,
    SpanRecord,
    StatusCode,
    iso_to_ns,
    ns_to_iso,
    span_record,
    total_tokens,
)
from otel_llm.sessions import session_of

# Readers in precedence order: each fills only what the ones before it left empty.
READERS: tuple[Convention, ...] = (
    native.CONVENTION,
    langsmith.CONVENTION,
    langfuse.CONVENTION,
    mlflow.CONVENTION,
    openinference.CONVENTION,
    # Before gen_ai: the Vercel AI SDK also writes gen_ai.* copies, some in its own
    # spelling (gen_ai.system = "openai.chat"); its ai.* keys are the precise ones.
    vercel.CONVENTION,
    gen_ai.CONVENTION,
    traceloop.CONVENTION,
    logfire.CONVENTION,
)

# Classification precedence, by the conventions' kind tables: the project's own key,
# then producers' native kinds, then the official operation name (official values
# only), then hints. First match wins.
CLASSIFICATION: tuple[Convention, ...] = (
    native.CONVENTION,
    langfuse.CONVENTION,
    langsmith.CONVENTION,
    mlflow.CONVENTION,
    openinference.CONVENTION,
    gen_ai.CONVENTION,
    traceloop.CONVENTION,  # its own kinds, then gen_ai.operation.name values of its own
    vercel.CONVENTION,
)

# Families a writer can emit, in writing order; `otel_llm.*` (exact run fields) is
# always written, first.
EMITTED: tuple[Convention, ...] = (
    gen_ai.CONVENTION,
    openinference.CONVENTION,
    langsmith.CONVENTION,
    langfuse.CONVENTION,
)

# What the tables above imply.
CLASSIFIERS: tuple[tuple[str, KindTable], ...] = tuple(
    table for c in CLASSIFICATION for table in c.kinds
)
# After the classifiers: keys whose presence marks a kind, for producers that write no
# kind key; and as the last resort, a model plus token usage means a generation.
MARKERS: KindTable = {key: kind for c in READERS for key, kind in c.markers.items()}
MODEL_KEYS: frozenset[str] = frozenset().union(*(c.model_keys for c in READERS))
USAGE_KEYS: frozenset[str] = frozenset().union(*(c.usage_keys for c in READERS))
# Keys through which a span names its own run ids, and its whole dotted order.
ID_KEYS: frozenset[str] = frozenset().union(*(c.id_keys for c in READERS))
DOTTED_ORDER_KEYS: frozenset[str] = frozenset(
    c.dotted_order_key for c in READERS if c.dotted_order_key is not None
)
EMIT_FAMILIES: dict[str, Writer] = {c.name: c.write for c in EMITTED if c.write is not None}
DEFAULT_EMIT: frozenset[str] = frozenset(EMIT_FAMILIES)

# The span kind each observation type gets when nothing else is known.
DEFAULT_KIND: dict[ObservationType, int] = {
    G: SpanKind.CLIENT,
    E: SpanKind.CLIENT,
    R: SpanKind.CLIENT,
    T: SpanKind.INTERNAL,
    A: SpanKind.INTERNAL,
    S: SpanKind.INTERNAL,
}

WRITER_SCOPE = "otel-llm"
PROBLEMS_KEY = "otel_llm_problems"  # extra.metadata key listing malformed values
OBSERVATION_KEY = "observation_type"  # extra.metadata key, set only where run_type can't say

_NAMESPACE = uuid.UUID("6f74656c-2d6c-6c6d-0000-000000000000")
# Invocation params a generation's metadata repeats as LangSmith's ls_* keys, with the
# types those keys hold: a placeholder such as Langfuse's max_tokens "Infinity" (no
# limit set) stays in the params only.
LS_PARAMS: dict[str, tuple[str, tuple[type, ...]]] = {
    "temperature": ("ls_temperature", (int, float)),
    "max_tokens": ("ls_max_tokens", (int,)),
    "stop": ("ls_stop", (str, list, tuple)),
}


# --- classification ----------------------------------------------------------------


def _classify(attrs: Mapping[str, Any], shape: _Shape) -> Kind | None:
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


def _shape(attrs: Mapping[str, Any], events: Collection[SpanEvent]) -> _Shape:
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
    kind = _classify(span.attributes, _shape(span.attributes, span.events))
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


# --- reading: span -> run ----------------------------------------------------------


def _extract(span: SpanRecord) -> Extraction:
    attrs = span.attributes
    shape = _shape(attrs, span.events)
    x = Extraction(span, shape_memo=shape.memo)
    kind = _classify(attrs, shape)
    if kind is not None:
        x.observation, x.run_type = kind
    for convention in shape.readers:
        try:
            convention.read(x)
        except Exception as exc:  # a reader bug must not cost the span
            x.note(f"{convention.read.__module__} could not read the span: {exc!r}")
    return x


def _run_id(x: Extraction) -> uuid.UUID:
    if x.run_id is not None:
        return x.run_id
    sid = x.span.span_id
    if len(sid) == 8 and any(sid):
        return run_id_from_span_id(sid)
    x.problem("span_id", "is missing, zero or not 8 bytes", sid.hex())
    seed = f"{x.span.trace_id.hex()}/{x.span.name}/{x.span.start_time_unix_nano}"
    return uuid.uuid5(_NAMESPACE, seed)


_ZERO8 = bytes(8)
_ERROR, _UNSET = int(StatusCode.ERROR), int(StatusCode.UNSET)  # enum lookups cost here


def _valid_parent(span: SpanRecord) -> bool:
    parent = span.parent_span_id
    return len(parent) == 8 and parent != _ZERO8


class Placement(NamedTuple):  # a tuple: cheaper to make than a frozen dataclass
    """Where a run goes in its tree, as its parent's run decides: under `parent_run_id`,
    in `trace_id`, its dotted order continuing `dotted_order_prefix`, and incomplete
    when the parent's ancestors were not all known."""

    parent_run_id: uuid.UUID
    trace_id: uuid.UUID | None
    dotted_order_prefix: str | None
    incomplete: bool

    @classmethod
    def under(cls, parent: Run) -> Placement:
        """The placement of the children of `parent`."""
        return cls(parent.id, parent.trace_id, parent.dotted_order, parent.otel_incomplete)


def _position(
    run_id: uuid.UUID,
    start_ns: int,
    otel_trace_id: bytes,
    parent: Placement | None,
    *,
    orphan: bool,
) -> tuple[uuid.UUID, str]:
    """A run's trace id and dotted order, when no span key names them: under its
    parent's placement; else a root's, or an orphan's (its parent is not known: until
    the root is seen, its trace is named after the OTel trace id)."""
    if parent is not None:
        dotted = dotted_order(parent.dotted_order_prefix, start_ns, run_id)
        return parent.trace_id or run_id, dotted
    segment = dotted_segment(start_ns, run_id)
    if orphan:
        return uuid_from_int(int.from_bytes(otel_trace_id[:16], "big")), segment
    return run_id, segment


def children_placement(
    span_id: bytes,
    trace_id: bytes,
    start_ns: int,
    parent: Placement | None,
    *,
    has_parent: bool,
) -> Placement:
    """Where the children of a span go, without converting it, when the span names no
    run ids of its own (none of `ID_KEYS`).

    Args:
        span_id / trace_id / start_ns: the span's.
        parent: the span's own placement; None for a root or, with `has_parent`, a span
            whose parent is remote or lost.
    """
    run_id = run_id_from_span_id(span_id)
    trace, dotted = _position(run_id, start_ns, trace_id, parent, orphan=has_parent)
    return Placement(run_id, trace, dotted, parent.incomplete if parent else has_parent)


def span_to_run(span: SpanRecord, parent: Placement | Run | None = None) -> Run | None:
    """One span as a run, when its parent's run (if any) is already known.

    Args:
        span: the span.
        parent: where its parent's run placed it (or that run itself); None for a root
            span, or when the parent is unknown: the run is then marked incomplete
            (see `spans_to_runs`).

    Returns:
        The run, or None for spans that only duplicate another (Logfire pending spans).
    """
    x = _extract(span)
    if x.skip:
        return None
    if isinstance(parent, Run):
        parent = Placement.under(parent)
    return _build(x, _run_id(x), parent)


def _build(x: Extraction, run_id: uuid.UUID, parent: Placement | None) -> Run:
    """The run of an extraction, placed under its parent's run when that is known."""
    if x.dotted_order is not None or not _valid_parent(x.span):
        return _assemble(x, run_id, None, None, complete=not x.incomplete)
    if parent is not None:
        return _assemble(x, run_id, parent.parent_run_id, parent, complete=not parent.incomplete)
    parent_id = run_id_from_span_id(x.span.parent_span_id)
    return _assemble(x, run_id, parent_id, None, complete=False)


@collector_paused()
def spans_to_runs(spans: Iterable[SpanRecord]) -> list[Run]:
    """A batch of spans as runs, with trace ids and dotted orders completed in the batch.

    A span whose ancestors are not all in the batch still becomes a run: its
    `parent_run_id` is set from the parent span id, its `trace_id` is provisional (the
    UUID of the OTel trace id), its `dotted_order` starts at the topmost ancestor present
    and `extra["otel"]["incomplete"]` is True. `otel_ids(run)` gives the OTel ids a
    store needs to complete such trees when the ancestors arrive.

    Never raises for malformed values: they are kept raw and listed in
    `extra["metadata"]["otel_llm_problems"]`.
    """
    extractions = [x for x in map(_extract, spans) if not x.skip]
    n = len(extractions)
    # Parent of each span in the batch (its index), or -1. Span ids are looked up alone
    # (cheaper than (trace, span) keys) and the trace is checked on a hit.
    by_span_id = {x.span.span_id: i for i, x in enumerate(extractions)}
    parent_of = [-1] * n
    for i, x in enumerate(extractions):
        span = x.span
        if x.dotted_order is None and _valid_parent(span):
            j = by_span_id.get(span.parent_span_id, -1)
            if j >= 0 and extractions[j].span.trace_id == span.trace_id:
                parent_of[i] = j

    runs: list[Run | None] = [None] * n
    places: list[Placement | None] = [None] * n  # of the children of runs[i], once needed
    on_path = [False] * n
    for start in range(n):
        if runs[start] is not None:
            continue
        # Walk up to the nearest ancestor already built (or the top), then build back
        # down: iterative, so deep trees cannot overflow the stack.
        path = [start]
        on_path[start] = True
        parent: Placement | None = None
        i = parent_of[start]
        while i >= 0:
            built = runs[i]
            if built is not None:
                parent = places[i] or Placement.under(built)
                places[i] = parent
                break
            if on_path[i]:
                extractions[i].problem("parent_span_id", "forms a cycle of parent links")
                break
            path.append(i)
            on_path[i] = True
            i = parent_of[i]
        for j in reversed(path):
            run = runs[j] = _build(extractions[j], _run_id(extractions[j]), parent)
            parent = places[j] = Placement.under(run) if j != start else None
    return runs  # type: ignore[return-value]  # every slot is filled above


def _assemble(
    x: Extraction,
    run_id: uuid.UUID,
    parent_run_id: uuid.UUID | None,
    parent: Placement | None,
    *,
    complete: bool,
) -> Run:
    span = x.span
    # Ids and tree.
    if x.dotted_order is not None:
        dotted: str | None = x.dotted_order
        try:
            _, trace_from_dotted, parent_from_dotted = ids_from_dotted_order(x.dotted_order)
        except ValueError:
            x.problem("dotted_order", "is malformed", x.dotted_order)
            trace_from_dotted, parent_from_dotted = run_id, None
        trace_id = x.trace_id or trace_from_dotted
        parent_run_id = x.parent_run_id or parent_from_dotted
    else:
        parent_run_id = x.parent_run_id or parent_run_id
        trace_id, dotted = _position(
            run_id,
            span.start_time_unix_nano,
            span.trace_id,
            parent,
            orphan=parent_run_id is not None,
        )
        trace_id = x.trace_id or trace_id

    obs = x.observation or S
    # Positional, in Run's field order (keywords cost ~0.5 µs a run on this hot path).
    run = Run(
        run_id,
        x.name if x.name is not None else span.name,
        x.run_type or RUN_TYPE_OF[obs],
        trace_id,
        parent_run_id,
        dotted,
        span.start_time_unix_nano,
        None if x.unfinished else span.end_time_unix_nano,
        x.inputs if x.inputs is not None else {},
        x.outputs,
        x.error if x.error is not None else _error_of(span),
        _extra(x, obs),
        list(x.tags) if x.tags is not None else [],
        _run_events(x) if span.events else list(x.run_events or ()),
        x.serialized,
        x.session_name,
        x.session_id,
        x.reference_example_id,
        x.attachments or {},
    )
    otel = _otel_part(x, run, obs, complete)
    if otel:
        run.extra["otel"] = otel
    if x.problems:
        # A run restored with its exact extra already lists the problems of its raw values.
        known = run.metadata.setdefault(PROBLEMS_KEY, [])
        known.extend(p for p in x.problems if p not in known)
    return run


def _extra(x: Extraction, obs: ObservationType) -> dict[str, Any]:
    if x.extra is not None:
        # The span carried the run's exact extra: derived facts add nothing to it.
        return {k: v for k, v in x.extra.items() if k != "otel"}
    extra: dict[str, Any] = {}
    metadata = x.metadata  # the extraction's own dicts, used once: no copies
    params = x.invocation_params
    if x.model is not None:
        params.setdefault("model", x.model)
    if obs in (G, E):
        if x.provider is not None:
            metadata.setdefault("ls_provider", x.provider)
        if x.model is not None or x.response_model is not None:
            metadata.setdefault("ls_model_name", x.model or x.response_model)
        metadata.setdefault("ls_model_type", "chat" if obs is G else "embedding")
        for param, (key, kinds) in LS_PARAMS.items():
            value = params.get(param)
            if isinstance(value, kinds) and not isinstance(value, bool):
                metadata.setdefault(key, value)
        if not x.usage and obs is G:  # e.g. MLflow spans: only the response says it
            response_usage = msgs.usage_of_response(x.outputs)
            if response_usage is not None:
                msgs.provider_usage(x, response_usage)
        if x.usage:
            usage = dict(x.usage)
            if "total_tokens" not in usage:
                total = total_tokens(usage.get("input_tokens"), usage.get("output_tokens"))
                if total is not None:
                    usage["total_tokens"] = total
            metadata.setdefault("usage_metadata", usage)
    if obs is A:
        metadata[OBSERVATION_KEY] = A.value
    if metadata:
        extra["metadata"] = metadata
    if params:
        extra["invocation_params"] = params
    return extra


def _error_of(span: SpanRecord) -> str | None:
    """Type, message and stack of the first exception event, else the status message."""
    if span.status_code != StatusCode.ERROR:
        return None
    for event in span.events:
        if event.name == "exception":
            a = event.attributes
            etype = a.get("exception.type") or "Exception"
            text = f"{etype}: {a.get('exception.message', '')}"
            stack = a.get("exception.stacktrace")
            return f"{text}\n\n{stack}" if stack else text
    return span.status_message or "error"


def _run_events(x: Extraction) -> list[dict[str, Any]]:
    """The reader-derived run events, then the span events no reader mapped."""
    out: list[dict[str, Any]] = list(x.run_events or ())
    consumed = x.consumed_events or ()
    for i, event in enumerate(x.span.events):
        if i in consumed:
            continue
        ev: dict[str, Any] = {"name": event.name, "time": ns_to_iso(event.time_unix_nano)}
        if event.time_unix_nano % 1000:
            ev["time_unix_nano"] = event.time_unix_nano
        attrs = event.attributes
        if sc.OTEL_LLM_EVENT_KWARGS in attrs:
            ev["kwargs"] = loads_maybe(attrs[sc.OTEL_LLM_EVENT_KWARGS])
        elif attrs:
            ev["kwargs"] = _json_safe(attrs)
        if event.dropped_attributes_count:
            ev["dropped_attributes_count"] = event.dropped_attributes_count
        out.append(ev)
    return out


def _default_span_name(run: Run, obs: ObservationType, model: str | None) -> str:
    """`{operation} {model | tool name}`, as the official conventions name spans."""
    op = gen_ai.operation_name(run, obs)
    if op is None:
        return run.name
    if obs in (G, E):
        return f"{op} {model}" if model else op
    return f"{op} {run.name}"


def _otel_part(x: Extraction, run: Run, obs: ObservationType, complete: bool) -> dict[str, Any]:
    """What the run format has no field for, kept only where it differs from what
    `run_to_span` would derive, so a restored span is equal to the original."""
    span = x.span
    ot: dict[str, Any] = {}
    # An incomplete run always names its OTel trace, so a store can complete it later.
    if not complete or run.trace_id is None or span.trace_id != run.trace_id.bytes:
        ot["trace_id"] = span.trace_id.hex()
    # A run id derived from a valid span id gives it back by construction: skip the check.
    derived_id = x.run_id is None and len(span.span_id) == 8 and span.span_id != _ZERO8
    if not derived_id and span.span_id != span_id_from_run_id(run.id):
        ot["span_id"] = span.span_id.hex()
    expected_parent = span_id_from_run_id(run.parent_run_id) if run.parent_run_id else b""
    if span.parent_span_id != expected_parent:
        ot["parent_span_id"] = span.parent_span_id.hex()
    if not complete:
        ot["incomplete"] = True
    # A plain span's default name is the run's own; others need the model or tool name.
    if (span.name != run.name or obs is not S) and span.name != _default_span_name(
        run, obs, run.model_name
    ):
        ot["name"] = span.name
    if span.kind != DEFAULT_KIND[obs]:
        ot["kind"] = int(span.kind)
    if (
        (span.status_code != _ERROR or span.status_message != run.error)
        if run.error is not None
        else (span.status_code != _UNSET or span.status_message)
    ):
        ot["status"] = {"code": int(span.status_code), "message": span.status_message}
    if span.start_time_unix_nano % 1000:
        ot["start_time_unix_nano"] = span.start_time_unix_nano
    if run.end_time_ns is None:
        if span.end_time_unix_nano != span.start_time_unix_nano:
            ot["end_time_unix_nano"] = span.end_time_unix_nano
    elif span.end_time_unix_nano % 1000:
        ot["end_time_unix_nano"] = span.end_time_unix_nano
    consumed = x.consumed
    rest = (
        {k: v for k, v in span.attributes.items() if k not in consumed}
        if consumed
        else dict(span.attributes)  # a C-level copy for spans no reader mapped
    )
    if x.replaced:
        rest.update(_from_json_safe(x.replaced))
    if rest:
        ot["attributes"] = _json_safe(rest)
    if span.links:
        ot["links"] = [
            _drop_empty(
                {
                    "trace_id": link.trace_id.hex(),
                    "span_id": link.span_id.hex(),
                    "trace_state": link.trace_state,
                    "attributes": _json_safe(link.attributes),
                    "dropped_attributes_count": link.dropped_attributes_count,
                    "flags": link.flags,
                }
            )
            for link in span.links
        ]
    if span.resource:
        ot["resource"] = _json_safe(span.resource)
    if span.scope_attributes:
        ot["scope"] = _drop_empty(
            {
                "name": span.scope_name,
                "version": span.scope_version,
                "attributes": _json_safe(span.scope_attributes),
                "schema_url": span.scope_schema_url,
            }
        )
    elif span.scope_name != WRITER_SCOPE or span.scope_version or span.scope_schema_url:
        ot["scope"] = dict(_scope_of(span.scope_name, span.scope_version, span.scope_schema_url))
    if span.flags:  # SDKs set them on every span
        ot["flags"] = span.flags
    rare = _rare_fields(span)
    if rare != _NO_RARE_FIELDS:
        ot.update((key, value) for key, value in zip(_RARE_FIELDS, rare, strict=True) if value)
    return ot


# Span fields that are nearly always empty, read and compared in one C call each.
_RARE_FIELDS = (
    "trace_state",
    "resource_schema_url",
    "dropped_attributes_count",
    "dropped_events_count",
    "dropped_links_count",
)
_rare_fields = operator.attrgetter(*_RARE_FIELDS)
_NO_RARE_FIELDS = ("", "", 0, 0, 0)


@functools.lru_cache(maxsize=256)
def _scope_of(name: str, version: str, schema_url: str) -> dict[str, Any]:
    """A scope without attributes; the few scopes of a process are built once (copy it:
    no two runs share a dict)."""
    return _drop_empty({"name": name, "version": version, "schema_url": schema_url})


def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in ("", 0, None, {}, [])}


# Attribute values may be bytes, which JSON cannot hold: they travel as {"$bytes": b64}.
_BYTES = "$bytes"


_PLAIN = frozenset({str, int, float, bool})


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        # Fast path (a C-level walk): attribute dicts are nearly always flat scalars.
        if _PLAIN.issuperset(map(type, value.values())):
            return value
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return {_BYTES: base64.b64encode(bytes(value)).decode()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _from_json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and _BYTES in value:
            return base64.b64decode(value[_BYTES])
        if _PLAIN.issuperset(map(type, value.values())):  # fast path, as in _json_safe
            return dict(value)
        return {k: _from_json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json_safe(v) for v in value]
    return value


# --- writing: run -> span ----------------------------------------------------------


def _facts(run: Run) -> RunFacts:
    obs = observation_of(run)
    md = run.extra.get("metadata")
    params = run.extra.get("invocation_params")
    provider = md.get("ls_provider") if isinstance(md, dict) else None
    facts = RunFacts(
        observation=obs,
        model=run.model_name,
        provider=provider if isinstance(provider, str) else None,
        invocation_params=params if isinstance(params, dict) else {},
        usage=run.usage,
        session=session_of(md),
    )
    if obs is G or obs is E:
        response_model = md.get("response_model") if isinstance(md, dict) else None
        if isinstance(response_model, str) and response_model != facts.model:
            facts.response_model = response_model
    if obs is G:
        facts.input_messages = gen_ai.to_input_messages(run.inputs)
        facts.output_messages = _with_finish_reasons(
            msgs.to_gen_ai(_output_messages(run.outputs)), md
        )
    elif obs is T:
        args = run.inputs.get("input") if set(run.inputs) == {"input"} else run.inputs
        facts.tool_arguments = args if isinstance(args, str) else dumps(args)
        if run.outputs is not None:
            result = run.outputs.get("output") if set(run.outputs) == {"output"} else run.outputs
            # Text that reads as a JSON string literal is encoded, so it reads back as is.
            if isinstance(result, str) and gen_ai.unquoted(result) == result:
                facts.tool_result = result
            else:
                facts.tool_result = dumps(result)
    elif obs is R:
        query = run.inputs.get("query")
        facts.retrieval_query = query if isinstance(query, str) else None
        outputs = run.outputs or {}
        docs = outputs.get("documents")
        if docs is None and len(outputs) == 1:
            docs = outputs.get("output")  # LangSmith's @traceable retriever: a list
        if isinstance(docs, list):
            facts.retrieval_documents = [_official_doc(d) for d in docs]
    return facts


def _output_messages(outputs: dict[str, Any] | None) -> list[Any] | None:
    """A generation's output messages, from the output shapes the readers know: our
    `{"messages": [...]}`, one message, an OpenAI chat completion's choices, an
    Anthropic message, or `{"output": text | one of these}` (LangSmith's `@traceable`)."""
    if not outputs:
        return None
    messages = outputs.get("messages")
    if isinstance(messages, list):
        return messages
    if "role" in outputs and "content" in outputs:
        return [outputs]
    choices = outputs.get("choices")
    if (
        isinstance(choices, list)
        and choices
        and all(isinstance(c, dict) and isinstance(c.get("message"), dict) for c in choices)
    ):
        return [mlflow.choice_message(c) for c in choices]
    if outputs.get("type") == "message" and isinstance(outputs.get("content"), list):
        return [mlflow.anthropic_message(outputs)]
    if len(outputs) == 1 and "output" in outputs:
        value = outputs["output"]
        if isinstance(value, str):
            return [{"role": "assistant", "content": value}]
        if isinstance(value, dict) and "output" not in value:
            return _output_messages(value)
    return None


def _with_finish_reasons(
    messages: list[dict[str, Any]] | None, md: Any
) -> list[dict[str, Any]] | None:
    """Official output messages each with a finish reason (Phoenix shows no output message
    without one): the message's own, else the run's `finish_reasons`, else "stop"."""
    if not messages:
        return messages
    reasons = md.get("finish_reasons") if isinstance(md, dict) else None
    for i, m in enumerate(messages):
        if m.get("finish_reason") is None:
            known = reasons[i] if isinstance(reasons, list) and i < len(reasons) else None
            m["finish_reason"] = known if isinstance(known, str) else "stop"
    return messages


def _official_doc(doc: Any) -> Any:
    """A LangChain-style document ({page_content, metadata}) as an official one."""
    if not isinstance(doc, dict) or "page_content" not in doc:
        return doc
    out: dict[str, Any] = {"content": doc["page_content"]}
    md = doc.get("metadata")
    if isinstance(md, dict):
        if md.get("id") is not None:
            out["id"] = md["id"]
        if md.get("score") is not None:
            out["score"] = md["score"]
        out["metadata"] = md
    if doc.get("id") is not None:
        out["id"] = doc["id"]
    return out


def _structured_io(facts: RunFacts) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """What a reader rebuilds from the structured content keys alone (gen_ai family)."""
    obs = facts.observation
    if obs is G:
        ins = msgs.from_gen_ai(facts.input_messages) if facts.input_messages else None
        outs = msgs.from_gen_ai(facts.output_messages) if facts.output_messages else None
        return (
            {"messages": ins} if ins is not None else None,
            {"messages": outs} if outs is not None else None,
        )
    if obs is T:
        args = loads_maybe(facts.tool_arguments)
        return (
            args if isinstance(args, dict) else {"input": args},
            {"output": facts.tool_result} if facts.tool_result is not None else None,
        )
    if obs is R and facts.retrieval_query is not None:
        return {"query": facts.retrieval_query}, None
    return None, None


def run_to_span(run: Run, emit: Collection[str] = DEFAULT_EMIT) -> SpanRecord:
    """One run as an OTel span.

    Args:
        run: the run.
        emit: convention families to write besides the project's own `otel_llm.*` keys:
            any of "gen_ai", "openinference", "langsmith", "langfuse" (`DEFAULT_EMIT` is
            all four). Unknown names raise ValueError.
    """
    return _run_to_span(run, _emit_writers(emit), emit)


class WrittenSpan(NamedTuple):
    """What `run_to_span` writes of a run on a span that exists already (whose ids,
    times, status and scope are its own): its name, attributes and events."""

    name: str
    attributes: dict[str, Any]
    events: list[SpanEvent]


def span_writer(emit: Collection[str] = DEFAULT_EMIT) -> Callable[[Run], WrittenSpan]:
    """`run_to_span`'s name, attributes and events of a run, for one set of families
    checked and ordered once (for the live instrumentation, which writes runs one at a
    time onto its own spans)."""
    writers, chosen = _emit_writers(emit), frozenset(emit)

    def write(run: Run) -> WrittenSpan:
        name, attrs, _ = _written(run, writers, chosen)
        events = [_span_event(ev, run.start_time_ns) for ev in run.events] if run.events else []
        return WrittenSpan(name, attrs, events)

    return write


def _emit_writers(emit: Collection[str]) -> tuple[Writer, ...]:
    """The project's writer, then those of the chosen families in EMIT_FAMILIES order;
    ValueError if a family is unknown."""
    unknown = set(emit) - EMIT_FAMILIES.keys()
    if unknown:
        raise ValueError(
            f"unknown emit families {sorted(unknown)}; choose from {sorted(EMIT_FAMILIES)}"
        )
    chosen = (write for family, write in EMIT_FAMILIES.items() if family in emit)
    return (native.write, *chosen)


def _written(
    run: Run, writers: tuple[Writer, ...], emit: Collection[str]
) -> tuple[str, dict[str, Any], ObservationType]:
    """The span name and attributes of a run (and its observation type)."""
    facts = _facts(run)
    obs = facts.observation
    ot = run.otel
    span_name = facts.span_name = ot.get("name") or _default_span_name(run, obs, facts.model)
    attrs: dict[str, Any] = {}
    for write in writers:
        write(run, facts, attrs)
    # input/output.value carry the exact run I/O unless the structured GenAI keys alone
    # give it back (then they would only repeat it).
    if (
        "openinference" in emit
        or "gen_ai" not in emit
        or _structured_io(facts)
        != (
            run.inputs or None,
            run.outputs,
        )
    ):
        native.write_verbatim_io(run, attrs)
    raw = ot.get("attributes")
    if raw:
        _add_raw(attrs, _from_json_safe(raw))
    return span_name, attrs, obs


def _run_to_span(
    run: Run,
    writers: tuple[Writer, ...],
    emit: Collection[str],
) -> SpanRecord:
    span_name, attrs, obs = _written(run, writers, emit)
    ot = run.otel
    trace_id, span_id, parent_id = otel_ids(run)
    start = ot.get("start_time_unix_nano", run.start_time_ns)
    end = ot.get("end_time_unix_nano", run.end_time_ns if run.end_time_ns is not None else start)
    status = ot.get("status")
    if status is not None:
        code, message = status["code"], status["message"]
    elif run.error is not None:
        code, message = StatusCode.ERROR, run.error
    else:
        code, message = StatusCode.UNSET, ""
    scope = ot.get("scope", {"name": WRITER_SCOPE})
    # Every field, positionally (keywords cost ~1 µs a span here).
    return span_record(
        trace_id,
        span_id,
        span_name,
        parent_id,
        ot.get("kind", DEFAULT_KIND[obs]),
        start,
        end,
        attrs,
        [_span_event(ev, run.start_time_ns) for ev in run.events] if run.events else [],
        [
            SpanLink(
                trace_id=bytes.fromhex(link["trace_id"]),
                span_id=bytes.fromhex(link["span_id"]),
                trace_state=link.get("trace_state", ""),
                attributes=_from_json_safe(link.get("attributes", {})),
                dropped_attributes_count=link.get("dropped_attributes_count", 0),
                flags=link.get("flags", 0),
            )
            for link in ot["links"]
        ]
        if "links" in ot
        else [],
        code,
        message,
        ot.get("trace_state", ""),
        ot.get("flags", 0),
        ot.get("dropped_attributes_count", 0),
        ot.get("dropped_events_count", 0),
        ot.get("dropped_links_count", 0),
        _from_json_safe(ot["resource"]) if "resource" in ot else {},
        ot.get("resource_schema_url", ""),
        scope.get("name", ""),
        scope.get("version", ""),
        _from_json_safe(scope["attributes"]) if "attributes" in scope else {},
        scope.get("schema_url", ""),
    )


def _add_raw(attrs: dict[str, Any], raw: dict[str, Any]) -> None:
    """The original span's unmapped attributes, under what the writers wrote: one that
    contradicts a written key (a retriever's `gen_ai.operation.name = "embeddings"`) is
    overwritten, and kept in `otel_llm.span.replaced` so the run comes back whole."""
    replaced: dict[str, Any] | None = None
    for key, value in raw.items():
        mine = attrs.get(key, _MISSING)
        if mine is _MISSING:
            attrs[key] = value
        elif mine != value:
            if replaced is None:
                replaced = {}
            replaced[key] = value
    if replaced:
        attrs[native.REPLACED_KEY] = dumps(_json_safe(replaced))


_MISSING: Any = object()


@collector_paused()
def runs_to_spans(runs: Iterable[Run], emit: Collection[str] = DEFAULT_EMIT) -> list[SpanRecord]:
    """Runs as OTel spans; see `run_to_span` for `emit`."""
    writers = _emit_writers(emit)
    return [_run_to_span(run, writers, emit) for run in runs]


def _span_event(ev: dict[str, Any], default_ns: int) -> SpanEvent:
    ns = ev.get("time_unix_nano")
    if ns is None:
        time = ev.get("time")
        try:
            ns = iso_to_ns(time) if time is not None else default_ns
        except (TypeError, ValueError):
            ns = default_ns
    kwargs = ev.get("kwargs")
    if kwargs is None:
        attrs: dict[str, Any] = {}
    elif isinstance(kwargs, dict) and kwargs and all(_flat(v) for v in kwargs.values()):
        attrs = _from_json_safe(kwargs)
    else:
        attrs = {sc.OTEL_LLM_EVENT_KWARGS: dumps(kwargs)}
    return SpanEvent(
        name=str(ev.get("name", "event")),
        time_unix_nano=ns,
        attributes=attrs,
        dropped_attributes_count=ev.get("dropped_attributes_count", 0),
    )


def _flat(value: Any) -> bool:
    """Can this value be an OTel attribute as is (a scalar or a list of one scalar type)?"""
    if isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, dict) and len(value) == 1 and _BYTES in value:
        return True
    if isinstance(value, list):
        if not value:
            return True
        first = type(value[0])
        return first in (str, bool, int, float) and all(type(v) is first for v in value)
    return False


def otel_ids(run: Run) -> tuple[bytes, bytes, bytes]:
    """(trace id, span id, parent span id) of the OTel span a run came from or becomes."""
    ot = run.otel
    trace_hex = ot.get("trace_id")
    trace_id = bytes.fromhex(trace_hex) if trace_hex is not None else (run.trace_id or run.id).bytes
    span_hex = ot.get("span_id")
    span_id = bytes.fromhex(span_hex) if span_hex is not None else span_id_from_run_id(run.id)
    parent_hex = ot.get("parent_span_id")
    if parent_hex is not None:
        parent = bytes.fromhex(parent_hex)
    else:
        parent = span_id_from_run_id(run.parent_run_id) if run.parent_run_id else b""
    return trace_id, span_id, parent
