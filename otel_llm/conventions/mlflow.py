"""MLflow tracing: `mlflow.*` keys, every value JSON-encoded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from otel_llm.conventions import gen_ai
from otel_llm.conventions import messages as msgs
from otel_llm.conventions._typed import json_object
from otel_llm.conventions.base import A, Convention, E, Extraction, G, KindTable, R, S, T, as_dict
from otel_llm.model import ObservationType

NAMESPACES = frozenset({"mlflow"})

KIND_KEY = "mlflow.spanType"
_BARE: KindTable = {
    "LLM": (G, "llm"),
    "CHAT_MODEL": (G, "llm"),
    "EMBEDDING": (E, "embedding"),
    "RETRIEVER": (R, "retriever"),
    "RERANKER": (R, "retriever"),
    "TOOL": (T, "tool"),
    "AGENT": (A, "chain"),
    "CHAIN": (S, "chain"),
    "PARSER": (S, "parser"),
    "MEMORY": (S, "chain"),
    "WORKFLOW": (S, "chain"),
    "TASK": (S, "chain"),
    "GUARDRAIL": (S, "chain"),
    "EVALUATOR": (S, "chain"),
}
# MLflow JSON-encodes every value ("\"LLM\""); accept both spellings. UNKNOWN is absent.
KINDS: KindTable = {
    **_BARE,
    **{f'"{k}"': v for k, v in _BARE.items()},
}

# MLflow's genai semconv export writes its span type as `gen_ai.operation.name`, in any
# case (RETRIEVER, retriever). The official operation names are not among these, so
# gen_ai's own table still decides those.
OPERATION_KEY = "gen_ai.operation.name"
OPERATION_KINDS: KindTable = {
    spelling: kind
    for name, kind in _BARE.items()
    if name not in ("CHAIN", "TASK", "WORKFLOW")
    for spelling in (name, name.lower(), name.title(), name.title().replace("_", ""))
}


def read(x: Extraction) -> None:
    """Fills what `mlflow.*` attributes say (values are JSON text; bare strings are
    accepted where a string is expected). Usage and cost are read for generations and
    embeddings only. The span type stays raw: no writer restores it."""
    a = x.attrs
    obs = x.observation or S
    kind = a.get(KIND_KEY)
    if kind is not None and kind not in KINDS and decoded(kind) != "UNKNOWN":
        x.problem(KIND_KEY, "is not a known MLflow span type", kind)
    for key, name in METADATA.items():
        if key in a:
            x.set_metadata(name, _text(x, key))
    if MODEL_KEY in a:
        x.set_fact("model", _text(x, MODEL_KEY))
    if "mlflow.llm.provider" in a:
        provider = _text(x, "mlflow.llm.provider")
        if provider is not None:
            x.set_fact("provider", PROVIDER_FROM_MLFLOW.get(provider, provider))
    if "mlflow.chat.tools" in a:
        tools = x.take_json("mlflow.chat.tools")
        if tools is not None:
            x.invocation_params.setdefault("tools", tools)
    if obs is G or obs is E:
        _usage(x)
    shape_in, shape_out = IO_READERS.get(obs, (_plain_in, _plain_out))
    if x.inputs is None and "mlflow.spanInputs" in a:
        value = x.take_json("mlflow.spanInputs")
        if "mlflow.spanInputs" in x.consumed:
            x.set_inputs(shape_in(x, value))
    if x.outputs is None and "mlflow.spanOutputs" in a:
        value = x.take_json("mlflow.spanOutputs")
        if "mlflow.spanOutputs" in x.consumed:
            x.set_outputs(shape_out(x, value))
    if not x.span.parent_span_id:  # trace tags are copied onto the root span only
        for key, value in a.items():
            if key.startswith(TAG_PREFIX):
                x.consumed.add(key)
                x.set_metadata(key[len(TAG_PREFIX) :], value)


TAG_PREFIX = "mlflow.traceTag."
MODEL_KEY = "mlflow.llm.model"
USAGE_KEY = "mlflow.chat.tokenUsage"

# Keys whose (JSON-decoded) string value becomes one metadata entry.
METADATA: dict[str, str] = {
    "mlflow.traceRequestId": "mlflow_trace_id",
    "mlflow.experimentId": "mlflow_experiment_id",
    "mlflow.spanFunctionName": "function_name",
}

# MLflow's provider spellings -> LangSmith's ls_provider.
PROVIDER_FROM_MLFLOW: dict[str, str] = {
    **gen_ai.PROVIDER_FROM_GEN_AI,
    "mistral": "mistralai",
    "bedrock": "bedrock",
    "gemini": "google_genai",
}


def decoded(value: Any) -> Any:
    """An MLflow value: JSON text parsed, anything else as it is."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _text(x: Extraction, key: str) -> str | None:
    """A JSON-encoded string (a bare string is accepted too)."""
    raw = x.attrs.get(key)
    value = decoded(raw)
    if not isinstance(value, str):
        x.problem(key, "is not a string", raw)
        return None
    x.consumed.add(key)
    return value


