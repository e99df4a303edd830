"""One traced provider call, plain or streaming, sync or async.

An `Operation` says how one provider method reads: the span name and run of a request,
the run's outputs from a response, from a list of stream chunks, and which chunk is the
first token. The wrappers here do the rest: start the span, call, end the span with the
answer or the error, wrap streams so their span ends when the stream is consumed,
closed or dropped. Chunks are only kept during the stream (a list append each, plus a
test for the first token until it is seen) and read once at the end.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import wrapt
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from otel_llm.instrumentation._core import (
    PROVIDER_SCOPES,
    Settings,
    finish_span,
    first_token_event,
    log_once,
    now_ns,
    under_llm_run,
)
from otel_llm.instrumentation._wrapping import (
    WrapperFn,
    peer_span_active,
    skip_peers,
    suppressed,
)
from otel_llm.model import Run

_SUPPRESS = context_api._SUPPRESS_INSTRUMENTATION_KEY

# The streams our wrappers open while a stream helper's manager enters (see
# `HelperManager`); None outside one.
_HELPER_STREAMS: ContextVar[list[_StreamBase] | None] = ContextVar(
    "otel_llm_helper_streams", default=None
)


@dataclass(frozen=True)
class Operation:
    """How one provider method is described.

    Args:
        where: a name for logs.
        start: (kwargs, settings) -> (span name, run before the answer).
        end: (run, response, settings, counted_by_parent) -> None, fills the answer.
        stream_end: (run, chunks, settings, counted_by_parent) -> None, the same from
            a stream's chunks.
        is_stream: kwargs -> does the call answer with a stream?
        is_token: chunk -> is it the first content (for time to first token)?
        request_peer: () -> does a peer wrap the client's request method?
    """

    where: str
    start: Callable[[dict[str, Any], Settings], tuple[str, Run]]
    end: Callable[[Run, Any, Settings, bool], None]
    stream_end: Callable[[Run, list[Any], Settings, bool], None]
    is_stream: Callable[[dict[str, Any]], bool]
    is_token: Callable[[Any], bool]
    request_peer: Callable[[], bool]


class Call:
    """A started call: its span, run and the context attached while it runs."""

    __slots__ = ("nested", "op", "run", "settings", "span", "token")

    def __init__(
        self,
        op: Operation,
        tracer: trace.Tracer,
        settings: Settings,
        kwargs: dict[str, Any],
        nested: bool | None = None,
        parent: context_api.Context | None = None,
    ) -> None:
        self.op, self.settings = op, settings
        name, self.run = op.start(kwargs, settings)
        self.nested = under_llm_run() if nested is None else nested
        # The context read once and handed on: the SDK would read it three more times.
        if parent is None:
            parent = context_api.get_current()
        self.span = tracer.start_span(
            name, parent, kind=SpanKind.CLIENT, start_time=self.run.start_time_ns
        )
        ctx = trace.set_span_in_context(self.span, parent)
        if op.request_peer():
            ctx = context_api.set_value(_SUPPRESS, True, ctx)
        self.token = context_api.attach(ctx)

    def detach(self) -> None:
        try:
            context_api.detach(self.token)
        except Exception as exc:
            log_once(f"{self.op.where}: detaching the context", exc)

    def fail(self, exc: BaseException) -> None:
        self.run.end_time_ns = now_ns()
        finish_span(self.span, self.run, self.settings, exc)

    def answer(self, result: Any) -> None:
        try:
            self.op.end(self.run, result, self.settings, self.nested)
        except Exception as exc:
            log_once(f"{self.op.where}: reading the answer", exc)
        self.run.end_time_ns = now_ns()
        finish_span(self.span, self.run, self.settings)

    def stream_done(
        self, chunks: list[Any], first_ns: int | None, error: BaseException | None
    ) -> None:
        run = self.run
        run.end_time_ns = now_ns()
        try:
            run.events = first_token_event(first_ns)
            if first_ns is not None:
                # Official, and not a run field (the `new_token` event is LangSmith's).
                ttfc = (first_ns - run.start_time_ns) / 1e9
                self.span.set_attribute("gen_ai.response.time_to_first_chunk", ttfc)
            self.op.stream_end(run, chunks, self.settings, self.nested)
        except Exception as exc:
            log_once(f"{self.op.where}: reading the stream", exc)
        finish_span(self.span, run, self.settings, error)


def skip(current: trace.Span | None = None) -> bool:
    """Not traced here: a call inside one we trace, or one a peer already traces."""
    current = trace.get_current_span() if current is None else current
    name = getattr(getattr(current, "instrumentation_scope", None), "name", None)
    if name is None:  # no span here, or not the SDK's: neither ours nor a peer's
        return False
    if name in PROVIDER_SCOPES:
        return True
    return peer_span_active(current)


def start_call(
    op: Operation,
    tracer: trace.Tracer,
    settings: Settings,
    kwargs: dict[str, Any],
    current: trace.Span | None = None,
    parent: context_api.Context | None = None,
) -> Call | None:
    """The call started, or None when that failed (logged); `current` and `parent`: the
    current span and context, when the caller has them already."""
    try:
        nested = None if current is None else bool(getattr(current, "otel_llm_llm_run", False))
        return Call(op, tracer, settings, kwargs, nested, parent)
    except Exception as exc:
        log_once(f"{op.where}: starting the span", exc)
        return None


def sync_wrapper(op: Operation, tracer: trace.Tracer, settings: Settings) -> WrapperFn:
    def traced(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
        parent = context_api.get_current()
        current = trace.get_current_span(parent)
        if skip(current):
            with suppressed(_request_peer(op)):
                return skip_peers(wrapped)(*args, **kwargs)
        call = start_call(op, tracer, settings, kwargs, current, parent)
        if call is None:
            return wrapped(*args, **kwargs)
        try:
            result = skip_peers(wrapped)(*args, **kwargs)
        except BaseException as exc:
            call.detach()
            call.fail(exc)
            raise
        call.detach()
        if _streams(op, kwargs):
            try:
                return opened(SyncStream(result, call))
            except Exception as exc:
                log_once(f"{op.where}: wrapping the stream", exc)
        call.answer(result)
        return result

    return traced


def async_wrapper(op: Operation, tracer: trace.Tracer, settings: Settings) -> WrapperFn:
    async def traced(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
        parent = context_api.get_current()
        current = trace.get_current_span(parent)
        if skip(current):
            with suppressed(_request_peer(op)):
                return await skip_peers(wrapped)(*args, **kwargs)
        call = start_call(op, tracer, settings, kwargs, current, parent)
        if call is None:
            return await wrapped(*args, **kwargs)
        try:
            result = await skip_peers(wrapped)(*args, **kwargs)
        except BaseException as exc:
            call.detach()
            call.fail(exc)
            raise
        call.detach()
        if _streams(op, kwargs):
            try:
                return opened(AsyncStream(result, call))
            except Exception as exc:
                log_once(f"{op.where}: wrapping the stream", exc)
        call.answer(result)
        return result

    return traced


def opened(stream: _StreamBase) -> _StreamBase:
    """A stream just wrapped, made known to the stream helper entering (if any)."""
    helper = _HELPER_STREAMS.get()
    if helper is not None:
        helper.append(stream)
    return stream


class ManagerProxy:
    """A context manager of the client's, unchanged for the app, whose exit also ends
    the spans it knows of (`_done`, with the block's error if any)."""

    _manager: Any

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)

    def _done(self, error: BaseException | None) -> None:
        raise NotImplementedError

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self._manager.__exit__(*exc_info)
        finally:
            self._done(exc_info[1])

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self._manager.__aexit__(*exc_info)
        finally:
            self._done(exc_info[1])


