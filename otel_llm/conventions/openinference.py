"""OpenInference (Arize Phoenix and its instrumentors): `openinference.span.kind`,
`input.value` / `output.value`, flattened `llm.*`, `retrieval.documents.*`, `tool.*`,
`embedding.*`, `reranker.*`, `session.id`, `user.id`, `metadata`, `tag.tags`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from otel_llm import semconv as sc
from otel_llm.conventions import gen_ai
from otel_llm.conventions import messages as msgs
from otel_llm.conventions._typed import json_object, read_usage, strings, token_count
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
    dumps,
    loads_maybe,
)
from otel_llm.model import RUN_TYPE_OF, Attributes, ObservationType, Run

NAMESPACES = frozenset(
    {
        "openinference",
        "input",
        "output",
        "llm",
        "retrieval",
        "reranker",
        "embedding",
        "tool",
        "session",
        "user",
        "metadata",
        "tag",
        "agent",
        "graph",
        "prompt",
    }
)

KIND_KEY = "openinference.span.kind"
# UNKNOWN is no evidence: it is left out, so classification goes on.
KINDS: KindTable = {
    "LLM": (G, "llm"),
    "EMBEDDING": (E, "embedding"),
    "RETRIEVER": (R, "retriever"),
    "RERANKER": (R, "retriever"),
    "TOOL": (T, "tool"),
    "AGENT": (A, "chain"),
    "CHAIN": (S, "chain"),
    "PROMPT": (S, "prompt"),
    "GUARDRAIL": (S, "chain"),
    "EVALUATOR": (S, "chain"),
    "DECISION": (S, "chain"),
}

# OpenInference provider spellings (llm.provider, llm.system) -> LangSmith's ls_provider.
PROVIDER_FROM_OI: dict[str, str] = {
    **gen_ai.PROVIDER_FROM_GEN_AI,
    "mistralai": "mistralai",
    "vertexai": "google_vertexai",
    "google": "google_genai",
    "azure": "azure",
    "aws": "bedrock",
    "xai": "xai",
}

# The kind written for each observation type (and run_type, for spans).
KIND_OF: dict[ObservationType, str] = {
    G: "LLM",
    E: "EMBEDDING",
    R: "RETRIEVER",
    T: "TOOL",
    A: "AGENT",
    S: "CHAIN",
}


def read(x: Extraction) -> None:
    """Fills what OpenInference attributes say; flattened lists are re-nested.

    Model, provider, parameters and usage are read for generations and embeddings only
    (on other spans usage is an aggregate of the children). A JSON `input.value` /
    `output.value` that merely repeats the request / response whose messages the
    flattened keys carry is consumed; its other fields become invocation parameters
    (request) or stay next to the messages (response).
    """
    obs = x.observation or S
    _kind(x, obs)
    # Flattened lists matter to generations, embeddings and retrievers only.
    lists = flattened(x) if obs is G or obs is E or obs is R else {}
    if obs is G or obs is E:
        _model(x, obs, lists)
        read_usage(x, USAGE)
    _context(x, obs)
    if _ours(x):  # the lists only repeat the run's exact I/O, read from its own keys
        _repeated(x, lists, "llm.input_messages.", "llm.output_messages.", "retrieval.documents.")
    if x.inputs is None or x.outputs is None:
        IO_READERS.get(obs, _read_plain_io)(x, lists)


def _kind(x: Extraction, obs: ObservationType) -> None:
    value = x.attrs.get(KIND_KEY)
    if value is None:
        return
    run_type = x.run_type or RUN_TYPE_OF[obs]
    if value == ("PROMPT" if run_type == "prompt" else KIND_OF[obs]):
        x.consumed.add(KIND_KEY)  # what run_to_span writes back: fully represented
    elif value not in KINDS and value != "UNKNOWN":
        x.problem(KIND_KEY, "is not a known OpenInference span kind", value)


def _model(x: Extraction, obs: ObservationType, lists: Lists) -> None:
    a = x.attrs
    keys = (
        "llm.request.model_name",
        "embedding.model_name" if obs is E else "llm.model_name",
        "llm.response.model_name",
    )
    request, name, response = (_model_name(x, key) for key in keys)
    x.set_fact("model", request or name)
    x.set_fact("response_model", response or (name if name != x.model else None))
    if x.response_model is not None and x.model is not None and x.response_model != x.model:
        x.set_metadata("response_model", x.response_model)  # as the gen_ai reader keeps it
    for key in keys:
        value = a.get(key)
        if value is not None and value in (x.model, x.response_model):
            x.consumed.add(key)
    for key in ("llm.provider", "llm.system"):
        value = a.get(key)
        if isinstance(value, str):
            provider = PROVIDER_FROM_OI.get(value, value)
            x.set_fact("provider", provider)
            if x.provider == provider:  # a different llm.system stays raw
                x.consumed.add(key)
    for key in ("llm.invocation_parameters", "embedding.invocation_parameters"):
        params = json_object(x, key)
        if params:
            for k, v in params.items():
                x.invocation_params.setdefault(k, v)
    if "llm.tools." in lists:
        tools = [_tool_schema(x, item) for item in _items(x, lists, "llm.tools.")]
        x.invocation_params.setdefault("tools", tools)


def _model_name(x: Extraction, key: str) -> str | None:
    value = x.attrs.get(key)
    if value is not None and not isinstance(value, str):
        x.problem(key, "is not a string", value)
        return None
    return value


def _tool_schema(x: Extraction, item: dict[str, Any]) -> Any:
    raw = item.get("tool.json_schema")
    parsed = loads_maybe(raw)
    if isinstance(raw, str) and parsed is raw:
        x.problem("llm.tools.*.tool.json_schema", "is not valid JSON", raw)
    if len(item) == 1:
        return parsed
    # Newer instrumentors add tool.name / tool.description beside the schema.
    return {
        "json_schema": parsed,
        **{k.removeprefix("tool."): v for k, v in item.items() if k != "tool.json_schema"},
    }


# OpenInference token count / cost key -> (usage_metadata group or None, key).
USAGE: dict[str, tuple[str | None, str]] = {
    "llm.token_count.prompt": (None, "input_tokens"),
    "llm.token_count.completion": (None, "output_tokens"),
    "llm.token_count.total": (None, "total_tokens"),
    "llm.token_count.prompt_details.cache_read": ("input_token_details", "cache_read"),
    "llm.token_count.prompt_details.cache_write": ("input_token_details", "cache_creation"),
    "llm.token_count.prompt_details.audio": ("input_token_details", "audio"),
    "llm.token_count.completion_details.reasoning": ("output_token_details", "reasoning"),
    "llm.token_count.completion_details.audio": ("output_token_details", "audio"),
    "llm.cost.prompt": (None, "input_cost"),
    "llm.cost.completion": (None, "output_cost"),
    "llm.cost.total": (None, "total_cost"),
}


# Context keys -> metadata keys. Propagated keys (session, user, agent) are facts about
# the conversation, never evidence of the span's type.
METADATA: dict[str, str] = {
    "session.id": "session_id",
    "user.id": "user_id",
    "agent.name": "agent_name",
    "graph.node.id": "graph_node_id",
    "graph.node.name": "graph_node_name",
    "graph.node.parent_id": "graph_node_parent_id",
    "llm.prompt_template.template": "prompt_template",
    "llm.prompt_template.version": "prompt_template_version",
    "prompt.vendor": "prompt_vendor",
    "prompt.id": "prompt_id",
    "prompt.url": "prompt_url",
    "tool.description": "tool_description",
    "tool.id": "tool_call_id",
}
METADATA_JSON: dict[str, str] = {
    "llm.prompt_template.variables": "prompt_template_variables",
    "tool.parameters": "tool_parameters",
}


def _context(x: Extraction, obs: ObservationType) -> None:
    a = x.attrs
    for key, name in x.present(METADATA):
        x.set_metadata(name, x.take(key))
    for key, name in x.present(METADATA_JSON):
        x.set_metadata(name, x.take_json(key))
    if "metadata" in a:
        md = json_object(x, "metadata")
        if md:
            for k, v in md.items():
                x.set_metadata(k, v)
    if "tag.tags" in a:
        tags = strings(a["tag.tags"])
        if tags is None:
            x.problem("tag.tags", "is not a list of strings", a["tag.tags"])
        else:
            x.consumed.add("tag.tags")
            x.set_fact("tags", tags)
    tool_name = a.get("tool.name")
    if obs is T and tool_name is not None and tool_name == (x.name or x.span.name):
        x.consumed.add("tool.name")  # the run's name says it


# --- inputs and outputs ------------------------------------------------------------

_NOTHING: Any = object()


def _value(x: Extraction, key: str, mime_key: str) -> Any:
    """input.value / output.value: JSON when its mime type says so, else text.

    Returns `_NOTHING` when absent or unreadable (bad JSON is left raw and reported).
    """
    a = x.attrs
    value = a.get(key)
    if value is None:
        return _NOTHING
    if a.get(mime_key) == "application/json" and isinstance(value, (str, bytes)):
        parsed = x.take_json(key)
        if key not in x.consumed:
            return _NOTHING
    else:
        parsed = x.take(key)
    x.take(mime_key)
    return parsed


def _peek_json(x: Extraction, key: str, mime_key: str) -> Any:
    """The parsed JSON value of input.value / output.value, without consuming it."""
    a = x.attrs
    value = a.get(key)
    if a.get(mime_key) != "application/json" or not isinstance(value, (str, bytes)):
        return None
    return loads_maybe(value if isinstance(value, str) else value.decode())


def _consume_io(x: Extraction, key: str, mime_key: str) -> None:
    x.consumed.add(key)
    if mime_key in x.attrs:
        x.consumed.add(mime_key)


def _read_plain_io(x: Extraction, lists: Lists) -> None:
    if x.inputs is None:
        value = _value(x, sc.INPUT_VALUE, sc.INPUT_MIME_TYPE)
        if value is not _NOTHING:
            x.set_inputs(value)
    if x.outputs is None:
        value = _value(x, sc.OUTPUT_VALUE, sc.OUTPUT_MIME_TYPE)
        if value is not _NOTHING:
            x.set_outputs(value)


def _read_tool_io(x: Extraction, lists: Lists) -> None:
    if x.inputs is None:
        value = _value(x, sc.INPUT_VALUE, sc.INPUT_MIME_TYPE)
        if value is not _NOTHING:
            x.set_inputs(value)
    if x.outputs is None:
        value = _value(x, sc.OUTPUT_VALUE, sc.OUTPUT_MIME_TYPE)
        if value is not _NOTHING:
            x.set_outputs({"output": value})


# Request keys that carry what the flattened keys already say, per observation type.
REQUEST_CONTENT: dict[ObservationType, frozenset[str]] = {
    G: frozenset({"messages", "prompt"}),
    E: frozenset({"input"}),
}
# Response keys that carry what the flattened keys already say (OpenAI choices,
# Anthropic content blocks, LangChain generations, Responses API output, embeddings).
RESPONSE_CONTENT: dict[ObservationType, frozenset[str]] = {
    G: frozenset({"choices", "content", "generations", "output"}),
    E: frozenset({"data"}),
}
RESPONSE_REDUNDANT = frozenset({"role", "stop_reason"})  # carried by the messages


def _absorb_request(x: Extraction, obs: ObservationType) -> None:
    """The JSON request behind the flattened input: its other fields are parameters."""
    request = _peek_json(x, sc.INPUT_VALUE, sc.INPUT_MIME_TYPE)
    content = REQUEST_CONTENT[obs]
    if isinstance(request, dict) and not content.isdisjoint(request):
        _consume_io(x, sc.INPUT_VALUE, sc.INPUT_MIME_TYPE)
        for k, v in request.items():
            if k not in content:
                x.invocation_params.setdefault(k, v)


def _absorb_response(x: Extraction, obs: ObservationType) -> dict[str, Any] | None:
    """The JSON response behind the flattened output, when it only repeats it."""
    response = _peek_json(x, sc.OUTPUT_VALUE, sc.OUTPUT_MIME_TYPE)
    content = RESPONSE_CONTENT[obs]
    if not isinstance(response, dict) or content.isdisjoint(response):
        return None
    _consume_io(x, sc.OUTPUT_VALUE, sc.OUTPUT_MIME_TYPE)
    return response


def _ours(x: Extraction) -> bool:
    """A span otel-llm wrote: its exact I/O was read from its own keys, and the flattened
    lists only repeat it."""
    return sc.OTEL_LLM_IO_VERBATIM in x.consumed


def _repeated(x: Extraction, lists: Lists, *prefixes: str) -> None:
    for prefix in prefixes:
        found = lists.get(prefix)
        if found is not None:
            x.consumed.update(found[1])


def _read_generation_io(x: Extraction, lists: Lists) -> None:
    if x.inputs is None:
        if "llm.input_messages." in lists:
            x.set_inputs({"messages": _messages(x, lists, "llm.input_messages.", "user")})
            _absorb_request(x, G)
        elif "llm.prompts." in lists or "llm.prompts" in x.attrs:
            x.set_inputs({"prompt": _prompts(x, lists)})
            _absorb_request(x, G)
    if x.outputs is None:
        if "llm.output_messages." in lists:
            out = _messages(x, lists, "llm.output_messages.", "assistant")
            response = _absorb_response(x, G)
            _finish_reasons(x, out, response)
            x.set_outputs({"messages": out, **_rest(response, RESPONSE_CONTENT[G])})
        elif "llm.choices." in lists:
            choices = [
                {"index": i, "text": item.get("completion.text")}
                for i, item in enumerate(_items(x, lists, "llm.choices."))
            ]
            _finish_reasons(x, choices, _absorb_response(x, G))
            x.set_outputs({"choices": choices})
    _read_plain_io(x, lists)


def _rest(response: dict[str, Any] | None, content: frozenset[str]) -> dict[str, Any]:
    if not response:
        return {}
    return {k: v for k, v in response.items() if k not in content and k not in RESPONSE_REDUNDANT}


def _finish_reasons(
    x: Extraction, out: list[dict[str, Any]], response: dict[str, Any] | None
) -> None:
    """Finish reasons (and other per-choice facts) onto the output messages."""
    if response:
        choices = response.get("choices")
        if isinstance(choices, list):
            for i, choice in enumerate(choices[: len(out)]):
                if isinstance(choice, dict):
                    for k, v in choice.items():
                        if v is not None and k not in ("index", "message", "text", "delta"):
                            out[i].setdefault(k, v)
        elif response.get("stop_reason") is not None and out:
            out[0].setdefault("finish_reason", response["stop_reason"])
    reason = x.attrs.get("llm.finish_reason")
    if reason is not None and out:
        x.consumed.add("llm.finish_reason")
        out[0].setdefault("finish_reason", reason)


def _read_embedding_io(x: Extraction, lists: Lists) -> None:
    if "embedding.embeddings." in lists:
        items = _items(x, lists, "embedding.embeddings.")
        texts = [item["embedding.text"] for item in items if "embedding.text" in item]
        vectors = [item["embedding.vector"] for item in items if "embedding.vector" in item]
        if texts:
            x.set_inputs({"input": texts})
            _absorb_request(x, E)
        if vectors:
            response = _absorb_response(x, E)
            x.set_outputs({"embeddings": vectors, **_rest(response, RESPONSE_CONTENT[E])})
    _read_plain_io(x, lists)


def _read_retriever_io(x: Extraction, lists: Lists) -> None:
    a = x.attrs
    if x.inputs is None:
        if "reranker.query" in a:
            inputs: dict[str, Any] = {"query": x.take("reranker.query")}
            if "reranker.input_documents." in lists:
                inputs["documents"] = _documents(x, lists, "reranker.input_documents.")
            x.set_inputs(inputs)
        else:
            value = _value(x, sc.INPUT_VALUE, sc.INPUT_MIME_TYPE)
            if value is not _NOTHING:
                x.set_inputs(value if isinstance(value, dict) else {"query": value})
    if "reranker.model_name" in a:
        x.set_fact("model", x.take("reranker.model_name"))
    if "reranker.top_k" in a:
        x.invocation_params.setdefault("top_k", x.take("reranker.top_k"))
    if x.outputs is None:
        for prefix in ("retrieval.documents.", "reranker.output_documents."):
            if prefix in lists:
                docs = _documents(x, lists, prefix)
                rest = _absorb_documents(x, len(docs))
                x.set_outputs({"documents": docs, **rest})
                break
    _read_plain_io(x, lists)


def _absorb_documents(x: Extraction, n: int) -> dict[str, Any]:
    """output.value repeating the documents (a list of them, or {"documents": [...]})."""
    value = _peek_json(x, sc.OUTPUT_VALUE, sc.OUTPUT_MIME_TYPE)
    if isinstance(value, list) and len(value) == n:
        _consume_io(x, sc.OUTPUT_VALUE, sc.OUTPUT_MIME_TYPE)
        return {}
    if isinstance(value, dict) and "documents" in value:
        _consume_io(x, sc.OUTPUT_VALUE, sc.OUTPUT_MIME_TYPE)
        return {k: v for k, v in value.items() if k != "documents"}
    return {}


# Observation type -> its input/output reader (default: input.value / output.value).
IO_READERS: dict[ObservationType, Callable[[Extraction, Lists], None]] = {
    G: _read_generation_io,
    E: _read_embedding_io,
    R: _read_retriever_io,
    T: _read_tool_io,
}


# --- flattened lists ---------------------------------------------------------------


Lists = dict[str, tuple[dict[int, dict[str, Any]], list[str]]]

# The flattened lists OpenInference writes: `<prefix><i>.<rest>`.
LIST_PREFIXES = (
    "llm.input_messages.",
    "llm.output_messages.",
    "llm.tools.",
    "llm.prompts.",
    "llm.choices.",
    "retrieval.documents.",
    "reranker.input_documents.",
    "reranker.output_documents.",
    "embedding.embeddings.",
)


def flattened(x: Extraction) -> Lists:
    """Every flattened list of the span, re-nested: {prefix: ({i: {rest: value}}, keys)}.
    Nothing is consumed until a reader uses it. Where the lists are is a matter of keys
    alone, so it is worked out once per attribute shape (`x.shape_memo`)."""
    plan = x.shape_memo.get(__name__)
    if plan is None:
        plan = x.shape_memo[__name__] = _list_plan(x.attrs)
    a = x.attrs
    out: Lists = {}
    for prefix, entries, keys in plan:
        items: dict[int, dict[str, Any]] = {}
        for key, idx, rest in entries:
            item = items.get(idx)
            if item is None:
                item = items[idx] = {}
            item[rest] = a[key]
        out[prefix] = (items, keys)
    return out


_Plan = list[tuple[str, list[tuple[str, int, str]], list[str]]]


def _list_plan(a: Attributes) -> _Plan:
    """(prefix, [(key, index, rest)], keys) of each flattened list, in one pass."""
    found: dict[str, list[tuple[str, int, str]]] = {}
    for key in a:
        if not key.startswith(LIST_PREFIXES):  # one C call for the common miss
            continue
        second = key.find(".", key.find(".") + 1)
        idx, _, rest = key[second + 1 :].partition(".")
        if idx.isdigit():
            found.setdefault(key[: second + 1], []).append((key, int(idx), rest))
    return [(prefix, entries, [e[0] for e in entries]) for prefix, entries in found.items()]


def _items(x: Extraction, lists: Lists, prefix: str) -> list[dict[str, Any]]:
    """One list's items in index order, its keys marked as mapped."""
    found = lists.get(prefix)
    if found is None:
        return []
    items, keys = found
    x.consumed.update(keys)
    return [items[i] for i in sorted(items)]


