"""Vercel AI SDK: `ai.*` keys; the inner `*.doGenerate` / `*.doStream` span is the
generation, outer `ai.generateText`-style spans are orchestration with aggregated usage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otel_llm.conventions import messages as msgs
from otel_llm.conventions._typed import read_usage, text
from otel_llm.conventions.base import (
    Convention,
    E,
    Extraction,
    G,
    KindTable,
    R,
    S,
    T,
    as_dict,
    dumps,
    loads_maybe,
)
from otel_llm.model import ObservationType, ns_to_iso

NAMESPACES = frozenset({"ai"})

KIND_KEY = "ai.operationId"
KINDS: KindTable = {
    "ai.generateText.doGenerate": (G, "llm"),
    "ai.streamText.doStream": (G, "llm"),
    "ai.generateObject.doGenerate": (G, "llm"),
    "ai.streamObject.doStream": (G, "llm"),
    "ai.embed.doEmbed": (E, "embedding"),
    "ai.embedMany.doEmbed": (E, "embedding"),
    "ai.toolCall": (T, "tool"),
    "ai.generateText": (S, "chain"),
    "ai.streamText": (S, "chain"),
    "ai.generateObject": (S, "chain"),
    "ai.streamObject": (S, "chain"),
    "ai.embed": (S, "chain"),
    "ai.embedMany": (S, "chain"),
    "ai.rerank.doRerank": (R, "retriever"),
    "ai.rerank": (S, "chain"),
}
MODEL_KEY = "ai.model.id"


def read(x: Extraction) -> None:
    """Fills what `ai.*` attributes say. Usage is read from the inner generation and
    embedding spans only: the outer `ai.generateText`-style spans repeat their sum."""
    a = x.attrs
    obs = x.observation or S
    _model(x)
    _settings_and_metadata(x)
    if obs is G or obs is E:
        _usage(x, obs)
    if "ai.toolCall.name" in a or "ai.toolCall.args" in a:
        _tool_call(x)
    elif "ai.values" in a or "ai.value" in a:
        _embedding_io(x)
    elif "ai.documents" in a:
        _rerank_io(x)
    else:
        _text_io(x, obs)


# --- model, settings, metadata -----------------------------------------------------

# Vercel provider ids ("openai.chat", "google.vertex.chat", ...) by prefix -> ls_provider.
PROVIDERS: dict[str, str] = {
    "openai": "openai",
    "azure": "azure",
    "azure-openai": "azure",
    "anthropic": "anthropic",
    "google": "google_genai",
    "google.generative-ai": "google_genai",
    "google.vertex": "google_vertexai",
    "vertex": "google_vertexai",
    "amazon-bedrock": "bedrock",
    "bedrock": "bedrock",
    "mistral": "mistralai",
    "groq": "groq",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "xai": "xai",
    "perplexity": "perplexity",
}


def provider_of(value: str) -> str:
    """The ls_provider for a Vercel provider id: its longest known dotted prefix."""
    name = value
    while name:
        if name in PROVIDERS:
            return PROVIDERS[name]
        name = name.rpartition(".")[0]
    return value.partition(".")[0]


def _model(x: Extraction) -> None:
    a = x.attrs
    x.set_fact("model", text(x, MODEL_KEY))
    provider = a.get("ai.model.provider")
    if isinstance(provider, str):
        x.set_fact("provider", provider_of(provider))
        if provider in PROVIDERS:  # "openai.chat" keeps its API flavour raw
            x.consumed.add("ai.model.provider")
    response_model = a.get("ai.response.model")
    if response_model is not None:
        if response_model == x.model:
            x.consumed.add("ai.response.model")
        else:
            x.set_fact("response_model", response_model)
    function_id = text(x, "ai.telemetry.functionId")
    if function_id is not None:
        x.set_metadata("function_id", function_id)
        # Both only repeat what ai.operationId and the function id say.
        if a.get("resource.name") == function_id:
            x.consumed.add("resource.name")
    op = a.get("ai.operationId")
    if op is not None and a.get("operation.name") in (op, f"{op} {function_id}"):
        x.consumed.add("operation.name")


# ai.settings.<name> -> invocation_params key (the official request parameter names).
SETTINGS: dict[str, str] = {
    "maxOutputTokens": "max_tokens",
    "maxTokens": "max_tokens",
    "temperature": "temperature",
    "topP": "top_p",
    "topK": "top_k",
    "presencePenalty": "presence_penalty",
    "frequencyPenalty": "frequency_penalty",
    "stopSequences": "stop",
    "seed": "seed",
    "maxRetries": "max_retries",
}
_SETTINGS = "ai.settings."
_METADATA = "ai.telemetry.metadata."


def _settings_and_metadata(x: Extraction) -> None:
    for key, value in x.attrs.items():
        if key.startswith(_SETTINGS):
            name = key[len(_SETTINGS) :]
            x.consumed.add(key)
            x.invocation_params.setdefault(SETTINGS.get(name, name), value)
        elif key.startswith(_METADATA):
            x.consumed.add(key)
            x.set_metadata(key[len(_METADATA) :], value)
    tools = x.attrs.get("ai.prompt.tools")
    if tools is not None:
        parsed = [loads_maybe(t) for t in tools] if isinstance(tools, (list, tuple)) else None
        if parsed is None:
            x.problem("ai.prompt.tools", "is not a list of JSON tool definitions", tools)
        else:
            x.consumed.add("ai.prompt.tools")
            x.invocation_params.setdefault("tools", parsed)
    if "ai.prompt.toolChoice" in x.attrs:
        choice = x.take_json("ai.prompt.toolChoice")
        if choice is not None:
            x.invocation_params.setdefault("tool_choice", choice)


# --- usage ---------------------------------------------------------------------------

# ai.usage.* -> (usage_metadata group or None, key). v5+ inputTokens include the cached
# tokens and outputTokens the reasoning ones, as LangSmith counts them; v4 spelled them
# promptTokens / completionTokens; embeddings report `tokens`.
USAGE: dict[str, tuple[str | None, str]] = {
    "ai.usage.inputTokens": (None, "input_tokens"),
    "ai.usage.promptTokens": (None, "input_tokens"),
    "ai.usage.outputTokens": (None, "output_tokens"),
    "ai.usage.completionTokens": (None, "output_tokens"),
    "ai.usage.totalTokens": (None, "total_tokens"),
    "ai.usage.tokens": (None, "input_tokens"),
    "ai.usage.cachedInputTokens": ("input_token_details", "cache_read"),
    "ai.usage.inputTokenDetails.cacheReadTokens": ("input_token_details", "cache_read"),
    "ai.usage.inputTokenDetails.cacheWriteTokens": ("input_token_details", "cache_creation"),
    "ai.usage.reasoningTokens": ("output_token_details", "reasoning"),
    "ai.usage.outputTokenDetails.reasoningTokens": ("output_token_details", "reasoning"),
}
# Breakdowns that follow from the counts above; consumed only when they agree.
DERIVED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "ai.usage.inputTokenDetails.noCacheTokens": lambda u: (
        u.get("input_tokens", 0)
        - u.get("input_token_details", {}).get("cache_read", 0)
        - u.get("input_token_details", {}).get("cache_creation", 0)
    ),
    "ai.usage.outputTokenDetails.textTokens": lambda u: (
        u.get("output_tokens", 0) - u.get("output_token_details", {}).get("reasoning", 0)
    ),
}


def _usage(x: Extraction, obs: ObservationType) -> None:
    a = x.attrs
    read_usage(x, USAGE)
    for key, derive in DERIVED.items():
        if key in a and a[key] == derive(x.usage):
            x.consumed.add(key)
    ms = a.get("ai.response.msToFirstChunk")
    if isinstance(ms, (int, float)) and not isinstance(ms, bool) and ms >= 0:
        # LangSmith's first-token time is its first `new_token` event.
        x.consumed.add("ai.response.msToFirstChunk")
        ns = x.span.start_time_unix_nano + round(ms * 1_000_000)
        event: dict[str, Any] = {"name": "new_token", "time": ns_to_iso(ns)}
        if ns % 1000:
            event["time_unix_nano"] = ns
        x.add_run_event(event)


# --- inputs and outputs ------------------------------------------------------------


def _text_io(x: Extraction, obs: ObservationType) -> None:
    a = x.attrs
    if x.inputs is None:
        if "ai.prompt.messages" in a:
            messages = x.take_json("ai.prompt.messages")
            if messages is not None:
                x.set_inputs({"messages": from_ai_sdk(messages)})
        elif "ai.prompt" in a:
            prompt = x.take_json("ai.prompt")
            if prompt is not None:
                x.set_inputs(_prompt_messages(prompt) if obs is G else prompt)
    if x.outputs is None:
        response = {
            name: value
            for key, name in RESPONSE.items()
            if (value := _response_value(x, key)) is not None
        }
        if response:
            x.set_outputs({"messages": [_assistant(response)]} if obs is G else response)


# ai.response.* -> the field of the result object generateText / generateObject return.
RESPONSE: dict[str, str] = {
    "ai.response.text": "text",
    "ai.response.object": "object",
    "ai.response.toolCalls": "toolCalls",
    "ai.response.reasoning": "reasoning",
    "ai.response.finishReason": "finishReason",
}
_RESPONSE_JSON = frozenset({"ai.response.object", "ai.response.toolCalls"})


def _response_value(x: Extraction, key: str) -> Any:
    if key not in x.attrs:
        return None
    return x.take_json(key) if key in _RESPONSE_JSON else x.take(key)


def _prompt_messages(prompt: Any) -> dict[str, Any]:
    """ai.prompt ({system?, prompt? | messages?}) as chat messages."""
    if not isinstance(prompt, dict):
        return {"messages": [msgs.message("user", prompt)]}
    messages: list[dict[str, Any]] = []
    if prompt.get("system") is not None:
        messages.append(msgs.message("system", prompt["system"]))
    if isinstance(prompt.get("messages"), list):
        messages.extend(from_ai_sdk(prompt["messages"]))
    if prompt.get("prompt") is not None:
        messages.append(msgs.message("user", prompt["prompt"]))
    return {"messages": messages}


def _assistant(response: dict[str, Any]) -> dict[str, Any]:
    text_out = response.get("text")
    if text_out is None and "object" in response:
        text_out = dumps(response["object"])
    reasoning = response.get("reasoning")
    content: Any = text_out
    if reasoning:
        content = [{"type": "reasoning", "reasoning": reasoning}]
        if text_out is not None:
            content.append({"type": "text", "text": text_out})
    calls = response.get("toolCalls")
    return msgs.message(
        "assistant",
        content,
        tool_calls=[_call(c) for c in calls] if isinstance(calls, list) else None,
        finish_reason=response.get("finishReason"),
    )


def _call(call: Any) -> dict[str, Any]:
    if not isinstance(call, dict):
        return {"type": "function", "function": {"name": None, "arguments": dumps(call)}}
    args = call.get("input", call.get("args"))
    return msgs.tool_call(call.get("toolCallId"), call.get("toolName"), args)


def from_ai_sdk(messages: Any) -> list[Any]:
    """AI SDK messages (content as a string or typed parts) as normalised messages."""
    if not isinstance(messages, list):
        return [msgs.message("user", messages)]
    out: list[Any] = []
    for m in messages:
        if not isinstance(m, dict):
            out.append(m)
            continue
        content = m.get("content")
        if not isinstance(content, list):
            out.append(msgs.message(m.get("role"), content))
            continue
        parts: list[Any] = []
        calls: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                parts.append({"type": "text", "text": part.get("text")})
            elif kind == "reasoning":
                parts.append({"type": "reasoning", "reasoning": part.get("text")})
            elif kind == "tool-call":
                calls.append(_call(part))
            elif kind == "tool-result":
                results.append(part)
            else:
                parts.append(part)
        one_text = len(parts) == 1 and parts[0].get("type") == "text"
        body = parts[0]["text"] if one_text else (parts or None)
        if results:  # one tool message per result, as chat APIs carry them
            out.extend(
                msgs.message(
                    "tool",
                    _result_text(r),
                    tool_call_id=r.get("toolCallId"),
                    name=r.get("toolName"),
                )
                for r in results
            )
            if body is None:
                continue
        out.append(msgs.message(m.get("role"), body, tool_calls=calls))
    return out


def _result_text(part: dict[str, Any]) -> Any:
    """A tool result's content: v5+ wraps it as {type: "json" | "text", value}."""
    result = part.get("output", part.get("result"))
    if (
        isinstance(result, dict)
        and "value" in result
        and result.get("type") in ("json", "text", "error-text", "error-json")
    ):
        result = result["value"]
    return result if isinstance(result, str) else dumps(result)


