"""The OpenAI client traced: chat completions, the Responses API and embeddings, sync
and async, plain and streaming.

Each call becomes one CLIENT span whose attributes the project's writer produces from
the run LangSmith's `wrap_openai` would record: `ChatOpenAI` (run type `llm`) with the
messages in and the assistant message out (tool calls and finish reason kept), the
model, parameters, tool definitions and usage (cached and reasoning tokens too);
`OpenAIEmbeddings` (run type `embedding`) with the texts in.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from otel_llm.conventions import messages as msgs
from otel_llm.instrumentation._calls import Operation, async_wrapper, helper_wrapper, sync_wrapper
from otel_llm.instrumentation._core import (
    Settings,
    available,
    generation_run,
    get,
    given,
    now_ns,
    plain,
    set_usage,
    tracer_for,
    usage_metadata,
)
from otel_llm.instrumentation._wrapping import request_peer, unwrap, wrap
from otel_llm.model import Run

SCOPE = "otel_llm.instrumentation.openai"
PROVIDER = "openai"

# Request keys kept as invocation params (what the official request attributes carry).
_PARAMS = (
    "model",
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "top_p",
    "frequency_penalty",
    "presence_penalty",
    "seed",
    "n",
    "stop",
    "stream",
    "tool_choice",
    "response_format",
    "reasoning_effort",
    "parallel_tool_calls",
    "service_tier",
    "dimensions",
    "encoding_format",
    "user",
)


# Each key's place in `_PARAMS`: the order params are kept in, whatever the call's.
_PARAM_ORDER = {k: i for i, k in enumerate(_PARAMS)}


def _params(kwargs: dict[str, Any]) -> dict[str, Any]:
    # The call's few arguments are read, rather than all of `_PARAMS` looked up.
    keys = [k for k in kwargs if k in _PARAM_ORDER]
    if len(keys) > 1:
        keys.sort(key=_PARAM_ORDER.__getitem__)
    params = {}
    for k in keys:
        value = kwargs[k]
        if type(value) is str:  # the model, at least: plain already
            params[k] = value
        elif given(value):
            params[k] = plain(value)
    if "max_tokens" not in params:
        for alias in ("max_completion_tokens", "max_output_tokens"):
            if alias in params:
                params["max_tokens"] = params[alias]
                break
    tools = kwargs.get("tools")
    if tools and given(tools):  # (openai's NOT_GIVEN and Omit are false)
        params["tools"] = plain(list(tools))
    return params


_CLIENTS: tuple[Any, ...] = ()


def _request_peer() -> bool:
    global _CLIENTS
    if not _CLIENTS:
        import openai

        _CLIENTS = (openai.OpenAI, openai.AsyncOpenAI)
    return request_peer(*_CLIENTS)


# --- chat completions -------------------------------------------------------------


def _chat_messages(messages: Any) -> list[dict[str, Any]]:
    out = []
    for m in messages or ():
        if type(m) is dict:
            for v in m.values():
                if type(v) is not str:
                    break
            else:  # the common case, already plain (read here: no call per message)
                out.append({"content": None, **m})
                continue
        out.append(_chat_message(m))
    return out


def _chat_message(m: Any) -> dict[str, Any]:
    d = plain(m)
    if not isinstance(d, dict):
        return msgs.message("user", d)
    out = {k: v for k, v in d.items() if v is not None}
    out.setdefault("content", None)
    return out


def _chat_start(kwargs: dict[str, Any], settings: Settings) -> tuple[str, Run]:
    params = _params(kwargs)
    model = params.get("model")
    run = generation_run(
        "ChatOpenAI", provider=PROVIDER, model=model, params=params, start_ns=now_ns()
    )
    if settings.capture_content:
        run.inputs = {"messages": _chat_messages(kwargs.get("messages"))}
    return (f"chat {model}" if model else "chat"), run


def _parsed(result: Any) -> Any:
    """`with_raw_response` answers a LegacyAPIResponse: its parsed body (cached)."""
    # model_dump first: a missing attribute costs a pydantic model an exception.
    if not hasattr(result, "model_dump") and hasattr(result, "parse"):
        return result.parse()
    return result


def _tool_calls(calls: Any) -> list[dict[str, Any]]:
    out = []
    for c in calls or ():
        fn = get(c, "function")
        out.append(msgs.tool_call(get(c, "id"), get(fn, "name"), get(fn, "arguments")))
    return out


def _chat_usage(usage: Any) -> dict[str, Any] | None:
    if usage is None:
        return None
    prompt, completion = usage.prompt_tokens_details, usage.completion_tokens_details
    return usage_metadata(
        usage.prompt_tokens,
        usage.completion_tokens,
        cache_read=prompt.cached_tokens if prompt is not None else None,
        reasoning=completion.reasoning_tokens if completion is not None else None,
        total=usage.total_tokens,
    )


def _response_facts(run: Run, response_id: Any, model: Any, reasons: list[str]) -> None:
    md = run.metadata
    if isinstance(response_id, str):
        md["response_id"] = response_id
    if isinstance(model, str) and model != md.get("ls_model_name"):
        md["response_model"] = model
    if reasons:
        md["finish_reasons"] = reasons


def _chat_end(run: Run, result: Any, settings: Settings, nested: bool) -> None:
    response = _parsed(result)
    if isinstance(response, dict):  # e.g. a client that answers plain JSON
        response = _Attrs(response)
    choices = response.choices or []
    reasons = [c.finish_reason for c in choices if c.finish_reason]
    _response_facts(run, response.id, response.model, reasons)
    set_usage(run, _chat_usage(response.usage), nested)
    if settings.capture_content:
        out = []
        for c in choices:
            m = c.message
            calls = m.tool_calls
            out.append(
                msgs.message(
                    m.role or "assistant",
                    m.content,
                    tool_calls=_tool_calls(calls) if calls else None,
                    finish_reason=c.finish_reason,
                )
            )
        run.outputs = {"messages": out}


class _Attrs:
    """A dict's keys as attributes (None when missing), nested dicts too."""

    def __init__(self, d: dict[str, Any]) -> None:
        self._d = d

    def __getattr__(self, name: str) -> Any:
        value = self._d.get(name)
        if isinstance(value, dict):
            return _Attrs(value)
        if isinstance(value, list):
            return [_Attrs(v) if isinstance(v, dict) else v for v in value]
        return value