# mlflow.chat.tokenUsage key -> (usage_metadata group or None, key). MLflow's
# input_tokens already include cached tokens (it normalises Anthropic's counts).
USAGE: dict[str, tuple[str | None, str]] = {
    "input_tokens": (None, "input_tokens"),
    "output_tokens": (None, "output_tokens"),
    "total_tokens": (None, "total_tokens"),
    "cache_read_input_tokens": ("input_token_details", "cache_read"),
    "cache_creation_input_tokens": ("input_token_details", "cache_creation"),
    "cache_creation_input_tokens_above_1hr": ("input_token_details", "ephemeral_1h_input_tokens"),
    "reasoning_tokens": ("output_token_details", "reasoning"),
}
COST_KEYS = frozenset({"input_cost", "output_cost", "total_cost"})


def _usage(x: Extraction) -> None:
    for key, known in ((USAGE_KEY, USAGE.keys()), ("mlflow.llm.cost", COST_KEYS)):
        if key not in x.attrs:
            continue
        usage = json_object(x, key)
        if usage is None:
            continue
        if not all(k in known and _is_number(v) for k, v in usage.items()):
            x.consumed.discard(key)  # kept raw: nothing is lost
            x.problem(key, "holds unknown or non-numeric entries", usage)
            continue
        for name, value in usage.items():
            group, target = USAGE.get(name, (None, name))
            if group is None:
                x.set_usage(target, value)
            else:
                x.set_usage_detail(group, target, value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- inputs and outputs ------------------------------------------------------------


def _plain_in(x: Extraction, value: Any) -> dict[str, Any]:
    return as_dict(value, "input")


def _plain_out(x: Extraction, value: Any) -> dict[str, Any]:
    return as_dict(value, "output")


def _generation_in(x: Extraction, value: Any) -> dict[str, Any]:
    """A chat request: its messages (system first) are the inputs, the rest parameters."""
    if not isinstance(value, dict) or not isinstance(value.get("messages"), list):
        return as_dict(value, "input")
    messages = msgs.from_gen_ai(value["messages"]) or value["messages"]
    system = value.get("system")
    if system is not None:
        messages = [msgs.message("system", system), *messages]
    _request_params(x, value, ("messages", "system"))
    return {"messages": messages}


def _request_params(x: Extraction, request: dict[str, Any], content: tuple[str, ...]) -> None:
    """A request's fields besides its content are parameters; its model is the run's
    model when no `mlflow.llm.model` named it (a manual span names it nowhere else)."""
    for k, v in request.items():
        if k not in content:
            x.invocation_params.setdefault(k, v)
    if isinstance(request.get("model"), str):
        x.set_fact("model", request["model"])


def _generation_out(x: Extraction, value: Any) -> dict[str, Any]:
    """A chat response: the assistant message(s), next to the response's other fields."""
    if isinstance(value, dict):
        choices = value.get("choices")
        if isinstance(choices, list) and all(
            isinstance(c, dict) and isinstance(c.get("message"), dict) for c in choices
        ):
            rest = {k: v for k, v in value.items() if k != "choices"}
            return {"messages": [choice_message(c) for c in choices], **rest}
        if value.get("type") == "message" and isinstance(value.get("content"), list):
            rest = {
                k: v
                for k, v in value.items()
                if k not in ("content", "role", "stop_reason", "type")
            }
            return {"messages": [anthropic_message(value)], **rest}
    return as_dict(value, "output")


def choice_message(choice: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI choice as a normalised message (empty fields dropped)."""
    m: dict[str, Any] = {"role": "assistant", "content": None}
    m.update({k: v for k, v in choice["message"].items() if v is not None and v != []})
    for k, v in choice.items():
        if k not in ("message", "index") and v is not None:
            m.setdefault(k, v)  # finish_reason, logprobs
    return m


def anthropic_message(response: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic Messages API response as a normalised message."""
    parts: list[Any] = []
    calls: list[dict[str, Any]] = []
    for block in response["content"]:
        btype = block.get("type") if isinstance(block, dict) else None
        if btype == "text":
            parts.append({"type": "text", "text": block.get("text")})
        elif btype == "thinking":
            parts.append({"type": "reasoning", "reasoning": block.get("thinking")})
        elif btype == "tool_use":
            calls.append(msgs.tool_call(block.get("id"), block.get("name"), block.get("input")))
        else:
            parts.append(block)
    content: Any = parts or None
    if len(parts) == 1 and isinstance(parts[0], dict) and parts[0].get("type") == "text":
        content = parts[0]["text"]
    return msgs.message(
        "assistant", content, tool_calls=calls, finish_reason=response.get("stop_reason")
    )


def _embedding_in(x: Extraction, value: Any) -> dict[str, Any]:
    if isinstance(value, dict) and "input" in value:
        texts = value["input"]
        _request_params(x, value, ("input",))
        return {"input": texts if isinstance(texts, list) else [texts]}
    return as_dict(value, "input")


def _embedding_out(x: Extraction, value: Any) -> dict[str, Any]:
    data = value.get("data") if isinstance(value, dict) else None
    if isinstance(data, list) and all(isinstance(d, dict) and "embedding" in d for d in data):
        rest = {k: v for k, v in value.items() if k != "data"}
        return {"embeddings": [d["embedding"] for d in data], **rest}
    return as_dict(value, "output")


def _retriever_in(x: Extraction, value: Any) -> dict[str, Any]:
    return as_dict(value, "query")


def _retriever_out(x: Extraction, value: Any) -> dict[str, Any]:
    if isinstance(value, list) and all(isinstance(d, dict) for d in value):
        return {"documents": [_document(d) for d in value]}
    return as_dict(value, "output")


def _document(doc: dict[str, Any]) -> dict[str, Any]:
    """An MLflow Document ({page_content, metadata, id}) with its id in the metadata."""
    if "page_content" not in doc:
        return doc
    md = doc.get("metadata")
    md = dict(md) if isinstance(md, dict) else {}
    for k, v in doc.items():
        if k not in ("page_content", "metadata", "type") and v is not None:
            md.setdefault(k, v)
    return {"page_content": doc["page_content"], "metadata": md, "type": "Document"}


def _tool_in(x: Extraction, value: Any) -> dict[str, Any]:
    return as_dict(value, "input")


def _tool_out(x: Extraction, value: Any) -> dict[str, Any]:
    return {"output": value}


Reshape = Callable[[Extraction, Any], dict[str, Any]]
# Observation type -> how its decoded input and output become the run's (default: plain).
IO_READERS: dict[ObservationType, tuple[Reshape, Reshape]] = {
    G: (_generation_in, _generation_out),
    E: (_embedding_in, _embedding_out),
    R: (_retriever_in, _retriever_out),
    T: (_tool_in, _tool_out),
}


CONVENTION = Convention(
    name="mlflow",
    namespaces=NAMESPACES,
    read=read,
    kinds=((KIND_KEY, KINDS), (OPERATION_KEY, OPERATION_KINDS)),
    model_keys=frozenset({MODEL_KEY}),
    usage_keys=frozenset({USAGE_KEY}),
)
