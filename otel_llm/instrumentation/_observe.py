"""`observe`: trace your own functions and blocks, like LangSmith's `@traceable` and
Langfuse's `@observe`.

    from otel_llm import observe

    @observe(as_type="retriever")
    def search(query: str) -> list[dict]: ...

    @observe(as_type="generation")
    def answer(question: str) -> str:
        ...
        obs = observe.current()
        obs.update(model="gpt-4o-mini", usage={"input_tokens": 12, "output_tokens": 3})

    with observe("plan", as_type="agent") as obs:
        obs.update(input={"goal": goal})
        ...
        obs.update(output=plan)

`as_type` is `generation`, `embedding`, `retriever`, `tool`, `agent` or `span` (the
default); the run type follows (`llm`, `embedding`, `retriever`, `tool`, `chain`).
Functions may be sync, async, generators or async generators (a generator's run ends
when it is exhausted or closed; its output is the list of what it yielded). The
arguments (bound to their parameter names, `self` and `cls` left out) and the return
value are captured JSON-safe and size-limited (`_capture`); an exception ends the run
with the error and is raised on unchanged. The span is current while the function runs,
so provider calls and other observed functions inside it nest under it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any, TypeVar, cast

from opentelemetry import context as context_api
from opentelemetry import trace

from otel_llm.convert import DEFAULT_KIND, OBSERVATION_KEY
from otel_llm.ids import run_id_from_span_id
from otel_llm.instrumentation._capture import capture
from otel_llm.instrumentation._core import (
    SCOPE_VERSION,
    Settings,
    finish_span,
    log_once,
    now_ns,
    usage_metadata,
)
from otel_llm.model import RUN_TYPE_OF, ObservationType, Run, SpanKind

SCOPE = "otel_llm.observe"
F = TypeVar("F", bound=Callable[..., Any])
_CURRENT = context_api.create_key("otel_llm.observation")
_SKIPPED = frozenset({"self", "cls"})


class _State:
    tracer_provider: trace.TracerProvider | None = None
    settings: Settings | None = None


def _settings() -> Settings:
    if _State.settings is None:
        _State.settings = Settings.from_env()
    return _State.settings


class Observation:
    """One observed step: its span is open until `end`. Update it while it runs."""

    def __init__(
        self,
        name: str,
        as_type: str,
        inputs: dict[str, Any] | None,
        metadata: dict[str, Any] | None,
        tags: list[str] | None,
    ) -> None:
        obs = ObservationType(as_type)
        self.settings = _settings()
        md: dict[str, Any] = dict(metadata or {})
        if obs is ObservationType.AGENT:
            md[OBSERVATION_KEY] = obs.value
        self.run = Run(
            id=run_id_from_span_id(b"\x00" * 7 + b"\x01"),  # the span's own, at the end
            name=name,
            run_type=RUN_TYPE_OF[obs],
            start_time_ns=now_ns(),
            inputs=inputs if self.settings.capture_content and inputs else {},
            extra={"metadata": md} if md else {},
            tags=list(tags or []),
        )
        tracer = trace.get_tracer(SCOPE, SCOPE_VERSION, _State.tracer_provider)
        kind = (
            trace.SpanKind.CLIENT
            if DEFAULT_KIND[obs] == SpanKind.CLIENT
            else (trace.SpanKind.INTERNAL)
        )
        self.span = tracer.start_span(name, kind=kind, start_time=self.run.start_time_ns)
        self._ended = False

    def context(self) -> context_api.Context:
        return context_api.set_value(_CURRENT, self, trace.set_span_in_context(self.span))

    def update(
        self,
        *,
        input: Any = None,
        output: Any = None,
        model: str | None = None,
        provider: str | None = None,
        usage: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        """Set what the step's run says; None leaves a field as it is.

        Args:
            input / output: captured JSON-safe (a non-dict value as `{"input": ...}` /
                `{"output": ...}`); left out when content capture is off.
            model / provider: of a generation (LangSmith's `ls_model_name` /
                `ls_provider`).
            usage: token counts, LangSmith's (`input_tokens`, `output_tokens`,
                `input_token_details`, ...) or OpenAI's (`prompt_tokens`, ...) names.
        """
        try:
            run = self.run
            capture_content = self.settings.capture_content
            if input is not None and capture_content:
                value = capture(input)
                run.inputs = value if isinstance(value, dict) else {"input": value}
            if output is not None and capture_content:
                value = capture(output)
                key = "documents" if run.run_type == "retriever" else "output"
                run.outputs = value if isinstance(value, dict) else {key: value}
            if model is not None:
                run.metadata["ls_model_name"] = model
                run.extra.setdefault("invocation_params", {})["model"] = model
            if provider is not None:
                run.metadata["ls_provider"] = provider
            if usage is not None:
                run.metadata["usage_metadata"] = _usage(usage)
            if metadata:
                run.metadata.update(capture(metadata))
            if tags:
                run.tags.extend(tags)
        except Exception as exc:
            log_once("observe: update", exc)

    def end(self, error: BaseException | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        self.run.end_time_ns = now_ns()
        finish_span(self.span, self.run, self.settings, error)


def _usage(usage: dict[str, Any]) -> dict[str, Any]:
    if "input_tokens" in usage or "output_tokens" in usage:
        return dict(usage)
    found = usage_metadata(
        usage.get("prompt_tokens"), usage.get("completion_tokens"), total=usage.get("total_tokens")
    )
    return found or dict(usage)


class Observer:
    """What `observe(...)` returns: a decorator, and a (sync or async) context manager."""

    def __init__(
        self,
        name: str | None,
        as_type: str,
        capture_input: bool,
        capture_output: bool,
        metadata: dict[str, Any] | None,
        tags: list[str] | None,
    ) -> None:
        ObservationType(as_type)  # ValueError for an unknown type, at decoration time
        self.name, self.as_type = name, as_type
        self.capture_input, self.capture_output = capture_input, capture_output
        self.metadata, self.tags = metadata, tags
        self._stack: list[tuple[Observation | None, object]] = []

    # --- context manager ---

    def __enter__(self) -> Observation:
        obs = self._start(self.name or "observe", None)
        token = context_api.attach(obs.context()) if obs is not None else None
        self._stack.append((obs, token))
        return obs if obs is not None else _Nothing()  # type: ignore[return-value]

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        obs, token = self._stack.pop()
        if token is not None:
            context_api.detach(token)  # type: ignore[arg-type]
        if obs is not None:
            obs.end(exc)

    async def __aenter__(self) -> Observation:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    # --- decorator ---

    def __call__(self, func: F) -> F:
        name = self.name or getattr(func, "__name__", None) or repr(func)
        try:
            sig: inspect.Signature | None = inspect.signature(func)
        except (TypeError, ValueError):
            sig = None

        def start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Observation | None:
            inputs = _bound(sig, args, kwargs) if self.capture_input else None
            return self._start(name, inputs)

        if inspect.isasyncgenfunction(func):
            return cast(F, _async_gen(func, start, self.capture_output))
        if inspect.isgeneratorfunction(func):
            return cast(F, _gen(func, start, self.capture_output))
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_run(*args: Any, **kwargs: Any) -> Any:
                obs = start(args, kwargs)
                if obs is None:
                    return await func(*args, **kwargs)
                token = context_api.attach(obs.context())
                try:
                    result = await func(*args, **kwargs)
                except BaseException as exc:
                    context_api.detach(token)
                    obs.end(exc)
                    raise
                context_api.detach(token)
                _finish(obs, result, self.capture_output)
                return result

            return cast(F, async_run)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            obs = start(args, kwargs)
            if obs is None:
                return func(*args, **kwargs)
            token = context_api.attach(obs.context())
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                context_api.detach(token)
                obs.end(exc)
                raise
            context_api.detach(token)
            _finish(obs, result, self.capture_output)
            return result

        return cast(F, run)

    def _start(self, name: str, inputs: dict[str, Any] | None) -> Observation | None:
        try:
            return Observation(name, self.as_type, inputs, self.metadata, self.tags)
        except Exception as exc:
            log_once("observe: starting", exc)
            return None


class _Nothing:
    """What a context manager yields when its span could not start: updates do nothing."""

    def update(self, **kwargs: Any) -> None:
        pass


def _bound(
    sig: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    try:
        if sig is None:
            raise TypeError
        bound = sig.bind_partial(*args, **kwargs)
        values = {k: v for k, v in bound.arguments.items() if k not in _SKIPPED}
    except TypeError:
        values = {"args": list(args), **kwargs}
    captured = capture(values)
    return captured if isinstance(captured, dict) else {"input": captured}


def _finish(obs: Observation, result: Any, capture_output: bool) -> None:
    if capture_output and obs.run.outputs is None and result is not None:
        obs.update(output=result)
    obs.end()


def _gen(
    func: Callable[..., Generator[Any, Any, Any]],
    start: Callable[..., Observation | None],
    capture_output: bool,
) -> Callable[..., Generator[Any, Any, Any]]:
    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        obs = start(args, kwargs)
        gen = func(*args, **kwargs)
        if obs is None:
            return (yield from gen)
        items: list[Any] = []
        error: BaseException | None = None
        try:
            while True:
                token = context_api.attach(obs.context())
                try:
                    item = next(gen)
                except StopIteration:
                    break
                finally:
                    context_api.detach(token)
                items.append(item)
                yield item
        except GeneratorExit:
            gen.close()
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            if error is None and capture_output and obs.run.outputs is None:
                obs.update(output=items)
            obs.end(error)

    return run


def _async_gen(
    func: Callable[..., AsyncIterator[Any]],
    start: Callable[..., Observation | None],
    capture_output: bool,
) -> Callable[..., AsyncIterator[Any]]:
    @functools.wraps(func)
    async def run(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        obs = start(args, kwargs)
        gen = func(*args, **kwargs)
        if obs is None:
            async for item in gen:
                yield item
            return
        items: list[Any] = []
        error: BaseException | None = None
        try:
            while True:
                token = context_api.attach(obs.context())
                try:
                    item = await gen.__anext__()
                except StopAsyncIteration:
                    break
                finally:
                    context_api.detach(token)
                items.append(item)
                yield item
        except GeneratorExit:
            await gen.aclose()  # type: ignore[attr-defined]
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            if error is None and capture_output and obs.run.outputs is None:
                obs.update(output=items)
            obs.end(error)

    return run


class _Observe:
    """`observe`: see the module docstring."""

    def __call__(
        self,
        func: Any = None,
        /,
        *,
        name: str | None = None,
        as_type: str = "span",
        capture_input: bool = True,
        capture_output: bool = True,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> Any:
        """`@observe`, `@observe(as_type=...)`, or `with observe("name", ...) as obs:`."""
        if isinstance(func, str):
            name, func = func, None
        observer = Observer(name, as_type, capture_input, capture_output, metadata, tags)
        return observer(func) if callable(func) else observer

    @staticmethod
    def current() -> Observation | None:
        """The observation whose function or block is running, if any."""
        found = context_api.get_value(_CURRENT)
        return found if isinstance(found, Observation) else None

    @staticmethod
    def configure(
        tracer_provider: trace.TracerProvider | None = None, settings: Settings | None = None
    ) -> None:
        """Use this provider (default: the global one) and settings (default: from the
        environment) for observations started from now on."""
        _State.tracer_provider = tracer_provider
        _State.settings = settings


observe = _Observe()
