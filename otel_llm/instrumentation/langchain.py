"""LangChain (langchain-core) traced: every Runnable run as an OTel span.

`OtelLangChainTracer` is a langchain-core tracer: LangChain hands it each run (chains,
chat models, LLMs, tools, retrievers, prompts, parsers, LangGraph nodes) as it starts
and ends. At the start it opens a span under the span of the run's parent (or, for a
top run, under the app's current span), so the span tree mirrors the run tree and
nests under existing spans; the span is made current while the run runs, so a provider
call inside a chat model (the OpenAI or Anthropic instrumentor) nests under it. At the
end the LangChain run is described as the project's `Run` and written by the project's
own run -> span conversion. Chat-model runs carry their messages in the shape every
backend reads (role, content, tool calls) and their usage in `usage_metadata`; the
provider span under them keeps its usage aside (`usage_counted_by_parent`), so tokens
are counted once.

`LangChainInstrumentor` adds the tracer to every LangChain callback manager (entry
point `otel_llm_langchain`).
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any
from uuid import UUID

from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run as LCRun
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.trace import Span

from otel_llm.conventions import messages as msgs
from otel_llm.convert import DEFAULT_KIND
from otel_llm.instrumentation._capture import capture
from otel_llm.instrumentation._core import (
    Settings,
    finish_span,
    log_once,
    tracer_for,
)
from otel_llm.instrumentation._wrapping import unwrap, wrap
from otel_llm.model import OBSERVATION_OF, Run, SpanKind, iso_to_ns

SCOPE = "otel_llm.instrumentation.langchain"
_ROLES = {
    "human": "user",
    "ai": "assistant",
    "system": "system",
    "tool": "tool",
    "function": "function",
    "chat": "user",
    "developer": "developer",
}
_EVENTS_DROPPED = frozenset({"start", "end"})


class _RunSpan(trace.Span):
    """What the tracer makes current while a LangChain run runs: its span while the run
    is open, the span that was current before once it has ended.

    LangChain may end a run in another context than the one it started it in (async
    end callbacks run in a shielded task), where the start's attachment cannot be
    undone; this stand-in makes a left-over attachment harmless: later spans there
    get the right parent, not an ended run's span. A stand-in made over ended ones
    stands on what they stand for, and an ended one lets its span go: an async task
    that awaits many model calls in a row keeps one left-over stand-in, not a chain of
    them holding every ended span (which grew until lookups hit the recursion limit).
    """

    live: bool
    _previous: Span

    def __init__(self, span: Span, previous: Span, llm: bool) -> None:
        while isinstance(previous, _RunSpan) and not previous.live:
            previous = previous._previous
        self._span, self._previous, self._llm = span, previous, llm
        self.live = True

    def ended(self) -> None:
        """Its run has ended: it stands for the span current before it from now on."""
        self.live = False
        self._span = trace.INVALID_SPAN

    def _target(self) -> Span:
        return self._span if self.live else self._previous

    @property
    def otel_llm_llm_run(self) -> bool:
        """Is a LangChain chat-model / LLM run the closest open run here?"""
        if self.live:
            return self._llm
        return bool(getattr(self._previous, "otel_llm_llm_run", False))

    def get_span_context(self) -> trace.SpanContext:
        return self._target().get_span_context()

    def is_recording(self) -> bool:
        return self._target().is_recording()

    def set_attributes(self, attributes: Any) -> None:
        self._target().set_attributes(attributes)

    def set_attribute(self, key: str, value: Any) -> None:
        self._target().set_attribute(key, value)

    def add_event(self, name: str, attributes: Any = None, timestamp: int | None = None) -> None:
        self._target().add_event(name, attributes, timestamp)

    def add_link(self, context: trace.SpanContext, attributes: Any = None) -> None:
        self._target().add_link(context, attributes)

    def update_name(self, name: str) -> None:
        self._target().update_name(name)

    def set_status(self, status: Any, description: str | None = None) -> None:
        self._target().set_status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Any = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        self._target().record_exception(exception, attributes, timestamp, escaped)

    def end(self, end_time: int | None = None) -> None:
        pass  # the tracer ends the run's span


def _detach(token: object) -> None:
    """Undo an attachment when it was made in the current context (else it stays, and
    its `_RunSpan` stands for the span that was current before)."""
    runtime = getattr(context_api, "_RUNTIME_CONTEXT", None)
    try:
        if runtime is not None:
            runtime.detach(token)
        else:
            context_api.detach(token)  # type: ignore[arg-type]
    except ValueError:
        pass


class OtelLangChainTracer(BaseTracer):
    """A langchain-core tracer that writes each run as an OTel span."""

    run_inline = True  # called in the run's own context, also in async code

    def __init__(self, tracer: trace.Tracer, settings: Settings) -> None:
        super().__init__(_schema_format="original+chat")
        self._tracer, self._settings = tracer, settings
        self._spans: dict[UUID, tuple[Span, _RunSpan, object]] = {}
        self._lock = threading.Lock()

    def _persist_run(self, run: LCRun) -> None:
        pass

    def _on_run_create(self, run: LCRun) -> None:
        try:
            self._start(run)
        except Exception as exc:
            log_once("langchain: starting a span", exc)

    def _on_run_update(self, run: LCRun) -> None:
        with self._lock:
            found = self._spans.pop(run.id, None)
        if found is None:
            return
        span, stand_in, token = found
        stand_in.ended()
        try:
            if trace.get_current_span() is stand_in:
                _detach(token)
        except Exception as exc:
            log_once("langchain: detaching the context", exc)
        try:
            ours = to_run(run, self._settings.capture_content)
        except Exception as exc:
            log_once("langchain: describing a run", exc)
            span.end()
            return
        finish_span(span, ours, self._settings, end_ns=ours.end_time_ns)

    def _start(self, run: LCRun) -> None:
        parent = self._spans.get(run.parent_run_id) if run.parent_run_id else None
        base = context_api.get_current()
        ctx = trace.set_span_in_context(parent[1], base) if parent else base
        run_type = _run_type(run)
        obs = OBSERVATION_OF.get(run_type, OBSERVATION_OF["chain"])
        span = self._tracer.start_span(
            run.name,
            context=ctx,
            kind=trace.SpanKind.CLIENT
            if DEFAULT_KIND[obs] == SpanKind.CLIENT
            else trace.SpanKind.INTERNAL,
            start_time=iso_to_ns(run.start_time),
        )
        stand_in = _RunSpan(span, trace.get_current_span(ctx), run_type == "llm")
        token = context_api.attach(trace.set_span_in_context(stand_in, ctx))
        with self._lock:
            self._spans[run.id] = (span, stand_in, token)


def to_run(lc: LCRun, capture_content: bool = True) -> Run:
    """A LangChain run as the project's run (ids left to the span), I/O JSON-safe."""
    extra = capture(lc.extra or {})
    run = Run(
        id=lc.id,
        name=lc.name,
        run_type=_run_type(lc),
        start_time_ns=iso_to_ns(lc.start_time),
        end_time_ns=iso_to_ns(lc.end_time) if lc.end_time else None,
        error=lc.error,
        extra=extra if isinstance(extra, dict) else {},
        tags=list(lc.tags or []),
        events=_events(lc.events or []),
    )
    if run.run_type == "tool" and "tool_call_id" in run.extra:
        run.metadata["tool_call_id"] = run.extra.pop("tool_call_id")
    if run.run_type == "llm" and "messages" in (lc.inputs or {}):
        usage = _chat_io(run, lc, capture_content)
        if usage:
            run.metadata["usage_metadata"] = usage
    elif capture_content:
        inputs, outputs = capture(lc.inputs or {}), capture(lc.outputs)
        if run.run_type == "tool" and isinstance(outputs, dict):
            outputs = _tool_output(outputs)
        run.inputs = inputs if isinstance(inputs, dict) else {"input": inputs}
        if outputs is not None:
            run.outputs = outputs if isinstance(outputs, dict) else {"output": outputs}
    return run


