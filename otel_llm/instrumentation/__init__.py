"""Auto-instrumentation: OpenAI, Anthropic and LangChain calls, and user code (`observe`),
as OTel spans in the conventions the project writes.

Each instrumentor is an `opentelemetry.instrumentation.instrumentor.BaseInstrumentor`
registered under the `opentelemetry_instrumentor` entry-point group (`otel_llm_openai`,
`otel_llm_anthropic`, `otel_llm_langchain`), so `opentelemetry-instrument` loads them.
"""

from __future__ import annotations

from otel_llm.instrumentation._core import Settings
from otel_llm.instrumentation.openai import OpenAIInstrumentor

__all__ = ["OpenAIInstrumentor", "Settings"]