def _tool_call(x: Extraction) -> None:
    a = x.attrs
    name = text(x, "ai.toolCall.name")
    if name != x.span.name:
        x.set_fact("name", name)
    call_id = text(x, "ai.toolCall.id")
    if call_id is not None:
        x.set_metadata("tool_call_id", call_id)
    if x.inputs is None and "ai.toolCall.args" in a:
        args = x.take_json("ai.toolCall.args")
        if "ai.toolCall.args" in x.consumed:
            x.set_inputs(as_dict(args, "input"))
    if x.outputs is None and "ai.toolCall.result" in a:
        result = x.take_json("ai.toolCall.result")
        if "ai.toolCall.result" in x.consumed:
            x.set_outputs({"output": result})


def _json_list(x: Extraction, key: str) -> list[Any] | None:
    """An OTel string array whose items are JSON text (ai.values, ai.embeddings, ...)."""
    value = x.attrs.get(key)
    if not isinstance(value, (list, tuple)):
        x.problem(key, "is not a list of JSON values", value)
        return None
    x.consumed.add(key)
    return [loads_maybe(v) for v in value]


def _embedding_io(x: Extraction) -> None:
    a = x.attrs
    if x.inputs is None:
        if "ai.values" in a:
            values = _json_list(x, "ai.values")
        else:
            one = x.take_json("ai.value")
            values = None if one is None else [one]
        if values is not None:
            x.set_inputs({"input": values})
    if x.outputs is None:
        if "ai.embeddings" in a:
            vectors = _json_list(x, "ai.embeddings")
        elif "ai.embedding" in a:
            one = x.take_json("ai.embedding")
            vectors = None if one is None else [one]
        else:
            vectors = None
        if vectors is not None:
            x.set_outputs({"embeddings": vectors})


def _rerank_io(x: Extraction) -> None:
    docs = _json_list(x, "ai.documents")
    if docs is None:
        return
    x.set_inputs({"documents": docs})
    if "ai.ranking" in x.attrs:
        ranking = _json_list(x, "ai.ranking")
        if ranking is not None and x.outputs is None:
            x.take("ai.ranking.type")
            x.set_outputs({"documents": [_ranked(docs, r) for r in ranking]})


def _ranked(docs: list[Any], ranking: Any) -> Any:
    if not isinstance(ranking, dict) or not isinstance(ranking.get("index"), int):
        return ranking
    i = ranking["index"]
    doc = docs[i] if 0 <= i < len(docs) else None
    return {
        "page_content": doc if isinstance(doc, str) else dumps(doc),
        "metadata": {"index": i, "score": ranking.get("relevanceScore")},
        "type": "Document",
    }


CONVENTION = Convention(
    name="vercel",
    namespaces=NAMESPACES,
    read=read,
    kinds=((KIND_KEY, KINDS),),
    model_keys=frozenset({MODEL_KEY}),
    usage_keys=frozenset({"ai.usage.inputTokens", "ai.usage.promptTokens"}),
)
