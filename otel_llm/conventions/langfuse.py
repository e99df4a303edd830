"""Langfuse's `langfuse.*` keys (observation type, input/output, metadata, usage, cost)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from otel_llm.conventions import messages as msgs
from otel_llm.conventions._typed import claim_error_type, json_object, strings, text
from otel_llm.conventions.base import (
    A,
    Convention,
    E,
    Extraction,
    G,
    KindTable,
    R,
    RunFacts,
    S,
    T,
    as_dict,
)
from otel_llm.model import ObservationType, Run, iso_to_ns, ns_to_iso

NAMESPACES = frozenset({"langfuse", "user", "session"})

KIND_KEY = "langfuse.observation.type"
KINDS: KindTable = {
    "generation": (G, "llm"),
    "embedding": (E, "embedding"),
    "retriever": (R, "retriever"),
    "tool": (T, "tool"),
    "agent": (A, "chain"),
    "chain": (S, "chain"),
    "span": (S, "chain"),
    "event": (S, "chain"),
    "evaluator": (S, "chain"),
    "guardrail": (S, "chain"),
}
MODEL_KEY = "langfuse.observation.model.name"
USAGE_KEY = "langfuse.observation.usage_details"


def read(x: Extraction) -> None:
    """Fills what `langfuse.*` attributes say.

    Values are JSON text except plain strings (the v5 SDK JSON-encodes metadata strings
    too); both are accepted. Trace-level facts become metadata, never this run's inputs.
    Usage and cost are read for generations and embeddings only.
    """
    a = x.attrs
    obs = x.observation or S
    kind = a.get(KIND_KEY)
    if kind is not None:
        if kind == obs.value:
            x.consumed.add(KIND_KEY)  # what run_to_span writes back
        elif kind not in KINDS:
            x.problem(KIND_KEY, "is not a known Langfuse observation type", kind)
    _io(x, obs)
    x.set_fact("model", text(x, MODEL_KEY))
    if "langfuse.observation.model.parameters" in a:
        for k, v in (json_object(x, "langfuse.observation.model.parameters") or {}).items():
            x.invocation_params.setdefault(k, v)
    if obs is G or obs is E:
        if USAGE_KEY in a:
            _usage(x)
        if "langfuse.observation.cost_details" in a:
            _cost(x)
    if "langfuse.observation.completion_start_time" in a:
        _first_token(x)
    if "langfuse.observation.level" in a or "langfuse.observation.status_message" in a:
        _level(x)
    for key, name in METADATA.items():
        if key in a:
            x.set_metadata(name, decoded(x.take(key)))
    tags = a.get("langfuse.trace.tags")
    if tags is not None:
        found = strings(tags)
        if found is None:
            x.problem("langfuse.trace.tags", "is not a list of strings", tags)
        else:
            x.consumed.add("langfuse.trace.tags")
            x.set_fact("tags", found)
    for key, value in a.items():
        if key.startswith(_METADATA_PREFIXES):
            x.consumed.add(key)
            x.set_metadata(key.partition(".metadata.")[2], decoded(value))


# Keys whose (JSON-decoded) value becomes one metadata entry.
METADATA: dict[str, str] = {
    "langfuse.user.id": "user_id",
    "user.id": "user_id",
    "langfuse.session.id": "session_id",
    "session.id": "session_id",
    "langfuse.trace.name": "trace_name",
    "langfuse.trace.input": "trace_input",
    "langfuse.trace.output": "trace_output",
    "langfuse.observation.metadata": "metadata",  # metadata that was not a mapping
    "langfuse.observation.prompt.name": "prompt_name",
    "langfuse.observation.prompt.version": "prompt_version",
    "langfuse.environment": "environment",
    "langfuse.release": "release",
    "langfuse.version": "version",
}
_METADATA_PREFIXES = ("langfuse.observation.metadata.", "langfuse.trace.metadata.")


def decoded(value: Any) -> Any:
    """A Langfuse value: JSON text is parsed, any other string is kept as it is."""
    if isinstance(value, str) and value:
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


# --- inputs and outputs ------------------------------------------------------------


def _io(x: Extraction, obs: ObservationType) -> None:
    shape_in, shape_out = IO_READERS.get(obs, (_plain_in, _plain_out))
    if x.inputs is None and "langfuse.observation.input" in x.attrs:
        x.set_inputs(shape_in(decoded(x.take("langfuse.observation.input"))))
    if x.outputs is None and "langfuse.observation.output" in x.attrs:
        x.set_outputs(shape_out(decoded(x.take("langfuse.observation.output"))))


def _plain_in(value: Any) -> dict[str, Any]:
    return as_dict(value, "input")


def _plain_out(value: Any) -> dict[str, Any]:
    return as_dict(value, "output")


def _is_messages(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, dict) and "role" in m for m in value)
    )


def _generation_in(value: Any) -> dict[str, Any]:
    if _is_messages(value):
        return {"messages": msgs.from_gen_ai(value)}
    if isinstance(value, str):
        return {"messages": [msgs.message("user", value)]}
    return as_dict(value, "input")


def _generation_out(value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and "role" in value:
        return {"messages": msgs.from_gen_ai([value])}
    if _is_messages(value):
        return {"messages": msgs.from_gen_ai(value)}
    if isinstance(value, str):
        return {"messages": [msgs.message("assistant", value)]}
    return as_dict(value, "output")


def _embedding_in(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    return {"input": value if isinstance(value, list) else [value]}


def _embedding_out(value: Any) -> dict[str, Any]:
    is_vectors = isinstance(value, list) and bool(value) and all(isinstance(v, list) for v in value)
    return {"embeddings": value} if is_vectors else as_dict(value, "output")


def _retriever_in(value: Any) -> dict[str, Any]:
    return as_dict(value, "query")


def _retriever_out(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return {"documents": [_document(d) for d in value]}
    return as_dict(value, "output")


def _document(doc: Any) -> Any:
    if isinstance(doc, str):
        return {"page_content": doc, "metadata": {}, "type": "Document"}
    if isinstance(doc, dict) and "page_content" in doc:
        return {"type": "Document", **doc}
    return doc


def _tool_in(value: Any) -> dict[str, Any]:
    return as_dict(value, "input")


def _tool_out(value: Any) -> dict[str, Any]:
    return {"output": value}


Reshape = Callable[[Any], dict[str, Any]]
# Observation type -> how its decoded input and output become the run's (default: plain).
IO_READERS: dict[ObservationType, tuple[Reshape, Reshape]] = {
    G: (_generation_in, _generation_out),
    E: (_embedding_in, _embedding_out),
    R: (_retriever_in, _retriever_out),
    T: (_tool_in, _tool_out),
}


# --- usage, cost, timing, level ------------------------------------------------------

# usage_details key -> (usage_metadata group or None, key). Langfuse passes a provider's
# usage through as it came: OpenAI's (prompt_tokens includes the cached tokens, details
# nested) or Langfuse / Anthropic style, where "input" EXCLUDES the separately counted
# cache reads and writes (see CACHE_SEPARATE).
USAGE: dict[str, tuple[str | None, str]] = {
    "input": (None, "input_tokens"),
    "input_tokens": (None, "input_tokens"),
    "prompt_tokens": (None, "input_tokens"),
    "output": (None, "output_tokens"),
    "output_tokens": (None, "output_tokens"),
    "completion_tokens": (None, "output_tokens"),
    "total": (None, "total_tokens"),
    "total_tokens": (None, "total_tokens"),
    "cache_read_input_tokens": ("input_token_details", "cache_read"),
    "input_cached_tokens": ("input_token_details", "cache_read"),
    "input_cache_read": ("input_token_details", "cache_read"),
    "cache_creation_input_tokens": ("input_token_details", "cache_creation"),
    "input_cache_creation": ("input_token_details", "cache_creation"),
    "input_audio_tokens": ("input_token_details", "audio"),
    "output_reasoning_tokens": ("output_token_details", "reasoning"),
    "output_reasoning": ("output_token_details", "reasoning"),
    "output_audio_tokens": ("output_token_details", "audio"),
}
CACHE_SEPARATE = (
    "cache_read_input_tokens",
    "input_cached_tokens",
    "input_cache_read",
    "cache_creation_input_tokens",
    "input_cache_creation",
)
# Nested OpenAI details: they break down counts that already include them.
USAGE_DETAILS: dict[str, tuple[str, dict[str, str]]] = {
    "prompt_tokens_details": (
        "input_token_details",
        {"cached_tokens": "cache_read", "audio_tokens": "audio"},
    ),
    "input_tokens_details": (
        "input_token_details",
        {"cached_tokens": "cache_read", "audio_tokens": "audio"},
    ),
    "completion_tokens_details": (
        "output_token_details",
        {"reasoning_tokens": "reasoning", "audio_tokens": "audio"},
    ),
    "output_tokens_details": (
        "output_token_details",
        {"reasoning_tokens": "reasoning", "audio_tokens": "audio"},
    ),
}


def _usage(x: Extraction) -> None:
    usage = _numbers_only(x, USAGE_KEY)
    if usage is None:
        return
    flat: dict[str, Any] = {}
    details: dict[str, dict[str, Any]] = {}
    for name, value in usage.items():
        if isinstance(value, dict):
            group, names = USAGE_DETAILS[name]
            for detail, count in value.items():
                if detail in names:
                    details.setdefault(group, {}).setdefault(names[detail], count)
            continue
        where, target = USAGE[name]
        if where is None:
            flat.setdefault(target, value)
        else:
            details.setdefault(where, {}).setdefault(target, value)
    if "input_tokens" in flat and ("input" in usage or "input_tokens" in usage):
        flat["input_tokens"] += sum(usage.get(k, 0) for k in CACHE_SEPARATE)
    for name, value in flat.items():
        x.set_usage(name, value)
    for group, found in details.items():
        for name, value in found.items():
            x.set_usage_detail(group, name, value)


def _numbers_only(x: Extraction, key: str) -> dict[str, Any] | None:
    """usage_details as a mapping, when every entry is known and numeric; otherwise the
    attribute stays raw (nothing is lost) and the problem is reported."""
    usage = json_object(x, key)
    if usage is None:
        return None
    for name, value in usage.items():
        nested = USAGE_DETAILS.get(name)
        ok = (
            all(d in nested[1] and _is_count(v) for d, v in value.items())
            if nested is not None and isinstance(value, dict)
            else name in USAGE and _is_count(value)
        )
        if not ok:
            x.consumed.discard(key)
            x.problem(f"{key}.{name}", "is not a known token count", value)
            return None
    return usage


def _is_count(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


COST: dict[str, str] = {"input": "input_cost", "output": "output_cost", "total": "total_cost"}


def _cost(x: Extraction) -> None:
    key = "langfuse.observation.cost_details"
    cost = json_object(x, key)
    if cost is None:
        return
    if not all(k in COST and _is_count(v) for k, v in cost.items()):
        x.consumed.discard(key)
        x.problem(key, "holds unknown or non-numeric costs", cost)
        return
    for name, value in cost.items():
        x.set_usage(COST[name], value)


def _first_token(x: Extraction) -> None:
    """The completion start time, as LangSmith records it: a `new_token` event."""
    key = "langfuse.observation.completion_start_time"
    raw = x.attrs[key]
    value = decoded(raw)
    try:
        ns = iso_to_ns(value)
    except (TypeError, ValueError):
        x.problem(key, "is not an ISO 8601 time", raw)
        return
    x.consumed.add(key)
    event: dict[str, Any] = {"name": "new_token", "time": ns_to_iso(ns)}
    if ns % 1000:
        event["time_unix_nano"] = ns
    x.add_run_event(event)


LEVELS = frozenset({"DEBUG", "DEFAULT", "WARNING", "ERROR"})


def _level(x: Extraction) -> None:
    """Level ERROR gives the run its error text (the span status may not say it); the
    two keys then stay raw, so the error reads the same after a trip through a span.
    Other levels and messages become metadata."""
    level = x.attrs.get("langfuse.observation.level", "DEFAULT")
    if level not in LEVELS:
        x.problem("langfuse.observation.level", "is not a known level", level)
        return
    if level == "ERROR":
        message = x.attrs.get("langfuse.observation.status_message")
        has_exception = any(e.name == "exception" for e in x.span.events)
        if x.error is None and not has_exception:
            x.error = str(message or x.span.status_message or "ERROR")
            claim_error_type(x)
        return
    x.take("langfuse.observation.level")
    if level != "DEFAULT":
        x.set_metadata("level", level)
    x.set_metadata("status_message", text(x, "langfuse.observation.status_message"))


# --- writing -----------------------------------------------------------------------


def write(run: Run, facts: RunFacts, out: dict[str, Any]) -> None:
    """The observation type, so Langfuse classifies the span without guessing, and for
    generations and embeddings the model (its one model field: the model that answered
    when known, else the one requested)."""
    out[KIND_KEY] = facts.observation._value_  # (no descriptor call)
    if facts.observation in (G, E) and (facts.response_model or facts.model):
        out[MODEL_KEY] = facts.response_model or facts.model
    if facts.session is not None:
        out["langfuse.session.id"] = facts.session


CONVENTION = Convention(
    name="langfuse",
    namespaces=NAMESPACES,
    read=read,
    kinds=((KIND_KEY, KINDS),),
    model_keys=frozenset({MODEL_KEY}),
    usage_keys=frozenset({USAGE_KEY}),
    write=write,
)
