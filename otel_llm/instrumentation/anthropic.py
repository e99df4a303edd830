"""The Anthropic client traced: messages, sync and async, plain, streaming (`stream=True`
and the `messages.stream()` helper) and tool use.

Each call is one CLIENT span described by the run LangSmith's `wrap_anthropic` records:
`ChatAnthropic` (run type `llm`), the system prompt and messages in (tool results as
tool messages), the answer out (tool uses as tool calls, thinking as reasoning), usage
with cache reads and writes. Anthropic's `input_tokens` leaves out cached tokens; the
run's count includes them, as OpenTelemetry and LangSmith count.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from otel_llm import config
from otel_llm.conventions import messages as msgs
from otel_llm.instrumentation._calls import (
    AsyncStream,
    Call,
    ManagerProxy,
    Operation,
    SyncStream,
    async_wrapper,
    skip,
    start_call,
    sync_wrapper,
)
from otel_llm.instrumentation._core import (
    Settings,
    available,
    finish_span,
    generation_run,
    get,
    given,
    log_once,
    now_ns,
    plain,
    set_usage,
    tracer_for,
    usage_metadata,
)
from otel_llm.instrumentation._wrapping import WrapperFn, request_peer, unwrap, wrap
from otel_llm.model import Run

SCOPE = "otel_llm.instrumentation.anthropic"
PROVIDER = "anthropic"
_PARAMS = (
    "model",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "stream",
    "tool_choice",
    "thinking",
    "service_tier",
)


def _request_peer() -> bool:
    import anthropic

    return request_peer(anthropic.Anthropic, anthropic.AsyncAnthropic)


def _text_blocks(blocks: Any) -> Any:
    """Anthropic content (a string or blocks) as chat content."""
    if isinstance(blocks, str) or blocks is None:
        return blocks
    out: list[Any] = []
    for b in plain(blocks):
        btype = b.get("type") if isinstance(b, dict) else None
        if btype == "text":
            out.append({"type": "text", "text": b.get("text")})
        elif btype == "thinking":
            out.append({"type": "reasoning", "reasoning": b.get("thinking")})
        elif btype not in ("tool_use", "tool_result", "redacted_thinking"):
            out.append(b)
    if not out:
        return None
    if len(out) == 1 and out[0].get("type") == "text":
        return out[0]["text"]
    return out


def _tool_uses(blocks: Any) -> list[dict[str, Any]]:
    if isinstance(blocks, str) or not blocks:
        return []
    return [
        msgs.tool_call(get(b, "id"), get(b, "name"), plain(get(b, "input")))
        for b in blocks
        if get(b, "type") == "tool_use"
    ]


def _messages_in(kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    system = kwargs.get("system")
    if given(system) and system:
        out.append(msgs.message("system", _text_blocks(system)))
    for m in plain(kwargs.get("messages") or []):
        content = m.get("content")
        if isinstance(content, list):
            for b in content:
                if isinstance(b, dict) and b.get("type") == "tool_result":
                    out.append(
                        msgs.message(
                            "tool",
                            _text_blocks(b.get("content")),
                            tool_call_id=b.get("tool_use_id"),
                        )
                    )
        text = _text_blocks(content)
        calls = _tool_uses(content)
        if text is not None or calls or not isinstance(content, list):
            out.append(msgs.message(m.get("role"), text, tool_calls=calls))
    return out


def _start_messages(kwargs: dict[str, Any], settings: Settings) -> tuple[str, Run]:
    params = {k: plain(kwargs[k]) for k in _PARAMS if k in kwargs and given(kwargs[k])}
    if "stop_sequences" in params:
        params["stop"] = params["stop_sequences"]
    tools = kwargs.get("tools")
    if given(tools) and tools:
        params["tools"] = plain(list(tools))
    model = params.get("model")
    run = generation_run(
        "ChatAnthropic", provider=PROVIDER, model=model, params=params, start_ns=now_ns()
    )
    if settings.capture_content:
        run.inputs = {"messages": _messages_in(kwargs)}
    return (f"chat {model}" if model else "chat"), run


def _usage(usage: Any) -> dict[str, Any] | None:
    if usage is None:
        return None
    cache_read = get(usage, "cache_read_input_tokens") or 0
    cache_creation = get(usage, "cache_creation_input_tokens") or 0
    raw_input = get(usage, "input_tokens")
    return usage_metadata(
        raw_input + cache_read + cache_creation if isinstance(raw_input, int) else None,
        get(usage, "output_tokens"),
        cache_read=cache_read,
        cache_creation=cache_creation,
    )


def _message_end(run: Run, message: Any, settings: Settings, nested: bool) -> None:
    reason = get(message, "stop_reason")
    md = run.metadata
    if isinstance(get(message, "id"), str):
        md["response_id"] = get(message, "id")
    model = get(message, "model")
    if isinstance(model, str) and model != md.get("ls_model_name"):
        md["response_model"] = model
    if isinstance(reason, str):
        md["finish_reasons"] = [reason]
    set_usage(run, _usage(get(message, "usage")), nested)
    if settings.capture_content:
        content = get(message, "content")
        run.outputs = {
            "messages": [
                msgs.message(
                    "assistant",
                    _text_blocks(content),
                    tool_calls=_tool_uses(content),
                    finish_reason=reason if isinstance(reason, str) else None,
                )
            ]
        }


def _end(run: Run, result: Any, settings: Settings, nested: bool) -> None:
    if hasattr(result, "parse") and not hasattr(result, "model_dump"):
        result = result.parse()
    _message_end(run, result, settings, nested)


def _stream_end(run: Run, events: list[Any], settings: Settings, nested: bool) -> None:
    """The message, put together from its stream events."""
    message: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    json_parts: dict[int, list[str]] = {}
    usage: dict[str, Any] = {}
    for e in events:
        etype = get(e, "type")
        if etype == "message_start":
            message = plain(get(e, "message")) or {}
            usage.update(message.get("usage") or {})
        elif etype == "content_block_start":
            blocks[get(e, "index")] = plain(get(e, "content_block"))
        elif etype == "content_block_delta":
            i, delta = get(e, "index"), get(e, "delta")
            block = blocks.setdefault(i, {"type": "text", "text": ""})
            dtype = get(delta, "type")
            if dtype == "text_delta":
                block["text"] = (block.get("text") or "") + get(delta, "text")
            elif dtype == "thinking_delta":
                block["thinking"] = (block.get("thinking") or "") + get(delta, "thinking")
            elif dtype == "input_json_delta":
                json_parts.setdefault(i, []).append(get(delta, "partial_json"))
        elif etype == "message_delta":
            message["stop_reason"] = get(get(e, "delta"), "stop_reason")
            usage.update({k: v for k, v in (plain(get(e, "usage")) or {}).items() if v})
    for i, parts in json_parts.items():
        from otel_llm.conventions.base import loads_maybe

        blocks[i]["input"] = loads_maybe("".join(parts))
    message["content"] = [blocks[i] for i in sorted(blocks)]
    message["usage"] = usage
    _message_end(run, message, settings, nested)


def _is_token(event: Any) -> bool:
    return bool(event.type == "content_block_delta")


def _is_stream(kwargs: dict[str, Any]) -> bool:
    return kwargs.get("stream") is True


MESSAGES = Operation(
    "anthropic messages", _start_messages, _end, _stream_end, _is_stream, _is_token, _request_peer
)


# --- the messages.stream() helper -------------------------------------------------


class _StreamManager(ManagerProxy):
    """`messages.stream(...)`'s manager. The helper reads the API's raw event stream
    (its `_raw_stream`), whatever the app reads of it (events, `text_stream`, the final
    message): that stream is read through our stream proxy, as `create(stream=True)`'s
    is, so the span records the first token and ends when the events end, or when the
    `with` block does. A helper without a raw stream to read gets the span ended with
    its block, with the message it put together."""

    def __init__(self, manager: Any, call: Call) -> None:
        self._manager, self._call = manager, call
        self._stream: Any = None
        self._raw: SyncStream | AsyncStream | None = None

    def _read_raw(self, proxy: type[SyncStream | AsyncStream]) -> None:
        """The helper's raw stream, read through our proxy, which now ends the span."""
        raw = getattr(self._stream, "_raw_stream", None)
        if raw is None or self._call is None:
            return
        try:
            self._stream._raw_stream = self._raw = proxy(raw, self._call)
            self._call = None  # type: ignore[assignment]
        except Exception as exc:
            log_once("anthropic messages.stream: reading the raw stream", exc)

    def _done(self, error: BaseException | None) -> None:
        if self._raw is not None:
            self._raw._self_end(error)
            return
        call, self._call = self._call, None  # type: ignore[assignment]
        if call is None:
            return
        run = call.run
        try:
            if error is None and self._stream is not None:
                _message_end(run, self._stream.current_message_snapshot, call.settings, call.nested)
        except Exception as exc:
            log_once("anthropic messages.stream: reading the message", exc)
        run.end_time_ns = now_ns()
        finish_span(call.span, run, call.settings, error)

    def __enter__(self) -> Any:
        self._stream = self._manager.__enter__()
        self._read_raw(SyncStream)
        return self._stream

    async def __aenter__(self) -> Any:
        self._stream = await self._manager.__aenter__()
        self._read_raw(AsyncStream)
        return self._stream


