"""Writing: run -> span. The project's own `otel_llm.*` keys, then each selected
convention family (`EMIT_FAMILIES`), then the original span's unmapped attributes when
the run came from OTel."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any, NamedTuple

from otel_llm import semconv as sc
from otel_llm._gc import collector_paused
from otel_llm.conventions import (
    gen_ai,
    mlflow,
    native,
)
from otel_llm.conventions import messages as msgs
from otel_llm.conventions.base import (
    E,
    G,
    R,
    RunFacts,
    T,
    Writer,
    dumps,
    loads_maybe,
)
from otel_llm.convert.classify import observation_of
from otel_llm.convert.json_safe import BYTES_KEY, from_json_safe, json_safe
from otel_llm.convert.tables import DEFAULT_EMIT, DEFAULT_KIND, EMIT_FAMILIES, WRITER_SCOPE
from otel_llm.ids import (
    span_id_from_run_id,
)
from otel_llm.model import (
    ObservationType,
    Run,
    SpanEvent,
    SpanLink,
    SpanRecord,
    StatusCode,
    iso_to_ns,
    span_record,
)
from otel_llm.sessions import session_of


def _facts(run: Run, ids: bool = True) -> RunFacts:
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
        operation=gen_ai.operation_name(run, obs),
        ids=ids,
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
    time onto its own spans: their ids are the span's, not written again)."""
    writers, chosen = _emit_writers(emit), frozenset(emit)

    def write(run: Run) -> WrittenSpan:
        name, attrs, _ = _written(run, writers, chosen, ids=False)
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
    run: Run, writers: tuple[Writer, ...], emit: Collection[str], ids: bool = True
) -> tuple[str, dict[str, Any], ObservationType]:
    """The span name and attributes of a run (and its observation type); `ids`: see
    `RunFacts.ids`."""
    facts = _facts(run, ids)
    obs = facts.observation
    ot = run.otel
    span_name = facts.span_name = ot.get("name") or _span_name(
        run, obs, facts.model, facts.operation
    )
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
        _add_raw(attrs, from_json_safe(raw))
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
                attributes=from_json_safe(link.get("attributes", {})),
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
        from_json_safe(ot["resource"]) if "resource" in ot else {},
        ot.get("resource_schema_url", ""),
        scope.get("name", ""),
        scope.get("version", ""),
        from_json_safe(scope["attributes"]) if "attributes" in scope else {},
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
        attrs[native.REPLACED_KEY] = dumps(json_safe(replaced))


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
        attrs = from_json_safe(kwargs)
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
    if isinstance(value, dict) and len(value) == 1 and BYTES_KEY in value:
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


def default_span_name(run: Run, obs: ObservationType, model: str | None) -> str:
    """`{operation} {model | tool name}`, as the official conventions name spans."""
    return _span_name(run, obs, model, gen_ai.operation_name(run, obs))


def _span_name(run: Run, obs: ObservationType, model: str | None, op: str | None) -> str:
    if op is None:
        return run.name
    if obs in (G, E):
        return f"{op} {model}" if model else op
    return f"{op} {run.name}"
