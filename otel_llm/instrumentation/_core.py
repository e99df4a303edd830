"""What every instrumentor shares: settings, the run -> live span step, never raising.

Each instrumented call starts an SDK span at once (so HTTP and other child spans nest
under it) and, when the call ends, describes itself as a `Run`: the run a LangSmith user
expects (run type, name, inputs, outputs, model, usage in `extra.metadata`). The
project's own writer (`otel_llm.convert.run_to_span`) turns that run into attributes,
so the live span carries exactly what `runs_to_spans` writes for the chosen families,
and `spans_to_runs` reads it back into the same run.

The instrumentation never raises into the app: a failure inside it is logged once per
place and the call proceeds.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.trace import Span, Status, StatusCode

from otel_llm import config
from otel_llm.convert import DEFAULT_EMIT, WrittenSpan, span_writer
from otel_llm.ids import run_id_from_span_id
from otel_llm.model import Run
from otel_llm.redaction import Redactor

T = TypeVar("T", bound=tuple[Any, ...])

_log = logging.getLogger("otel_llm.instrumentation")
_logged: set[str] = set()
_logged_lock = threading.Lock()

SCOPE_VERSION = "0.1.0"

# A live span's run ids are its OTel ids, read back from the span itself: the live
# writer (`span_writer`) leaves the run's id out, so a run written here keeps a stand-in.
_STAND_IN_ID = run_id_from_span_id(b"\x00" * 7 + b"\x01")

# The scopes of the provider instrumentors: a call under one of their open spans is
# inside a call already traced (a client method that calls another), not traced twice.
PROVIDER_SCOPES = ("otel_llm.instrumentation.openai", "otel_llm.instrumentation.anthropic")


def log_once(where: str, exc: BaseException) -> None:
    """Log an instrumentation failure, once per place; never raises."""
    try:
        with _logged_lock:
            if where in _logged:
                return
            _logged.add(where)
        _log.warning(
            "otel-llm instrumentation failed in %s (%r); the call proceeds, logged once",
            where,
            exc,
            exc_info=exc,
        )
    except Exception:  # logging itself failed: nothing else is safe to do
        pass


@dataclass(frozen=True)
class Settings:
    """How spans are written.

    Args:
        emit: convention families besides `otel_llm.*` (OTEL_LLM_EMIT; default all).
        capture_content: record messages, arguments and results
            (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT; default true).
        redactor: the redaction applied to each run before it is written (the
            project's built-in rules and LANGSMITH_HIDE_INPUTS / _OUTPUTS), or None.
    """

    emit: frozenset[str] = DEFAULT_EMIT
    capture_content: bool = True
    redactor: Redactor | None = field(default=None, compare=False)

    @cached_property
    def write(self) -> Callable[[Run], WrittenSpan]:
        """`run_to_span` for these families, worked out once."""
        return span_writer(self.emit)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        from otel_llm.from_env import emit_from_env, redactor_from_env

        emit = emit_from_env(environ)
        unknown = emit - DEFAULT_EMIT
        if unknown:
            raise ValueError(
                f"{config.OTEL_LLM_EMIT} names unknown families {sorted(unknown)}; "
                f"choose from {sorted(DEFAULT_EMIT)}"
            )
        return cls(emit, config.capture_message_content(environ), redactor_from_env(environ))

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> Settings:
        """From `instrument(**kwargs)`: `emit=`, `capture_content=`, `redaction=`
        (True, False or a Redactor) win over the environment."""
        base = cls.from_env()
        emit: Collection[str] = kwargs.get("emit") or base.emit
        unknown = set(emit) - DEFAULT_EMIT
        if unknown:
            raise ValueError(f"unknown emit families {sorted(unknown)}")
        capture = kwargs.get("capture_content")
        redaction = kwargs.get("redaction", True)
        redactor = (
            redaction if isinstance(redaction, Redactor) else (base.redactor if redaction else None)
        )
        return cls(
            frozenset(emit),
            base.capture_content if capture is None else bool(capture),
            redactor,
        )


def tracer_for(name: str, kwargs: Mapping[str, Any]) -> trace.Tracer:
    """The tracer of the given `tracer_provider=`, else of the global one (a proxy until
    the app sets its provider: never replaced here)."""
    return trace.get_tracer(name, SCOPE_VERSION, kwargs.get("tracer_provider"))


# Epoch nanoseconds (the clock itself: no Python frame around it, twice a call).
now_ns = time.time_ns


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def finish_span(
    span: Span,
    run: Run,
    settings: Settings,
    error: BaseException | None = None,
    end_ns: int | None = None,
) -> None:
    """Describe the span by its run (through the project's writer) and end it.

    Never raises: a failure is logged once and the span still ends.
    """
    try:
        if error is not None and run.error is None:
            run.error = error_text(error)
        if settings.redactor is not None:
            run = settings.redactor(run)
        record = settings.write(run)
        set_attributes(span, record.attributes)
        if record.name != getattr(span, "name", record.name):
            span.update_name(record.name)
        for event in record.events:
            span.add_event(event.name, event.attributes, event.time_unix_nano)
        if error is not None:
            span.record_exception(error)
        if run.error is not None:
            span.set_status(Status(StatusCode.ERROR, run.error))
    except Exception as exc:
        log_once("writing the span", exc)
    try:
        span.end(end_ns if end_ns is not None else run.end_time_ns)
    except Exception as exc:
        log_once("ending the span", exc)


def set_attributes(span: Span, attrs: dict[str, Any]) -> None:
    """`span.set_attributes(attrs)`, for attributes the project's writer made.

    On the SDK's own span with no value-length limit and room for them all, they are
    stored directly: the writer only makes valid values, its arrays tuples as the SDK
    keeps them (a run written here is never one read from a span, whose raw attributes
    would come along), so the SDK's per-value checks would find nothing, and they cost
    about a third of a traced call. Anything else goes through `set_attributes`.
    """
    store = getattr(span, "_attributes", None)
    lock = getattr(span, "_lock", None)
    values = getattr(store, "_dict", None)
    if (
        type(store) is BoundedAttributes
        and lock is not None
        and isinstance(values, dict)
        and store.max_value_len is None
        and (store.maxlen is None or len(values) + len(attrs) <= store.maxlen)
        and getattr(span, "_end_time", 0) is None
    ):
        with lock:
            values.update(attrs)
        return
    span.set_attributes(attrs)


def first_token_event(ns: int | None) -> list[dict[str, Any]]:
    """LangSmith's record of the first streamed token: a `new_token` event."""
    if ns is None:
        return []
    from otel_llm.model import ns_to_iso

    event: dict[str, Any] = {"name": "new_token", "time": ns_to_iso(ns)}
    if ns % 1000:
        event["time_unix_nano"] = ns
    return [event]


def under_llm_run() -> bool:
    """Is a LangChain chat-model / LLM run the closest run here? Then a provider call is
    that same generation, whose tokens the run already counts. (The LangChain tracer's
    current span says so.)"""
    return bool(getattr(trace.get_current_span(), "otel_llm_llm_run", False))


def generation_run(
    name: str,
    *,
    provider: str,
    model: str | None,
    params: dict[str, Any],
    start_ns: int,
    run_type: str = "llm",
) -> Run:
    """The run of one provider call, before its answer is known."""
    metadata: dict[str, Any] = {
        "ls_provider": provider,
        "ls_model_type": "chat" if run_type == "llm" else "embedding",
    }
    if model:
        metadata["ls_model_name"] = model
    for param, key in (
        ("temperature", "ls_temperature"),
        ("max_tokens", "ls_max_tokens"),
        ("stop", "ls_stop"),
    ):
        if params.get(param) is not None:
            metadata[key] = params[param]
    return Run(  # (the first three positional: keywords cost a Run more to match)
        _STAND_IN_ID,
        name,
        run_type,
        start_time_ns=start_ns,
        extra={"metadata": metadata, "invocation_params": params},
    )


def set_usage(run: Run, usage: dict[str, Any] | None, counted_by_parent: bool = False) -> None:
    """Usage as LangSmith keeps it (`extra.metadata.usage_metadata`), unless a LangChain
    model run above this call already counts these tokens (kept as
    `usage_counted_by_parent` then, so nothing is counted twice)."""
    if not usage:
        return
    if counted_by_parent:
        run.metadata["usage_counted_by_parent"] = usage
    else:
        run.metadata["usage_metadata"] = usage


def usage_metadata(
    input_tokens: Any,
    output_tokens: Any,
    *,
    cache_read: Any = None,
    cache_creation: Any = None,
    reasoning: Any = None,
    total: Any = None,
) -> dict[str, Any] | None:
    """LangSmith's usage_metadata; input tokens include cached ones (OTel's rule)."""
    i_known, o_known = isinstance(input_tokens, int), isinstance(output_tokens, int)
    if not (i_known or o_known):
        return None
    i = input_tokens if i_known else 0
    o = output_tokens if o_known else 0
    usage: dict[str, Any] = {
        "input_tokens": i,
        "output_tokens": o,
        "total_tokens": total if isinstance(total, int) else i + o,
    }
    # A zero or None detail (the usual) is passed over before any isinstance call.
    if cache_read and isinstance(cache_read, int):
        usage["input_token_details"] = {"cache_read": cache_read}
    if cache_creation and isinstance(cache_creation, int):
        usage.setdefault("input_token_details", {})["cache_creation"] = cache_creation
    if reasoning and isinstance(reasoning, int):
        usage["output_token_details"] = {"reasoning": reasoning}
    return usage


def plain(value: Any) -> Any:
    """A provider SDK object (pydantic model, TypedDict, list of them) as plain JSON data."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return plain(dump(exclude_none=True))
        except Exception:
            return repr(value)
    return repr(value)


def get(obj: Any, key: str, default: Any = None) -> Any:
    """A field of a pydantic object or a dict."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def given(value: Any) -> bool:
    """openai's NOT_GIVEN / Omit sentinels mean the argument was left out."""
    return value is not None and type(value).__name__ not in ("NotGiven", "Omit")


def available(
    targets: tuple[T, ...],
) -> list[T]:
    """The targets this version of the client has (the Responses API came later)."""
    found = []
    for target in targets:
        module, path = target[0], target[1]
        try:
            owner: Any = importlib.import_module(module)
            for part in path.split("."):
                owner = getattr(owner, part)
        except (ImportError, AttributeError):
            continue
        found.append(target)
    return found
