"""One provider call recorded twice: the real OpenInference and openai-v2 instrumentations
both enabled on a real `openai` client against the fake API on loopback, inside an
`agent` span. The result: agent -> outer LLM span -> inner LLM span (whichever of the
two instrumentations was enabled last wraps outside), one request, one usage."""

from __future__ import annotations

from functools import cache

import openai
from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInference
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as OpenAIV2
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.golden.fake_llm import serve

# The fake API's usage of one chat completion.
CALL_TOKENS = {"prompt": 23, "completion": 9, "total": 32}
ORDERS = {
    "openinference inside": (OpenInference, OpenAIV2),
    "openai-v2 inside": (OpenAIV2, OpenInference),
}


@cache
def double_call(order: str) -> tuple[ReadableSpan, ...]:
    """The spans of one chat call with both instrumentations on, children first (the
    order in which they end): inner LLM, outer LLM, agent."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentors = [cls() for cls in ORDERS[order]]
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=provider)
    try:
        with serve() as url:
            client = openai.OpenAI(base_url=url + "/v1", api_key="sk", max_retries=0)
            with provider.get_tracer("app").start_as_current_span("agent"):
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "Capital?"}]
                )
            client.close()
    finally:
        for instrumentor in reversed(instrumentors):
            instrumentor.uninstrument()
        provider.shutdown()
    spans = tuple(exporter.get_finished_spans())
    assert [s.name for s in spans][-1] == "agent" and len(spans) == 3, spans
    return spans
