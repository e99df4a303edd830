"""Wrapping methods with wrapt, restoring them exactly, and living beside other
instrumentations of the same client.

Coexistence, so that each provider call yields one LLM span:
- a peer that wraps the same method INSIDE ours (it was instrumented first) is skipped:
  our wrapper calls what the peer wraps;
- a peer that wraps it OUTSIDE ours has already started its LLM span for this call:
  ours passes the call through;
- a peer that wraps the client's `request` method (OpenInference's OpenAI instrumentor)
  is told to stay out by OpenTelemetry's suppression flag while our call runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import wrapt
from opentelemetry import context as context_api
from opentelemetry import trace

# Module prefixes of other instrumentations of the same provider clients.
PEER_PREFIXES = (
    "opentelemetry.instrumentation.openai",  # openai-v2 (contrib) and OpenLLMetry
    "opentelemetry.instrumentation.anthropic",  # OpenLLMetry
    "openinference.instrumentation.openai",
    "openinference.instrumentation.anthropic",
)
_SUPPRESS = context_api._SUPPRESS_INSTRUMENTATION_KEY

WrapperFn = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


class Wrapper:
    """Our wrapt wrapper: a switch, so a wrapper that another instrumentation has
    wrapped over (and that cannot be taken out of the chain) can be turned off."""

    __slots__ = ("enabled", "fn")

    def __init__(self, fn: WrapperFn) -> None:
        self.fn = fn
        self.enabled = True

    def __call__(self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
        if not self.enabled:
            return wrapped(*args, **kwargs)
        return self.fn(wrapped, instance, args, kwargs)


# wrapt's function wrappers (in wrapt 2 they are not `wrapt.ObjectProxy` instances).
_FUNCTION_WRAPPERS = (wrapt.FunctionWrapper, wrapt.BoundFunctionWrapper)


def _peer_wrapper(obj: Any) -> bool:
    if not isinstance(obj, _FUNCTION_WRAPPERS):
        return False
    wrapper = getattr(obj, "_self_wrapper", None)
    if wrapper is None or isinstance(wrapper, Wrapper):
        return False
    module = getattr(wrapper, "__module__", None) or type(wrapper).__module__
    return isinstance(module, str) and module.startswith(PEER_PREFIXES)


def skip_peers(wrapped: Any) -> Any:
    """What the peers wrapped inside ours wrap: the call without their spans."""
    # (The isinstance test first: no call for the usual plain method.)
    while isinstance(wrapped, _FUNCTION_WRAPPERS) and _peer_wrapper(wrapped):
        wrapped = wrapped.__wrapped__
    return wrapped


# The GenAI utilities contrib's instrumentations (openai-v2 among them) start spans with.
GENAI_UTIL_SCOPE = "opentelemetry.util.genai"
_INFERENCE = frozenset({"chat", "text_completion", "generate_content", "embeddings"})


def peer_span_active(span: trace.Span | None = None) -> bool:
    """Has a peer already started the LLM span of this very call (it wraps outside us)?
    The current span is then an open span of a peer's scope (for the GenAI utilities'
    generic scope: an inference or embeddings span)."""
    span = trace.get_current_span() if span is None else span
    name = getattr(getattr(span, "instrumentation_scope", None), "name", None)
    if not isinstance(name, str) or getattr(span, "end_time", None) is not None:
        return False
    if name.startswith(PEER_PREFIXES):
        return True
    if name.startswith(GENAI_UTIL_SCOPE):
        attrs = getattr(span, "attributes", None) or {}
        return attrs.get("gen_ai.operation.name") in _INFERENCE
    return False


def request_peer(*classes: Any) -> bool:
    """Does a peer wrap the `request` method of one of these client classes?"""
    for cls in classes:  # a loop, not any(): asked on every call
        request = cls.__dict__.get("request")
        if isinstance(request, _FUNCTION_WRAPPERS) and _peer_wrapper(request):
            return True
    return False


@contextmanager
def suppressed(on: bool) -> Iterator[None]:
    """OpenTelemetry's suppression flag while the block runs (when `on`)."""
    if not on:
        yield
        return
    token = context_api.attach(context_api.set_value(_SUPPRESS, True))
    try:
        yield
    finally:
        context_api.detach(token)


def wrap(module: str, path: str, fn: WrapperFn) -> None:
    """Wrap `module.Class.method` with our wrapper."""
    wrapt.wrap_function_wrapper(module, path, Wrapper(fn))


def unwrap(module: str, path: str) -> None:
    """Take our wrapper off `module.Class.method`, leaving the peers' wrappers as they
    are: the method is then exactly what it was before ours (or, when a peer wrapped
    over ours, ours is spliced out of the chain)."""
    owner_name, _, attr = path.rpartition(".")
    owner: Any = importlib.import_module(module)
    for part in owner_name.split("."):
        owner = getattr(owner, part)
    current = vars(owner).get(attr)
    outer: Any = None
    while isinstance(current, _FUNCTION_WRAPPERS):
        ours = getattr(current, "_self_wrapper", None)
        if isinstance(ours, Wrapper):
            inner = current.__wrapped__
            if outer is None:
                setattr(owner, attr, inner)
            else:
                try:
                    outer.__wrapped__ = inner
                except Exception:
                    ours.enabled = False
            return
        outer, current = current, current.__wrapped__
