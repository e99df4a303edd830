"""OpenTelemetry GenAI semantic conventions (`gen_ai.*`), every version in the wild.

Reads: v1.37+ message attributes, v1.28-1.36 message events, v1.26-1.27
`gen_ai.content.*` events, legacy `gen_ai.prompt` / `gen_ai.completion` and their
flattened `gen_ai.prompt.{i}.*` form, tools, retrieval, and usage in every spelling.
Writes: the latest official keys.

Keys the project documents and writes are `otel_llm.semconv` constants (`sc.*`); string
literals are the older or vendor spellings that are only read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from otel_llm import semconv as sc
from otel_llm.conventions import messages as msgs
from otel_llm.conventions._typed import read_usage, strings, text, token_count
from otel_llm.conventions.base import (
    ERROR_TYPE,
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
    error_type,
    indexed,
    loads_maybe,
)
from otel_llm.model import ObservationType, Run, StatusCode

NAMESPACES = frozenset({"gen_ai", "error"})

KIND_KEY = sc.GEN_AI_OPERATION_NAME
# Official operation names only: non-standard values written by other SDKs
# (`chain`, `execute_task`, ...) are not evidence of a type.
KINDS: KindTable = {
    "chat": (G, None),
    "text_completion": (G, None),
    "generate_content": (G, None),
    "embeddings": (E, None),
    "retrieval": (R, None),
    "execute_tool": (T, None),
    "create_agent": (A, None),
    "invoke_agent": (A, None),
    "invoke_workflow": (S, None),
    "plan": (S, None),
}

# Non-standard operation names that SDKs are known to write (LangSmith: run types;
# OpenLLMetry's LangChain instrumentor; MLflow: its span types): not worth a problem.
WILD_OPERATIONS = frozenset(
    {
        "llm",
        "chain",
        "tool",
        "retriever",
        "embedding",
        "prompt",
        "parser",
        "agent",
        "workflow",
        "task",
        "chat_model",
        "reranker",
        "memory",
        "guardrail",
        "evaluator",
        "unknown",
        "execute_task",
        "vector_db_retrieve",
    }
)

# The operation name written for each observation type (none for plain spans).
OPERATION_OF: dict[ObservationType, str] = {
    G: "chat",
    E: "embeddings",
    R: "retrieval",
    T: "execute_tool",
    A: "invoke_agent",
}

# LangSmith's ls_provider <-> official gen_ai.provider.name.
PROVIDER_TO_GEN_AI: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "google_vertexai": "gcp.vertex_ai",
    "google_genai": "gcp.gemini",
    "bedrock": "aws.bedrock",
    "amazon_bedrock": "aws.bedrock",
    "mistralai": "mistral_ai",
    "groq": "groq",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "ibm": "ibm.watsonx.ai",
}
# Official and legacy (`gen_ai.system`) spellings -> ls_provider.
PROVIDER_FROM_GEN_AI: dict[str, str] = {
    **{v: k for k, v in PROVIDER_TO_GEN_AI.items() if k not in ("azure_openai", "amazon_bedrock")},
    "vertex_ai": "google_vertexai",
    "gemini": "google_genai",
    "az.ai.openai": "azure",
    "az.ai.inference": "azure",
    "azure.ai.inference": "azure",
    "aws_bedrock": "bedrock",
}

# invocation_params key -> gen_ai.request.* key (one table serves both directions).
REQUEST_PARAMS: dict[str, str] = {
    "temperature": sc.GEN_AI_REQUEST_TEMPERATURE,
    "max_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS,
    "top_p": sc.GEN_AI_REQUEST_TOP_P,
    "top_k": sc.GEN_AI_REQUEST_TOP_K,
    "stop": sc.GEN_AI_REQUEST_STOP_SEQUENCES,
    "frequency_penalty": sc.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": sc.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "seed": sc.GEN_AI_REQUEST_SEED,
    "n": "gen_ai.request.choice.count",
    "stream": "gen_ai.request.stream",
}

# usage_metadata (details group or None, count) -> gen_ai.usage.* key, as written.
USAGE_KEYS: tuple[tuple[str | None, str, str], ...] = (
    (None, "input_tokens", sc.GEN_AI_USAGE_INPUT_TOKENS),
    (None, "output_tokens", sc.GEN_AI_USAGE_OUTPUT_TOKENS),
    ("input_token_details", "cache_read", sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    ("input_token_details", "cache_creation", sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
    ("output_token_details", "reasoning", sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
)

# The same, by group: (group or None, ((count, key), ...)), for the writer.
USAGE_WRITTEN: tuple[tuple[str | None, tuple[tuple[str, str], ...]], ...] = tuple(
    (group, tuple((name, key) for g, name, key in USAGE_KEYS if g == group))
    for group in dict.fromkeys(g for g, _, _ in USAGE_KEYS)
)

# --- reading -----------------------------------------------------------------------

IN, OUT = "input_token_details", "output_token_details"

# Every spelling of a token count -> (usage_metadata group or None, key). Input tokens
# include cached tokens in all of them (OTel's rule; OpenLLMetry adds Anthropic's).
USAGE_READ: dict[str, tuple[str | None, str]] = {
    sc.GEN_AI_USAGE_INPUT_TOKENS: (None, "input_tokens"),
    "gen_ai.usage.prompt_tokens": (None, "input_tokens"),
    sc.GEN_AI_USAGE_OUTPUT_TOKENS: (None, "output_tokens"),
    "gen_ai.usage.completion_tokens": (None, "output_tokens"),
    "gen_ai.usage.total_tokens": (None, "total_tokens"),  # OpenLLMetry's
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: (IN, "cache_read"),
    "gen_ai.usage.cache_read_input_tokens": (IN, "cache_read"),
    sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: (IN, "cache_creation"),
    "gen_ai.usage.cache_write.input_tokens": (IN, "cache_creation"),
    "gen_ai.usage.cache_creation_input_tokens": (IN, "cache_creation"),
    sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: (OUT, "reasoning"),
    "gen_ai.usage.reasoning_tokens": (OUT, "reasoning"),
}

# Request keys read besides REQUEST_PARAMS (older or neighbouring spellings).
REQUEST_PARAMS_READ: dict[str, str] = {
    "gen_ai.retrieval.top_k": "top_k",
    "gen_ai.openai.request.seed": "seed",
    "gen_ai.openai.request.response_format": "response_format",
    "gen_ai.openai.request.service_tier": "service_tier",
    "openai.request.service_tier": "service_tier",  # 1.37+ (no gen_ai. prefix)
    "gen_ai.request.encoding_formats": "encoding_formats",
    "gen_ai.output.type": "output_type",
    "gen_ai.is_streaming": "stream",  # OpenLLMetry's
}

# Every request key read -> its invocation_params key.
REQUEST_KEYS: dict[str, str] = {
    **{key: param for param, key in REQUEST_PARAMS.items()},
    **REQUEST_PARAMS_READ,
}

# Context keys -> metadata keys. Agent, conversation and workflow keys are copied onto
# descendant spans by several SDKs: facts about the conversation, never about the type.
METADATA: dict[str, str] = {
    sc.GEN_AI_CONVERSATION_ID: "conversation_id",
    sc.GEN_AI_AGENT_ID: "agent_id",
    sc.GEN_AI_AGENT_DESCRIPTION: "agent_description",
    "gen_ai.agent.version": "agent_version",
    "gen_ai.workflow.name": "workflow_name",
    sc.GEN_AI_DATA_SOURCE_ID: "data_source_id",
    "gen_ai.prompt.name": "prompt_name",
    sc.GEN_AI_RESPONSE_ID: "response_id",
    sc.GEN_AI_TOOL_CALL_ID: "tool_call_id",
    sc.GEN_AI_TOOL_TYPE: "tool_type",
    sc.GEN_AI_TOOL_DESCRIPTION: "tool_description",
    "gen_ai.openai.response.system_fingerprint": "system_fingerprint",
    "gen_ai.openai.system_fingerprint": "system_fingerprint",
    "gen_ai.openai.response.service_tier": "service_tier",
    # 1.37+ moved the OpenAI keys out of gen_ai.* (openai-v2 2.4 writes these).
    "openai.response.system_fingerprint": "system_fingerprint",
    "openai.response.service_tier": "service_tier",
    sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: "embedding_dimensions",  # of the answer
}

# An agent's (tool's) own name names its run when the span is named by it, the official
# way (`{operation} {name}`, which run_to_span derives back) or plainly; a span name the
# producer chose is kept, as every backend shows it. Otherwise the name is metadata.
NAME_KEYS: dict[str, tuple[ObservationType, str]] = {
    sc.GEN_AI_AGENT_NAME: (A, "agent_name"),
    sc.GEN_AI_TOOL_NAME: (T, "tool_name"),
}

PROMPT_KEY, COMPLETION_KEY = "gen_ai.prompt", "gen_ai.completion"
# v1.26-1.27 content events -> (the attribute holding their JSON, default role, output?).
CONTENT_EVENTS: dict[str, tuple[str, str, bool]] = {
    "gen_ai.content.prompt": (PROMPT_KEY, "user", False),
    "gen_ai.content.completion": (COMPLETION_KEY, "assistant", True),
}
# Some SDKs (Semantic Kernel) put an event's body, as JSON, in one attribute.
EVENT_BODY_KEY = "gen_ai.event.content"
# 1.37+: one event (an OTLP log record joined to its span) with the operation's
# attributes and its content (`gen_ai.input.messages`, ...), the join copying them onto
# the span where it has none.
DETAILS_EVENT = "gen_ai.client.inference.operation.details"

INPUT_MESSAGES, OUTPUT_MESSAGES = sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES
SYSTEM_INSTRUCTIONS = sc.GEN_AI_SYSTEM_INSTRUCTIONS
FLAT_PROMPT, FLAT_COMPLETION = "gen_ai.prompt.", "gen_ai.completion."


def read(x: Extraction) -> None:
    """Fills what `gen_ai.*` attributes and events say (see the module docstring).

    Model, provider and request parameters are read on every span; usage only on
    generations and embeddings (elsewhere it aggregates the children's). Content is
    read per observation type: messages, tool arguments and result, retrieval query
    and documents; where an earlier reader already set the inputs or outputs, the keys
    repeating them are consumed when they parse (a value that does not stays raw).
    """
    obs = x.observation or S
    _operation(x, obs)
    _provider(x, obs)
    _model(x)
    _params(x)
    if obs is G or obs is E:
        read_usage(x, USAGE_READ)
    _context(x, obs)
    IO_READERS.get(obs, _read_message_io)(x, obs)
    if x.span.status_code == StatusCode.ERROR and ERROR_TYPE in x.attrs:
        _error(x)


def _operation(x: Extraction, obs: ObservationType) -> None:
    """The operation name is consumed when it is what `write` gives the run back; other
    values stay raw, and values nobody is known to write are reported."""
    op = x.attrs.get(KIND_KEY)
    if op is None:
        return
    if op == OPERATION_OF.get(obs) or (op == "text_completion" and obs is G):
        x.consumed.add(KIND_KEY)
    elif not isinstance(op, str) or not (
        op in KINDS or op.endswith("_memory") or op.lower() in WILD_OPERATIONS
    ):
        x.problem(KIND_KEY, "is not a known operation name", op)


def _ls_provider(value: str) -> str:
    """ls_provider for any spelling: official, legacy, capitalised (OpenLLMetry's
    "Anthropic") or `provider.api` (the Vercel AI SDK's "openai.chat")."""
    found = PROVIDER_FROM_GEN_AI.get(value) or PROVIDER_FROM_GEN_AI.get(value.lower())
    if found is None:
        found = PROVIDER_FROM_GEN_AI.get(value.partition(".")[0].lower())
    return found or value


def _provider(x: Extraction, obs: ObservationType) -> None:
    a = x.attrs
    # A generation's provider is ls_provider; elsewhere (an agent, a retriever's vector
    # store) it is metadata, which is where run_to_span reads it back from.
    known = x.provider if obs is G or obs is E else x.metadata.get("ls_provider")
    for key in (sc.GEN_AI_PROVIDER_NAME, "gen_ai.system"):
        value = a.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            x.problem(key, "is not a string", value)
            continue
        provider = _ls_provider(value)
        if known is None:
            known = provider
        if provider == known:  # a provider that disagrees with the one kept stays raw
            x.consumed.add(key)
    if known is None:
        return
    if obs is G or obs is E:
        x.provider = known
    else:
        x.set_metadata("ls_provider", known)


def _model(x: Extraction) -> None:
    a = x.attrs
    if sc.GEN_AI_REQUEST_MODEL in a:
        request = text(x, sc.GEN_AI_REQUEST_MODEL)
        x.set_fact("model", request)
        if request != x.model:
            x.consumed.discard(sc.GEN_AI_REQUEST_MODEL)  # another reader's model won
    if sc.GEN_AI_RESPONSE_MODEL in a:
        response = text(x, sc.GEN_AI_RESPONSE_MODEL)
        x.set_fact("response_model", response)
        if response is None:
            return
        if response != x.response_model:
            x.consumed.discard(sc.GEN_AI_RESPONSE_MODEL)
        elif x.model is not None and response != x.model:
            # The run keeps the requested model; the one that answered is metadata.
            x.set_metadata("response_model", response)


def _params(x: Extraction) -> None:
    for key, param in x.present(REQUEST_KEYS):
        x.invocation_params.setdefault(param, _param(x.take(key)))
    if sc.GEN_AI_TOOL_DEFINITIONS in x.attrs:
        tools = x.take_json(sc.GEN_AI_TOOL_DEFINITIONS)
        if tools is not None:
            x.invocation_params.setdefault("tools", tools)


def _param(value: Any) -> Any:
    """Lists arrive as OTel arrays, or as JSON text from SDKs that encode them."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, str) and value[:1] == "[":
        return loads_maybe(value)
    return value


def _context(x: Extraction, obs: ObservationType) -> None:
    a = x.attrs
    for key, name in x.present(METADATA):
        x.set_metadata(name, x.take(key))
    if sc.GEN_AI_RESPONSE_FINISH_REASONS in a:
        reasons = strings(a[sc.GEN_AI_RESPONSE_FINISH_REASONS])
        if reasons is None:
            x.problem(
                sc.GEN_AI_RESPONSE_FINISH_REASONS,
                "is not a list of strings",
                a[sc.GEN_AI_RESPONSE_FINISH_REASONS],
            )
        else:
            x.consumed.add(sc.GEN_AI_RESPONSE_FINISH_REASONS)
            x.set_metadata("finish_reasons", reasons)
    for key, (owner, meta) in x.present(NAME_KEYS):
        value = text(x, key)
        if value is None:
            continue
        if obs is owner and (
            x.name == value
            or (x.name is None and x.span.name in (value, f"{a.get(KIND_KEY)} {value}"))
        ):
            x.name = value
        else:
            x.set_metadata(meta, value)


def _error(x: Extraction) -> None:
    """`error.type` adds the error's type when the status message does not carry it."""
    etype = x.attrs[ERROR_TYPE]
    if not isinstance(etype, str):
        return
    described = ""
    for event in x.span.events:
        if event.name == "exception":
            described = str(event.attributes.get("exception.type") or "Exception")
            break
    if not described:
        described = error_type(x.span.status_message)
        if described != etype and x.error is None:
            message = x.span.status_message
            x.error = f"{etype}: {message}" if message else etype
            described = etype
    if described == etype:
        x.consumed.add(ERROR_TYPE)


# --- reading: content ----------------------------------------------------------------


def _read_message_io(x: Extraction, obs: ObservationType) -> None:
    """Chat content in every version: message attributes, message events, content
    events, legacy JSON attributes, flattened legacy attributes (first found wins). A
    source is read even when an earlier reader set the run's content: it is consumed
    when it parses (it repeats that content), kept raw and reported when it does not."""
    # A span otel-llm wrote keeps the run's I/O in its own keys: its events are the run's
    # own, whatever their names (a run may have an event called gen_ai.choice).
    written_by_us = sc.OTEL_LLM_RUN_ID in x.span.attributes
    events = _message_events(x) if x.span.events and not written_by_us else None
    inputs = _inputs(x, obs, events)
    if inputs is not None:
        x.set_inputs(inputs)
    outputs = _outputs(x, obs, events)
    if outputs is not None:
        x.set_outputs(outputs)
    if x.span.events and not written_by_us:
        _consume_details(x)


def _consume_details(x: Extraction) -> None:
    """A details event every attribute of which the span holds, with the same value,
    says nothing the run does not: consumed, as message events are."""
    a = x.span.attributes
    x.consume_events(
        i
        for i, event in enumerate(x.span.events)
        if event.name == DETAILS_EVENT
        and all(k in a and a[k] == v for k, v in event.attributes.items())
    )


def _message_list(x: Extraction, key: str) -> list[msgs.Message] | None:
    """The messages of a v1.37+ message attribute; a value that is not a list of messages
    is kept raw and reported."""
    if key not in x.attrs:
        return None
    found = msgs.from_gen_ai(x.take_json(key))
    if found is None and key in x.consumed:
        x.consumed.discard(key)
        x.problem(key, "is not a list of messages", x.attrs[key])
    return found


def _inputs(x: Extraction, obs: ObservationType, events: _Events | None) -> dict[str, Any] | None:
    a = x.attrs
    found = _message_list(x, INPUT_MESSAGES)
    if found is None and events is not None and events.inputs:
        found = events.consume_inputs(x)
    if found is None and PROMPT_KEY in a:
        value = _take_legacy(x, PROMPT_KEY)
        if isinstance(value, dict):
            return value  # LangSmith's exporter: the run's inputs as they were
        found = msgs.chat_messages(value, "user")
    if found is None and (
        f"{FLAT_PROMPT}0.role" in a or f"{FLAT_PROMPT}0.content" in a or f"{FLAT_PROMPT}0.user" in a
    ):
        found = _flat_messages(x, FLAT_PROMPT, "user")
    if SYSTEM_INSTRUCTIONS in a and (found is not None or obs is G):
        system = system_message(x)
        if system is not None:
            found = [system, *(found or [])]
    if found is None:
        return None
    if obs is E:
        return {"input": [_text(m.get("content")) for m in found]}
    return {"messages": found}


def _outputs(x: Extraction, obs: ObservationType, events: _Events | None) -> dict[str, Any] | None:
    a = x.attrs
    found = _message_list(x, OUTPUT_MESSAGES)
    if found is None and events is not None and events.outputs:
        found = events.consume_outputs(x)
    if found is None and COMPLETION_KEY in a:
        value = _take_legacy(x, COMPLETION_KEY)
        if isinstance(value, dict):
            return value
        if isinstance(value, str) and obs is not G:
            return {"output": value}
        found = msgs.chat_messages(value, "assistant")
    if found is None and (
        f"{FLAT_COMPLETION}0.role" in a
        or f"{FLAT_COMPLETION}0.content" in a
        or f"{FLAT_COMPLETION}0.finish_reason" in a
    ):
        found = _flat_messages(x, FLAT_COMPLETION, "assistant")
    return {"messages": found} if found is not None else None


def system_message(x: Extraction) -> msgs.Message | None:
    """`gen_ai.system_instructions` as the leading system message."""
    value = x.take_json(SYSTEM_INSTRUCTIONS)
    if value is None:
        return None
    if isinstance(value, str):
        return msgs.message("system", value)
    parts = value if isinstance(value, list) else [value]
    found = msgs.from_gen_ai([{"role": "system", "parts": parts}])
    return found[0] if found else None


def _take_legacy(x: Extraction, key: str) -> Any:
    """`gen_ai.prompt` / `gen_ai.completion`: JSON text, or plain text in old SDKs."""
    value = x.attrs[key]
    if isinstance(value, str) and value[:1] in ("{", "[", '"'):
        return x.take_json(key)  # bad JSON stays raw, reported
    return x.take(key)


def _text(content: Any) -> Any:
    """The text of a message's content (the parts' texts joined)."""
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict) and "text" in p]
        if len(texts) == len(content):
            return "".join(str(t) for t in texts)
    return content