def _tool_output(outputs: dict[str, Any]) -> dict[str, Any]:
    """A tool's ToolMessage answer as its content, what the tool returned."""
    message = outputs.get("output")
    if set(outputs) == {"output"} and isinstance(message, dict) and message.get("type") == "tool":
        return {"output": message.get("content")}
    return outputs


def _run_type(lc: LCRun) -> str:
    return "llm" if lc.run_type == "chat_model" else lc.run_type


def _events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run events worth a span event: the first token (LangSmith's `new_token`, without
    the token itself) and anything custom; start and end repeat the span's times."""
    out: list[dict[str, Any]] = []
    seen_token = False
    for ev in events:
        name = ev.get("name")
        if name in _EVENTS_DROPPED:
            continue
        if name == "new_token":
            if seen_token:
                continue
            seen_token = True
            out.append({"name": "new_token", "time": capture(ev.get("time"))})
        else:
            out.append(capture(ev))
    return out


def _message(m: Any) -> dict[str, Any]:
    """A serialized LangChain message (`dumpd`) as a chat message."""
    kw = m.get("kwargs", m) if isinstance(m, dict) else {}
    mtype = str(kw.get("type"))
    if mtype.endswith("MessageChunk"):  # AIMessageChunk, ...
        mtype = mtype[: -len("MessageChunk")].lower()
    role = _ROLES.get(mtype, str(kw.get("role") or mtype or "user"))
    calls = [
        msgs.tool_call(c.get("id"), c.get("name"), c.get("args"))
        for c in kw.get("tool_calls") or ()
        if isinstance(c, dict)
    ]
    return msgs.message(
        role,
        capture(kw.get("content")),
        tool_calls=calls,
        tool_call_id=kw.get("tool_call_id"),
        name=kw.get("name") if role != "assistant" else None,
    )