def _chat_stream_end(run: Run, chunks: list[Any], settings: Settings, nested: bool) -> None:
    """The answer, put together from the stream's chunks (read once, here)."""
    texts: dict[int, list[str]] = {}
    calls: dict[int, dict[int, dict[str, Any]]] = {}
    reasons: dict[int, str] = {}
    roles: dict[int, str] = {}
    usage = None
    for chunk in chunks:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            i = choice.index
            if choice.finish_reason:
                reasons[i] = choice.finish_reason
            delta = choice.delta
            if delta is None:
                continue
            if delta.content:
                if i in texts:
                    texts[i].append(delta.content)
                else:
                    texts[i] = [delta.content]
            if delta.tool_calls:
                _add_call_deltas(calls.setdefault(i, {}), delta.tool_calls)
            if delta.role:
                roles[i] = delta.role
    first = chunks[0] if chunks else None
    indexes = sorted(set(texts) | set(calls) | set(reasons) | set(roles))
    _response_facts(
        run, get(first, "id"), get(first, "model"), [reasons[i] for i in indexes if i in reasons]
    )
    set_usage(run, _chat_usage(usage), nested)
    if settings.capture_content:
        run.outputs = {
            "messages": [
                msgs.message(
                    roles.get(i, "assistant"),
                    "".join(texts[i]) if i in texts else None,
                    tool_calls=[
                        msgs.tool_call(c["id"], c["name"], c["arguments"])
                        for _, c in sorted(calls.get(i, {}).items())
                    ],
                    finish_reason=reasons.get(i),
                )
                for i in indexes
            ]
        }


def _add_call_deltas(calls: dict[int, dict[str, Any]], deltas: Any) -> None:
    for tc in deltas:
        slot = calls.setdefault(tc.index or 0, {"id": None, "name": None, "arguments": ""})
        fn = tc.function
        slot["id"] = slot["id"] or tc.id
        slot["name"] = slot["name"] or get(fn, "name")
        slot["arguments"] += get(fn, "arguments") or ""


def _chat_token(chunk: Any) -> bool:
    for choice in chunk.choices:
        delta = choice.delta
        if delta is not None and (delta.content or delta.tool_calls):
            return True
    return False


def _is_stream(kwargs: dict[str, Any]) -> bool:
    return kwargs.get("stream") is True


CHAT = Operation(
    "openai chat", _chat_start, _chat_end, _chat_stream_end, _is_stream, _chat_token, _request_peer
)