def _pop_indexed(flat: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Pop `prefix{i}.rest` keys out of one re-nested item, as a list of dicts."""
    found: dict[int, dict[str, Any]] = {}
    n = len(prefix)
    for key in [k for k in flat if k.startswith(prefix)]:
        idx, _, rest = key[n:].partition(".")
        if idx.isdigit():
            found.setdefault(int(idx), {})[rest] = flat.pop(key)
    return [found[i] for i in sorted(found)]


def _messages(x: Extraction, lists: Lists, prefix: str, default_role: str) -> list[dict[str, Any]]:
    return [_message(flat, default_role) for flat in _items(x, lists, prefix)]


def _message(flat: dict[str, Any], default_role: str) -> dict[str, Any]:
    role = flat.pop("message.role", None) or default_role
    content = flat.pop("message.content", None)
    if not flat:  # the common message: a role and a text
        return {"role": role, "content": content}
    parts = [_part(p) for p in _pop_indexed(flat, "message.contents.")]
    if content is None and parts:
        one_text = len(parts) == 1 and parts[0].get("type") == "text" and len(parts[0]) == 2
        content = parts[0]["text"] if one_text else parts
    calls = [_tool_call(c) for c in _pop_indexed(flat, "message.tool_calls.")]
    m = msgs.message(
        role,
        content,
        tool_calls=calls,
        tool_call_id=flat.pop("message.tool_call_id", None),
        name=flat.pop("message.name", None),
    )
    fn_name = flat.pop("message.function_call_name", None)
    fn_args = flat.pop("message.function_call_arguments_json", None)
    if fn_name is not None or fn_args is not None:
        m["function_call"] = {"name": fn_name, "arguments": fn_args}
    for key, value in flat.items():  # anything newer is kept on the message
        m[key.removeprefix("message.")] = value
    return m


def _tool_call(flat: dict[str, Any]) -> dict[str, Any]:
    call = msgs.tool_call(
        flat.pop("tool_call.id", None),
        flat.pop("tool_call.function.name", None),
        flat.pop("tool_call.function.arguments", None),
    )
    for key, value in flat.items():
        call[key.removeprefix("tool_call.")] = value
    return call


def _part(flat: dict[str, Any]) -> dict[str, Any]:
    """One `message_content` item as an OpenAI-style content part."""
    ptype = flat.pop("message_content.type", None)
    part: dict[str, Any]
    if ptype == "image" and "message_content.image.image.url" in flat:
        part = {
            "type": "image_url",
            "image_url": {"url": flat.pop("message_content.image.image.url")},
        }
    elif ptype == "reasoning":
        part = {"type": "reasoning", "reasoning": flat.pop("message_content.text", None)}
    elif ptype in ("text", None) and "message_content.text" in flat:
        part = {"type": "text", "text": flat.pop("message_content.text")}
    else:
        part = {"type": ptype}
    for key, value in flat.items():
        part[key.removeprefix("message_content.")] = value
    return part


def _prompts(x: Extraction, lists: Lists) -> Any:
    """Legacy completion prompts: one text, or a list of them."""
    if "llm.prompts" in x.attrs:
        texts = x.take("llm.prompts")
    else:
        texts = [item.get("prompt.text") for item in _items(x, lists, "llm.prompts.")]
    if isinstance(texts, (list, tuple)):
        return texts[0] if len(texts) == 1 else list(texts)
    return texts


def _documents(x: Extraction, lists: Lists, prefix: str) -> list[dict[str, Any]]:
    return [_document(x, flat) for flat in _items(x, lists, prefix)]


def _document(x: Extraction, flat: dict[str, Any]) -> dict[str, Any]:
    """A LangChain-style document; id and score go inside its metadata."""
    raw_md = flat.pop("document.metadata", None)
    md = loads_maybe(raw_md)
    if md is None:
        md = {}
    elif not isinstance(md, dict):
        x.problem("document.metadata", "is not a JSON object", raw_md)
        md = {"metadata": raw_md}
    content = flat.pop("document.content", None)
    for key, value in flat.items():  # id, score, and anything newer (url, name, ...)
        md[key.removeprefix("document.")] = value
    return {
        "page_content": content if content is not None else "",
        "metadata": md,
        "type": "Document",
    }


# --- writing -----------------------------------------------------------------------


def write(run: Run, facts: RunFacts, out: dict[str, Any]) -> None:
    """Kind, model, provider, token counts, messages and documents, so Phoenix classifies
    and shows the span.

    The one model key holds the model that answered when it is known (else the one
    requested). Messages are written as `llm.input_messages.*` / `llm.output_messages.*`
    whenever the run holds them, retrieved documents as `retrieval.documents.*`. The run's
    exact I/O is in `input.value` / `output.value`, which the writer in
    `otel_llm.convert` always adds when this family is emitted.
    """
    obs = facts.observation
    out[KIND_KEY] = "PROMPT" if run.run_type == "prompt" else KIND_OF[obs]
    if obs in (G, E):
        model = facts.response_model or facts.model
        if model:
            out["llm.model_name" if obs is G else "embedding.model_name"] = model
        if facts.provider and obs is G:
            out["llm.provider"] = facts.provider
        usage = facts.usage or {}
        for src, key in (
            ("input_tokens", "llm.token_count.prompt"),
            ("output_tokens", "llm.token_count.completion"),
            ("total_tokens", "llm.token_count.total"),
        ):
            count = usage.get(src)
            if type(count) is not int:  # (no call for the usual int)
                count = token_count(count)
            if count is not None:
                out[key] = count
        if facts.invocation_params:
            out["llm.invocation_parameters"] = dumps(facts.invocation_params)
        if facts.input_messages:
            write_messages(facts.input_messages, "llm.input_messages.", out)
        if facts.output_messages:
            write_messages(facts.output_messages, "llm.output_messages.", out)
    elif obs is T and run.name:
        out["tool.name"] = run.name
    elif obs is R and facts.retrieval_documents:
        write_documents(facts.retrieval_documents, "retrieval.documents.", out)
    if run.tags:
        out["tag.tags"] = tuple(run.tags)
    if facts.session is not None:
        out["session.id"] = facts.session


@functools.lru_cache(maxsize=1024)
def _message_keys(prefix: str, i: int) -> tuple[str, str, str]:
    """(`{prefix}{i}.message.`, its role key, its content key): made once, as every
    span with messages writes them."""
    p = f"{prefix}{i}.message."
    return p, p + "role", p + "content"


def write_messages(messages: list[dict[str, Any]], prefix: str, out: dict[str, Any]) -> None:
    """Official `{role, parts}` messages as flattened OpenInference messages."""
    for i, m in enumerate(messages):
        p, role_key, content_key = _message_keys(prefix, i)
        out[role_key] = str(m.get("role"))
        if m.get("name") is not None:
            out[p + "name"] = str(m["name"])
        parts = m.get("parts")
        if type(parts) is list and len(parts) == 1:  # the common message: one text part
            part = parts[0]
            if type(part) is dict and part.get("type") == "text":
                content = part.get("content")
                if type(content) is str:
                    out[content_key] = content
                    continue
        texts: list[dict[str, Any]] = []
        calls = 0
        for part in parts or ():
            if not isinstance(part, dict):
                continue
            ptype = part.get("type")
            if ptype == "tool_call":
                c = f"{p}tool_calls.{calls}.tool_call."
                calls += 1
                if part.get("id") is not None:
                    out[c + "id"] = str(part["id"])
                if part.get("name") is not None:
                    out[c + "function.name"] = str(part["name"])
                args = part.get("arguments")
                if args is not None:
                    out[c + "function.arguments"] = args if isinstance(args, str) else dumps(args)
            elif ptype == "tool_call_response":
                if part.get("id") is not None:
                    out[p + "tool_call_id"] = str(part["id"])
                response = part.get("response")
                texts.append(
                    {
                        "type": "text",
                        "content": response if isinstance(response, str) else dumps(response),
                    }
                )
            else:
                texts.append(part)
        if len(texts) == 1 and texts[0].get("type") == "text":
            content = texts[0].get("content")
            out[content_key] = content if isinstance(content, str) else dumps(content)
        else:
            for j, part in enumerate(texts):
                c = f"{p}contents.{j}.message_content."
                ptype = part.get("type")
                if ptype in ("text", "reasoning"):
                    out[c + "type"] = str(ptype)
                    content = part.get("content")
                    out[c + "text"] = content if isinstance(content, str) else dumps(content)
                elif ptype == "image_url" and isinstance(part.get("image_url"), dict):
                    out[c + "type"] = "image"
                    out[c + "image.image.url"] = str(part["image_url"].get("url"))
                elif ptype == "uri" and part.get("modality") == "image":
                    out[c + "type"] = "image"
                    out[c + "image.image.url"] = str(part.get("uri"))
                else:  # anything else, as JSON text
                    out[c + "type"] = "text"
                    out[c + "text"] = dumps(part)


def write_documents(docs: list[Any], prefix: str, out: dict[str, Any]) -> None:
    """Official retrieval documents (`{content, id?, score?, metadata?}`) as flattened
    OpenInference documents."""
    for i, doc in enumerate(docs):
        p = f"{prefix}{i}.document."
        if not isinstance(doc, dict):
            out[p + "content"] = doc if isinstance(doc, str) else dumps(doc)
            continue
        content = doc.get("content")
        if content is not None:
            out[p + "content"] = content if isinstance(content, str) else dumps(content)
        if doc.get("id") is not None:
            out[p + "id"] = str(doc["id"])
        score = doc.get("score")
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            out[p + "score"] = float(score)
        md = doc.get("metadata")
        if md:
            out[p + "metadata"] = dumps(md)


CONVENTION = Convention(
    name="openinference",
    namespaces=NAMESPACES,
    read=read,
    kinds=((KIND_KEY, KINDS),),
    model_keys=frozenset({"llm.model_name"}),
    usage_keys=frozenset({"llm.token_count.prompt", "llm.token_count.total"}),
    write=write,
)
