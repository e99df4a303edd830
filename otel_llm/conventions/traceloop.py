"""OpenLLMetry / Traceloop: `traceloop.*` decorator spans and `llm.*` legacy keys.

Its LLM spans write `gen_ai.*` keys, read by the gen_ai reader (which knows this
project's extras too: `gen_ai.usage.total_tokens`, `gen_ai.is_streaming`, the
flattened `gen_ai.prompt.{i}.*`); this reader only runs on spans with its own keys.
"""

from __future__ import annotations

from typing import Any

from otel_llm import semconv as sc
from otel_llm.conventions._typed import number, strings, text
from otel_llm.conventions.base import (
    A,
    Convention,
    E,
    Extraction,
    G,
    KindTable,
    R,
    S,
    T,
    as_dict,
    loads_maybe,
)

NAMESPACES = frozenset({"traceloop", "llm"})

KIND_KEY = "traceloop.span.kind"
KINDS: KindTable = {
    "workflow": (S, "chain"),
    "task": (S, "chain"),
    "agent": (A, "chain"),
    "tool": (T, "tool"),
}
REQUEST_TYPE_KEY = "llm.request.type"
REQUEST_KINDS: KindTable = {
    "chat": (G, "llm"),
    "completion": (G, "llm"),
    "embedding": (E, "embedding"),
    "rerank": (R, "retriever"),
}
# Non-standard gen_ai.operation.name values its LangChain instrumentor writes; they rank
# below the official values and the producers' own kind keys.
OPERATION_KINDS: KindTable = {
    "vector_db_retrieve": (R, "retriever"),
    "execute_task": (S, "chain"),
}


ASSOCIATION_PREFIX = "traceloop.association.properties."

# Context keys -> metadata keys (the workflow name is copied onto every descendant span:
# it names the trace's workflow, not this span).
METADATA: dict[str, str] = {
    "traceloop.workflow.name": "workflow_name",
    "traceloop.entity.path": "entity_path",
    "traceloop.entity.version": "entity_version",
    "llm.user": "user_id",
}
# Request keys of the older releases -> invocation_params keys.
PARAMS: dict[str, str] = {
    "llm.is_streaming": "stream",
    "llm.frequency_penalty": "frequency_penalty",
    "llm.presence_penalty": "presence_penalty",
    "llm.top_k": "top_k",
    "llm.chat.stop_sequences": "stop",
}
TOTAL_TOKENS_KEY = "llm.usage.total_tokens"
FUNCTIONS_PREFIX = "llm.request.functions."


def read(x: Extraction) -> None:
    """Fills what Traceloop attributes say: the entity's name, input and output, the
    workflow and association properties (metadata), and the request keys, total tokens
    and tools of older releases. Kinds are consumed when they agree with the
    classification."""
    a = x.attrs
    obs = x.observation or S
    for key, table in ((KIND_KEY, KINDS), (REQUEST_TYPE_KEY, REQUEST_KINDS)):
        value = a.get(key)
        if value is None:
            continue
        kind = table.get(value) if isinstance(value, str) else None
        if kind is not None and kind[0] is obs:
            x.consumed.add(key)  # the run's type says it
        elif kind is None and value != "unknown":
            x.problem(key, "is not a known value", value)
    if "traceloop.entity.name" in a:
        name = text(x, "traceloop.entity.name")
        if name is not None and x.name not in (None, name):
            x.consumed.discard("traceloop.entity.name")  # another name won: stays raw
        elif name is not None:
            x.name = name
    if "traceloop.entity.input" in a:
        _entity_input(x)
    if "traceloop.entity.output" in a:
        value = x.take_json("traceloop.entity.output")
        if value is not None:
            x.set_outputs({"output": value} if obs is T else value)
    for key, name in x.present(METADATA):
        x.set_metadata(name, x.take(key))
    associations = x.shape_memo.get(__name__)  # which keys they are depends on keys only
    if associations is None:
        associations = x.shape_memo[__name__] = [k for k in a if k.startswith(ASSOCIATION_PREFIX)]
    for key in associations:
        x.set_metadata(key[len(ASSOCIATION_PREFIX) :], x.take(key))
    for key, param in x.present(PARAMS):
        x.invocation_params.setdefault(param, _param(x.take(key)))
    if f"{FUNCTIONS_PREFIX}0.name" in a:
        x.invocation_params.setdefault("tools", _functions(x))
    if (obs is G or obs is E) and TOTAL_TOKENS_KEY in a:
        total = number(x, TOTAL_TOKENS_KEY)
        if total is not None:
            x.set_usage("total_tokens", total)


def _entity_input(x: Extraction) -> None:
    """`{"args": [...], "kwargs": {...}}` becomes the kwargs, plus `args` when there are
    positional arguments; any other JSON is taken as it is."""
    value = x.take_json("traceloop.entity.input")
    if value is None:
        return
    if isinstance(value, dict) and set(value) == {"args", "kwargs"}:
        args, kwargs = value["args"], value["kwargs"]
        if isinstance(kwargs, dict) and isinstance(args, list):
            value = {**kwargs, "args": args} if args else kwargs
    x.set_inputs(as_dict(value, "input"))


def _param(value: Any) -> Any:
    listed = strings(value)
    return listed if listed is not None else value


def _functions(x: Extraction) -> list[dict[str, Any]]:
    """`llm.request.functions.{i}.name|description|parameters` as tool definitions."""
    tools = []
    for _, fn in sorted(x.take_indexed(FUNCTIONS_PREFIX).items()):
        tool: dict[str, Any] = {"type": "function", "name": fn.get("name")}
        if "description" in fn:
            tool["description"] = fn["description"]
        if "parameters" in fn:
            tool["parameters"] = loads_maybe(fn["parameters"])
        tools.append(tool)
    return tools


CONVENTION = Convention(
    name="traceloop",
    namespaces=NAMESPACES,
    read=read,
    kinds=(
        (KIND_KEY, KINDS),
        (REQUEST_TYPE_KEY, REQUEST_KINDS),
        (sc.GEN_AI_OPERATION_NAME, OPERATION_KINDS),
    ),
)