# --- the Responses API ------------------------------------------------------------


def _content(parts: Any) -> Any:
    """Responses content parts (`input_text`, `output_text`, ...) as chat content."""
    if isinstance(parts, str) or parts is None:
        return parts
    out: list[Any] = []
    for part in plain(parts):
        ptype = part.get("type") if isinstance(part, dict) else None
        if ptype in ("input_text", "output_text", "text"):
            out.append({"type": "text", "text": part.get("text")})
        else:
            out.append(part)
    if len(out) == 1 and out[0].get("type") == "text":
        return out[0]["text"]
    return out


def _input_messages(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [msgs.message("user", value)]
    out: list[dict[str, Any]] = []
    for item in plain(value or []):
        if not isinstance(item, dict):
            continue
        itype = item.get("type")
        if itype == "function_call":
            call = msgs.tool_call(item.get("call_id"), item.get("name"), item.get("arguments"))
            if out and out[-1]["role"] == "assistant" and out[-1].get("content") is None:
                out[-1].setdefault("tool_calls", []).append(call)
            else:
                out.append(msgs.message("assistant", None, tool_calls=[call]))
        elif itype == "function_call_output":
            out.append(msgs.message("tool", item.get("output"), tool_call_id=item.get("call_id")))
        elif "role" in item:
            out.append(msgs.message(item["role"], _content(item.get("content"))))
        else:
            out.append(msgs.message("user", [item]))
    return out


def _responses_start(kwargs: dict[str, Any], settings: Settings) -> tuple[str, Run]:
    params = _params(kwargs)
    model = params.get("model")
    run = generation_run(
        "ChatOpenAI", provider=PROVIDER, model=model, params=params, start_ns=now_ns()
    )
    for key, meta in (
        ("conversation", "conversation_id"),
        ("previous_response_id", "previous_response_id"),
    ):
        value = plain(kwargs.get(key)) if given(kwargs.get(key)) else None
        value = value.get("id") if isinstance(value, dict) else value
        if isinstance(value, str):
            run.metadata[meta] = value
    if settings.capture_content:
        messages = _input_messages(kwargs.get("input"))
        instructions = kwargs.get("instructions")
        if isinstance(instructions, str):
            messages.insert(0, msgs.message("system", instructions))
        run.inputs = {"messages": messages}
    return (f"chat {model}" if model else "chat"), run


def _response_end(run: Run, response: Any, settings: Settings, nested: bool) -> None:
    output = get(response, "output") or []
    calls = [
        msgs.tool_call(get(o, "call_id"), get(o, "name"), get(o, "arguments"))
        for o in output
        if get(o, "type") == "function_call"
    ]
    status = get(response, "status")
    reason = "tool_calls" if calls else ("stop" if status in ("completed", None) else status)
    _response_facts(run, get(response, "id"), get(response, "model"), [str(reason)])
    conversation = get(get(response, "conversation"), "id")
    if isinstance(conversation, str):
        run.metadata.setdefault("conversation_id", conversation)
    usage = get(response, "usage")
    if usage is not None:
        set_usage(
            run,
            usage_metadata(
                get(usage, "input_tokens"),
                get(usage, "output_tokens"),
                cache_read=get(get(usage, "input_tokens_details"), "cached_tokens"),
                reasoning=get(get(usage, "output_tokens_details"), "reasoning_tokens"),
                total=get(usage, "total_tokens"),
            ),
            nested,
        )
    if settings.capture_content:
        content: list[Any] = []
        for o in output:
            otype = get(o, "type")
            if otype == "message":
                part = _content(get(o, "content"))
                content.extend(part if isinstance(part, list) else [{"type": "text", "text": part}])
            elif otype == "reasoning":
                for s in get(o, "summary") or ():
                    content.append({"type": "reasoning", "reasoning": get(s, "text")})
        text = (
            content[0]["text"]
            if len(content) == 1 and content[0].get("type") == "text"
            else (content or None)
        )
        run.outputs = {
            "messages": [msgs.message("assistant", text, tool_calls=calls, finish_reason=reason)]
        }


def _responses_end(run: Run, result: Any, settings: Settings, nested: bool) -> None:
    _response_end(run, _parsed(result), settings, nested)


def _responses_stream_end(run: Run, chunks: list[Any], settings: Settings, nested: bool) -> None:
    for event in reversed(chunks):
        response = get(event, "response")
        if response is not None:
            _response_end(run, response, settings, nested)
            return


def _responses_token(event: Any) -> bool:
    etype = event.type
    return etype.endswith(".delta") and ("output_text" in etype or "arguments" in etype)


RESPONSES = Operation(
    "openai responses",
    _responses_start,
    _responses_end,
    _responses_stream_end,
    _is_stream,
    _responses_token,
    _request_peer,
)


# --- embeddings -------------------------------------------------------------------


def _embeddings_start(kwargs: dict[str, Any], settings: Settings) -> tuple[str, Run]:
    params = _params(kwargs)
    model = params.get("model")
    run = generation_run(
        "OpenAIEmbeddings",
        provider=PROVIDER,
        model=model,
        params=params,
        start_ns=now_ns(),
        run_type="embedding",
    )
    if settings.capture_content:
        texts = kwargs.get("input")
        run.inputs = {"input": [texts] if isinstance(texts, str) else plain(texts)}
    return (f"embeddings {model}" if model else "embeddings"), run


def _embeddings_end(run: Run, result: Any, settings: Settings, nested: bool) -> None:
    response = _parsed(result)
    data = get(response, "data") or []
    if data:
        run.metadata["embedding_dimensions"] = len(get(data[0], "embedding") or ())
    model = get(response, "model")
    if isinstance(model, str) and model != run.metadata.get("ls_model_name"):
        run.metadata["response_model"] = model
    usage = get(response, "usage")
    if usage is not None:
        set_usage(
            run,
            usage_metadata(get(usage, "prompt_tokens"), 0, total=get(usage, "total_tokens")),
            nested,
        )
    run.outputs = {"embeddings_count": len(data)}


def _never(kwargs: dict[str, Any]) -> bool:
    return False


def _no_stream(run: Run, chunks: list[Any], settings: Settings, nested: bool) -> None:
    return None


EMBEDDINGS = Operation(
    "openai embeddings",
    _embeddings_start,
    _embeddings_end,
    _no_stream,
    _never,
    lambda chunk: True,
    _request_peer,
)

# (module, Class.method, operation, async?)
TARGETS: tuple[tuple[str, str, Operation, bool], ...] = (
    ("openai.resources.chat.completions.completions", "Completions.create", CHAT, False),
    ("openai.resources.chat.completions.completions", "AsyncCompletions.create", CHAT, True),
    ("openai.resources.responses.responses", "Responses.create", RESPONSES, False),
    ("openai.resources.responses.responses", "AsyncResponses.create", RESPONSES, True),
    ("openai.resources.embeddings", "Embeddings.create", EMBEDDINGS, False),
    ("openai.resources.embeddings", "AsyncEmbeddings.create", EMBEDDINGS, True),
)
# The stream helpers (`with client.chat.completions.stream(...) as stream:`): they call
# `create(stream=True)`, traced above; their managers end that call's span with the
# `with` block. (module, Class.method); the beta module is that of older clients.
_CHAT = "openai.resources.chat.completions.completions"
_BETA_CHAT = "openai.resources.beta.chat.completions"
_RESPONSES = "openai.resources.responses.responses"
HELPERS: tuple[tuple[str, str], ...] = (
    (_CHAT, "Completions.stream"),
    (_CHAT, "AsyncCompletions.stream"),
    (_BETA_CHAT, "Completions.stream"),
    (_BETA_CHAT, "AsyncCompletions.stream"),
    (_RESPONSES, "Responses.stream"),
    (_RESPONSES, "AsyncResponses.stream"),
)


class OpenAIInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces the `openai` client (entry point `otel_llm_openai`).

    `instrument(tracer_provider=None, emit=None, capture_content=None, redaction=True)`:
    the global provider unless one is given; emit families, content capture and
    redaction from the environment unless given.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 1.40.0",)

    def _instrument(self, **kwargs: Any) -> None:
        tracer = tracer_for(SCOPE, kwargs)
        settings = Settings.from_kwargs(kwargs)
        for module, path, op, is_async in available(TARGETS):
            factory = async_wrapper if is_async else sync_wrapper
            wrap(module, path, factory(op, tracer, settings))
        for module, path in available(HELPERS):
            wrap(module, path, helper_wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        for module, path, _, _ in available(TARGETS):
            unwrap(module, path)
        for module, path in available(HELPERS):
            unwrap(module, path)