# --- messages in their older shapes ----------------------------------------------------


def _flat_messages(x: Extraction, prefix: str, default_role: str) -> list[msgs.Message]:
    """OpenLLMetry's flattened `prefix{i}.role|content|tool_calls.{j}.*|...`."""
    out = []
    for _, flat in sorted(x.take_indexed(prefix).items()):
        calls = [
            msgs.tool_call(c.get("id"), c.get("name"), c.get("arguments"))
            for _, c in sorted(indexed(flat, "tool_calls.").items())
        ]
        if "function_call.name" in flat:  # the pre-tools OpenAI API
            calls.append(
                msgs.tool_call(
                    None, flat["function_call.name"], flat.get("function_call.arguments")
                )
            )
        call_id = flat.get("tool_call_id")
        out.append(
            msgs.message(
                flat.get("role") or default_role,
                msgs.content_of(flat.get("content", flat.get("user"))),
                tool_calls=calls,
                tool_call_id=str(call_id) if call_id is not None else None,
                finish_reason=flat.get("finish_reason"),
            )
        )
    return out


class _Events:
    """The span's message events (index, message), split into inputs and outputs."""

    __slots__ = ("inputs", "outputs")

    def __init__(self) -> None:
        self.inputs: list[tuple[int, msgs.Message]] = []
        self.outputs: list[tuple[int, msgs.Message]] = []

    def consume_inputs(self, x: Extraction) -> list[msgs.Message]:
        x.consume_events(i for i, _ in self.inputs)
        return [m for _, m in self.inputs]

    def consume_outputs(self, x: Extraction) -> list[msgs.Message]:
        x.consume_events(i for i, _ in self.outputs)
        return [m for _, m in self.outputs]