class HelperManager(ManagerProxy):
    """A stream helper's context manager (`client.chat.completions.stream(...)`,
    `client.responses.stream(...)`, ...), unchanged for the app. The helper reads a
    stream that our `create` wrapper opens as it enters; that stream's span ends when
    the `with` block does (with its error, if any), not only when the stream is read to
    its end or dropped: a helper closes its HTTP response, not the stream."""

    def __init__(self, manager: Any) -> None:
        self._manager = manager
        self._streams: list[_StreamBase] = []

    def _done(self, error: BaseException | None) -> None:
        streams, self._streams = self._streams, []
        for stream in streams:
            stream._self_end(error)

    def __enter__(self) -> Any:
        token = _HELPER_STREAMS.set(self._streams)
        try:
            return self._manager.__enter__()
        finally:
            _HELPER_STREAMS.reset(token)

    async def __aenter__(self) -> Any:
        token = _HELPER_STREAMS.set(self._streams)
        try:
            return await self._manager.__aenter__()
        finally:
            _HELPER_STREAMS.reset(token)


def helper_wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
    """The wrapper of a stream helper method: its manager as a `HelperManager`."""
    manager = wrapped(*args, **kwargs)
    try:
        return HelperManager(manager)
    except Exception as exc:
        log_once("wrapping a stream helper", exc)
        return manager


def _request_peer(op: Operation) -> bool:
    try:
        return op.request_peer()
    except Exception:
        return False


def _streams(op: Operation, kwargs: dict[str, Any]) -> bool:
    try:
        return op.is_stream(kwargs)
    except Exception:
        return False


class _StreamBase(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """The provider's stream, unchanged for the app; the span ends with the stream."""

    def __init__(self, stream: Any, call: Call) -> None:
        super().__init__(stream)
        self._self_call: Call | None = call
        self._self_chunks: list[Any] = []
        self._self_first: int | None = None
        self._self_is_token = call.op.is_token
        self._self_next: Any = getattr(stream, "__next__", None)
        self._self_anext: Any = getattr(stream, "__anext__", None)

    def _self_seen(self, chunk: Any) -> None:
        try:
            if self._self_is_token(chunk):
                self._self_first = now_ns()
        except Exception as exc:
            self._self_first = now_ns()
            log_once("reading a stream chunk", exc)

    def _self_end(self, error: BaseException | None) -> None:
        call, self._self_call = self._self_call, None
        if call is not None:
            call.stream_done(self._self_chunks, self._self_first, error)

    def __del__(self) -> None:
        # A stream dropped before its end still ends its span, with what it had.
        with contextlib.suppress(Exception):
            self._self_end(None)


class SyncStream(_StreamBase):
    def __iter__(self) -> SyncStream:
        return self

    def __next__(self) -> Any:
        try:
            chunk = self._self_next()
        except StopIteration:
            self._self_end(None)
            raise
        except BaseException as exc:
            self._self_end(exc)
            raise
        if self._self_first is None:
            self._self_seen(chunk)
        self._self_chunks.append(chunk)
        return chunk

    def __enter__(self) -> SyncStream:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_end(exc_info[1])

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end(None)


class AsyncStream(_StreamBase):
    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self._self_anext()
        except StopAsyncIteration:
            self._self_end(None)
            raise
        except BaseException as exc:
            self._self_end(exc)
            raise
        if self._self_first is None:
            self._self_seen(chunk)
        self._self_chunks.append(chunk)
        return chunk

    async def __aenter__(self) -> AsyncStream:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_end(exc_info[1])

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_end(None)