def stream_helper(tracer: trace.Tracer, settings: Settings) -> WrapperFn:
    def traced(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
        if skip():
            return wrapped(*args, **kwargs)
        call = start_call(MESSAGES, tracer, settings, {**kwargs, "stream": True})
        if call is None:
            return wrapped(*args, **kwargs)
        try:
            manager = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.detach()
            call.fail(exc)
            raise
        call.detach()
        return _StreamManager(manager, call)

    return traced


_MODULE = "anthropic.resources.messages.messages"
TARGETS: tuple[tuple[str, str, Operation, bool], ...] = (
    (_MODULE, "Messages.create", MESSAGES, False),
    (_MODULE, "AsyncMessages.create", MESSAGES, True),
)
HELPERS = ((_MODULE, "Messages.stream"), (_MODULE, "AsyncMessages.stream"))


class AnthropicInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces the `anthropic` client (entry point `otel_llm_anthropic`); arguments as
    `OpenAIInstrumentor`'s."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("anthropic >= 0.40.0",)

    _set_sdk_tracing_off = False

    def _instrument(self, **kwargs: Any) -> None:
        # One span per call: the SDK's own call spans (clients made from now on) are off,
        # unless ANTHROPIC_OPEN_TELEMETRY says otherwise.
        type(self)._set_sdk_tracing_off = config.set_default(
            config.ANTHROPIC_OPEN_TELEMETRY, "false"
        )
        tracer = tracer_for(SCOPE, kwargs)
        settings = Settings.from_kwargs(kwargs)
        for module, path, op, is_async in available(TARGETS):
            factory = async_wrapper if is_async else sync_wrapper
            wrap(module, path, factory(op, tracer, settings))
        for module, path in HELPERS:
            wrap(module, path, stream_helper(tracer, settings))

    def _uninstrument(self, **kwargs: Any) -> None:
        if type(self)._set_sdk_tracing_off:
            config.unset(config.ANTHROPIC_OPEN_TELEMETRY)
            type(self)._set_sdk_tracing_off = False
        for module, path, _, _ in available(TARGETS):
            unwrap(module, path)
        for module, path in HELPERS:
            unwrap(module, path)