def _message_events(x: Extraction) -> _Events | None:
    """v1.28-1.36 message events, else v1.26-1.27 content events (never both)."""
    found, legacy = _Events(), _Events()
    for i, event in enumerate(x.span.events):
        name = event.name
        if name in msgs.EVENT_ROLES or name == msgs.CHOICE_EVENT:
            m = msgs.message_from_event(name, _event_body(event.attributes))
            if m is not None:
                (found.outputs if name == msgs.CHOICE_EVENT else found.inputs).append((i, m))
            continue
        content = CONTENT_EVENTS.get(name)
        if content is None:
            continue
        key, role, is_output = content
        raw = event.attributes.get(key)
        value = loads_maybe(raw)
        if isinstance(raw, str) and value is raw and raw[:1] in ("[", "{"):
            x.problem(f"{name} event {key}", "is not valid JSON", raw)
            continue  # the event stays, raw, in the run's events
        (legacy.outputs if is_output else legacy.inputs).extend(
            (i, m) for m in msgs.chat_messages(value, role) or ()
        )
    found.inputs = found.inputs or legacy.inputs
    found.outputs = found.outputs or legacy.outputs
    return found if found.inputs or found.outputs else None


def _event_body(attrs: Mapping[str, Any]) -> Mapping[str, Any]:
    raw = attrs.get(EVENT_BODY_KEY)
    if raw is not None:
        body = loads_maybe(raw)
        if isinstance(body, dict):
            return body
    return attrs