def _chat_io(run: Run, lc: LCRun, capture_content: bool) -> dict[str, Any] | None:
    """Messages in, the answer out; returns the answer's usage_metadata."""
    batches = (lc.inputs or {}).get("messages") or [[]]
    batch = batches[0] if batches and isinstance(batches[0], list) else batches
    if capture_content:
        run.inputs = {"messages": [_message(m) for m in batch]}
    generations = ((lc.outputs or {}).get("generations") or [[]])[0] or []
    usage = None
    out = []
    for gen in generations:
        message = gen.get("message") if isinstance(gen, dict) else None
        info = gen.get("generation_info") or {} if isinstance(gen, dict) else {}
        kw = message.get("kwargs", {}) if isinstance(message, dict) else {}
        usage = usage or capture(kw.get("usage_metadata"))
        m = _message(message) if message else msgs.message("assistant", gen.get("text"))
        reason = info.get("finish_reason") or (kw.get("response_metadata") or {}).get(
            "finish_reason", (kw.get("response_metadata") or {}).get("stop_reason")
        )
        if isinstance(reason, str):
            m["finish_reason"] = reason
        out.append(m)
    if capture_content and lc.outputs is not None:
        run.outputs = {"messages": out}
    if usage is None:
        token_usage = ((lc.outputs or {}).get("llm_output") or {}).get("token_usage")
        if isinstance(token_usage, dict) and "prompt_tokens" in token_usage:
            usage = {
                "input_tokens": token_usage.get("prompt_tokens", 0),
                "output_tokens": token_usage.get("completion_tokens", 0),
                "total_tokens": token_usage.get("total_tokens", 0),
            }
    return usage if isinstance(usage, dict) else None


class LangChainInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Adds `OtelLangChainTracer` to every LangChain callback manager (entry point
    `otel_llm_langchain`); arguments as `OpenAIInstrumentor`'s."""

    _tracer: OtelLangChainTracer | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("langchain-core >= 0.3.0",)

    def _instrument(self, **kwargs: Any) -> None:
        handler = OtelLangChainTracer(tracer_for(SCOPE, kwargs), Settings.from_kwargs(kwargs))
        type(self)._tracer = handler

        def init(wrapped: Any, instance: Any, args: tuple[Any, ...], kw: Any) -> Any:
            wrapped(*args, **kw)
            try:
                if not any(isinstance(h, OtelLangChainTracer) for h in instance.handlers):
                    instance.add_handler(handler, True)
            except Exception as exc:
                log_once("langchain: adding the tracer", exc)

        wrap("langchain_core.callbacks", "BaseCallbackManager.__init__", init)

    def _uninstrument(self, **kwargs: Any) -> None:
        unwrap("langchain_core.callbacks", "BaseCallbackManager.__init__")
        type(self)._tracer = None


__all__ = ["LangChainInstrumentor", "OtelLangChainTracer", "to_run"]
