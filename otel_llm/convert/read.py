"""Reading: span -> run. Each convention's reader fills what the ones before it left
empty; then the run is assembled (ids and tree, inputs/outputs, extra) and whatever the
run format has no field for is kept in `run.extra["otel"]`."""

from __future__ import annotations

import functools
import operator
import uuid
from collections.abc import Iterable
from typing import Any, NamedTuple

from otel_llm import semconv as sc
from otel_llm._gc import collector_paused
from otel_llm.conventions import messages as msgs
from otel_llm.conventions.base import (
    A,
    E,
    Extraction,
    G,
    S,
    loads_maybe,
)
from otel_llm.convert.classify import classify_attrs, shape_of
from otel_llm.convert.json_safe import from_json_safe, json_safe
from otel_llm.convert.tables import (
    DEFAULT_KIND,
    LS_PARAMS,
    OBSERVATION_KEY,
    PROBLEMS_KEY,
    WRITER_SCOPE,
)
from otel_llm.convert.write import default_span_name
from otel_llm.ids import (
    dotted_order,
    dotted_segment,
    ids_from_dotted_order,
    run_id_from_span_id,
    span_id_from_run_id,
    uuid_from_int,
)
from otel_llm.model import (
    RUN_TYPE_OF,
    ObservationType,
    Run,
    SpanRecord,
    StatusCode,
    ns_to_iso,
    total_tokens,
)

_NAMESPACE = uuid.UUID("6f74656c-2d6c-6c6d-0000-000000000000")


def _extract(span: SpanRecord) -> Extraction:
    attrs = span.attributes
    shape = shape_of(attrs, span.events)
    x = Extraction(span, shape_memo=shape.memo)
    kind = classify_attrs(attrs, shape)
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
            ev["kwargs"] = json_safe(attrs)
        if event.dropped_attributes_count:
            ev["dropped_attributes_count"] = event.dropped_attributes_count
        out.append(ev)
    return out


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
    if (span.name != run.name or obs is not S) and span.name != default_span_name(
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
        rest.update(from_json_safe(x.replaced))
    if rest:
        ot["attributes"] = json_safe(rest)
    if span.links:
        ot["links"] = [
            _drop_empty(
                {
                    "trace_id": link.trace_id.hex(),
                    "span_id": link.span_id.hex(),
                    "trace_state": link.trace_state,
                    "attributes": json_safe(link.attributes),
                    "dropped_attributes_count": link.dropped_attributes_count,
                    "flags": link.flags,
                }
            )
            for link in span.links
        ]
    if span.resource:
        ot["resource"] = json_safe(span.resource)
    if span.scope_attributes:
        ot["scope"] = _drop_empty(
            {
                "name": span.scope_name,
                "version": span.scope_version,
                "attributes": json_safe(span.scope_attributes),
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