# --- reading: tools and retrieval ------------------------------------------------------


def _read_tool_io(x: Extraction, obs: ObservationType) -> None:
    a = x.attrs
    if sc.GEN_AI_TOOL_CALL_ARGUMENTS in a:
        raw = x.take(sc.GEN_AI_TOOL_CALL_ARGUMENTS)
        if x.inputs is None:
            args = loads_maybe(raw)
            x.set_inputs(args if isinstance(args, dict) else {"input": args})
    if sc.GEN_AI_TOOL_CALL_RESULT in a:
        result = x.take(sc.GEN_AI_TOOL_CALL_RESULT)
        if x.outputs is None:
            x.set_outputs({"output": unquoted(result)})
    _read_message_io(x, obs)


def unquoted(result: Any) -> Any:
    """A tool result is kept as the text it is, JSON or not, except a JSON string
    literal (MLflow JSON-encodes every result): that is the string it encodes."""
    if isinstance(result, str) and result.startswith('"'):
        decoded = loads_maybe(result)
        if isinstance(decoded, str):
            return decoded
    return result


def _read_retrieval_io(x: Extraction, obs: ObservationType) -> None:
    a = x.attrs
    if sc.GEN_AI_RETRIEVAL_QUERY_TEXT in a:
        query = x.take(sc.GEN_AI_RETRIEVAL_QUERY_TEXT)
        if x.inputs is None:
            x.set_inputs({"query": query})
    if sc.GEN_AI_RETRIEVAL_DOCUMENTS in a:
        if x.outputs is not None:
            x.consumed.add(sc.GEN_AI_RETRIEVAL_DOCUMENTS)
        else:
            docs = x.take_json(sc.GEN_AI_RETRIEVAL_DOCUMENTS)
            if isinstance(docs, list):
                x.set_outputs({"documents": [document(d) for d in docs]})
            elif docs is not None:
                x.consumed.discard(sc.GEN_AI_RETRIEVAL_DOCUMENTS)
                x.problem(sc.GEN_AI_RETRIEVAL_DOCUMENTS, "is not a list", docs)
    _read_message_io(x, obs)


