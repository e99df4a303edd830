"""Auto-instrumentation: OpenAI, Anthropic and LangChain calls, and your own code
(`observe`), as OTel spans in the conventions the project writes.

Each instrumentor is an `opentelemetry.instrumentation.instrumentor.BaseInstrumentor`
registered under the `opentelemetry_instrumentor` entry-point group (`otel_llm_openai`,
`otel_llm_anthropic`, `otel_llm_langchain`), so `opentelemetry-instrument` loads them;
they need the `instrument` extra (`pip install 'otel-llm[instrument]'`). They are
imported on first use, so `observe` works without that extra.
"""

import importlib

from otel_llm.instrumentation._core import Settings
from otel_llm.instrumentation._observe import Observation, observe

_LAZY = {
    "OpenAIInstrumentor": "otel_llm.instrumentation.openai",
    "AnthropicInstrumentor": "otel_llm.instrumentation.anthropic",
    "LangChainInstrumentor": "otel_llm.instrumentation.langchain",
    "OtelLangChainTracer": "otel_llm.instrumentation.langchain",
}

__all__ = [
    "AnthropicInstrumentor",
    "LangChainInstrumentor",
    "Observation",
    "OpenAIInstrumentor",
    "OtelLangChainTracer",
    "Settings",
    "observe",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