def document(doc: Any) -> dict[str, Any]:
    """An official retrieval document (`{id?, score?, content?, ...}`) as a LangChain
    document; id, score and any other fields go inside its metadata."""
    if not isinstance(doc, dict):
        return {
            "page_content": doc if isinstance(doc, str) else dumps(doc),
            "metadata": {},
            "type": "Document",
        }
    md = doc.get("metadata")
    metadata: dict[str, Any] = dict(md) if isinstance(md, dict) else {}
    content = None
    for key, value in doc.items():
        if key in _DOC_TEXT_KEYS:
            content = value if content is None else content
        elif key != "metadata" or not isinstance(md, dict):
            metadata.setdefault(key, value)
    return {
        "page_content": content if content is not None else "",
        "metadata": metadata,
        "type": "Document",
    }


_DOC_TEXT_KEYS = ("content", "text", "page_content")

# Observation type -> its input/output reader (default: chat messages).
IO_READERS: dict[ObservationType, Callable[[Extraction, ObservationType], None]] = {
    T: _read_tool_io,
    R: _read_retrieval_io,
}


# --- writing -----------------------------------------------------------------------


def write(run: Run, facts: RunFacts, out: dict[str, Any]) -> None:
    """The latest official GenAI keys for a run (content as JSON text)."""
    obs = facts.observation
    op = facts.operation
    if op is not None:
        out[KIND_KEY] = op
    if facts.provider:
        out[sc.GEN_AI_PROVIDER_NAME] = PROVIDER_TO_GEN_AI.get(facts.provider, facts.provider)
    if facts.model and obs in (G, E):
        out[sc.GEN_AI_REQUEST_MODEL] = facts.model
    if facts.response_model and obs in (G, E):
        out[sc.GEN_AI_RESPONSE_MODEL] = facts.response_model
    if obs in (G, E):
        for param, value in facts.invocation_params.items():  # a call's few, not all
            key = REQUEST_PARAMS.get(param)
            if key is not None and value is not None and _is_attr_value(value):
                out[key] = tuple(value) if isinstance(value, (list, tuple)) else value
        usage = facts.usage
        if usage:
            for group, counted in USAGE_WRITTEN:
                counts = usage if group is None else usage.get(group)
                if isinstance(counts, dict):
                    for name, key in counted:
                        count = counts.get(name)
                        if type(count) is not int:  # (no call for the usual int)
                            count = token_count(count)
                        if count is not None:
                            out[key] = count
    if facts.input_messages is not None:
        write_input_messages(facts.input_messages, out)
    if facts.output_messages is not None:
        out[sc.GEN_AI_OUTPUT_MESSAGES] = dumps(facts.output_messages)
    if obs is T:
        out[sc.GEN_AI_TOOL_NAME] = run.name
        call_id = run.extra.get("metadata", {}).get("tool_call_id")
        if call_id is not None:
            out[sc.GEN_AI_TOOL_CALL_ID] = str(call_id)
        if facts.tool_arguments is not None:
            out[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = facts.tool_arguments
        if facts.tool_result is not None:
            out[sc.GEN_AI_TOOL_CALL_RESULT] = facts.tool_result
    elif obs is R:
        if facts.retrieval_query is not None:
            out[sc.GEN_AI_RETRIEVAL_QUERY_TEXT] = facts.retrieval_query
        if facts.retrieval_documents is not None:
            out[sc.GEN_AI_RETRIEVAL_DOCUMENTS] = dumps(facts.retrieval_documents)
    elif obs is A:
        out[sc.GEN_AI_AGENT_NAME] = run.name
    if run.error:
        out[ERROR_TYPE] = error_type(run.error)
    write_context(run, facts, out)


def write_input_messages(messages: list[dict[str, Any]], out: dict[str, Any]) -> None:
    """`gen_ai.input.messages`, a leading system message as `gen_ai.system_instructions`
    (the reader puts it back in front) when other messages follow it."""
    first = messages[0] if len(messages) > 1 else None
    if (
        first is not None
        and first.get("role") == "system"
        and "name" not in first
        and _text_only(first.get("parts"))
    ):
        out[SYSTEM_INSTRUCTIONS] = dumps(first["parts"])
        messages = messages[1:]
    out[INPUT_MESSAGES] = dumps(messages)


def _text_only(parts: Any) -> bool:
    """Official message parts that are all text, and at least one."""
    return (
        isinstance(parts, list)
        and bool(parts)
        and all(isinstance(part, dict) and part.get("type") == "text" for part in parts)
    )


_STRINGS = frozenset({str})

# metadata key -> the official key it is written as (all read back by `_context`).
CONTEXT_WRITTEN: dict[str, str] = {
    "response_id": "gen_ai.response.id",
    "response_model": "gen_ai.response.model",
    "conversation_id": "gen_ai.conversation.id",
    "data_source_id": "gen_ai.data_source.id",
}


def write_context(run: Run, facts: Any, out: dict[str, Any]) -> None:
    """Tool definitions, response facts and the conversation, from the run's
    invocation params and metadata."""
    tools = facts.invocation_params.get("tools")
    if isinstance(tools, list) and tools and facts.observation in (G, A):
        out["gen_ai.tool.definitions"] = dumps([_tool_definition(t) for t in tools])
    md = run.extra.get("metadata")
    if not isinstance(md, dict) or not md:
        return
    for meta, key in CONTEXT_WRITTEN.items():
        value = md.get(meta)
        if isinstance(value, str):
            out[key] = value
    if "gen_ai.conversation.id" not in out and facts.session is not None:
        out["gen_ai.conversation.id"] = facts.session
    reasons = md.get("finish_reasons")
    if isinstance(reasons, list) and reasons and _STRINGS.issuperset(map(type, reasons)):
        out["gen_ai.response.finish_reasons"] = tuple(reasons)


def _tool_definition(tool: Any) -> Any:
    """An OpenAI-style tool (`{type, function: {name, ...}}`) in the official flat shape."""
    if isinstance(tool, dict) and isinstance(tool.get("function"), dict):
        return {"type": tool.get("type", "function"), **tool["function"]}
    if isinstance(tool, dict) and "input_schema" in tool:  # Anthropic's
        flat = {k: v for k, v in tool.items() if k != "input_schema"}
        return {"type": "function", **flat, "parameters": tool["input_schema"]}
    return tool


def to_input_messages(inputs: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Official input messages for a run's inputs, or None when they hold no messages."""
    messages = inputs.get("messages")
    if isinstance(messages, list) and len(messages) == 1 and isinstance(messages[0], list):
        messages = messages[0]  # LangChain chat models batch: [[msg, ...]]
    return msgs.to_gen_ai(messages)


def operation_name(run: Run, obs: ObservationType) -> str | None:
    """The official operation name of a run (None for plain spans)."""
    if obs is G and is_completion(run):
        return "text_completion"
    return OPERATION_OF.get(obs)


def is_completion(run: Run) -> bool:
    return "prompt" in run.inputs and "messages" not in run.inputs


def _is_attr_value(value: Any) -> bool:
    if isinstance(value, (str, bool, int, float)):
        return True
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


CONVENTION = Convention(
    name="gen_ai",
    namespaces=NAMESPACES,
    read=read,
    kinds=((KIND_KEY, KINDS),),
    model_keys=frozenset({"gen_ai.request.model", sc.GEN_AI_RESPONSE_MODEL}),
    usage_keys=frozenset(
        {
            sc.GEN_AI_USAGE_INPUT_TOKENS,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS,
            "gen_ai.usage.prompt_tokens",
            "gen_ai.usage.completion_tokens",
        }
    ),
    write=write,
)
