"""The other direction: spans of any LLM convention, rewritten into the official gen_ai.*
keys (plus the compatibility families you pick), then exported by any OTel exporter.

    python examples/processor_convention_exporter.py

Swap ConsoleSpanExporter for OTLPSpanExporter to feed Jaeger, Tempo, Honeycomb,
Phoenix, Langfuse or LangSmith from one pipeline.
"""

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from otel_llm import ConventionSpanExporter

provider = TracerProvider()
provider.add_span_processor(
    SimpleSpanProcessor(
        ConventionSpanExporter(ConsoleSpanExporter(), emit=("gen_ai", "openinference"))
    )
)

# An OpenInference span (as Phoenix's instrumentors write it) comes out in gen_ai.* too.
with provider.get_tracer("example").start_as_current_span(
    "ChatOpenAI",
    attributes={
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o-mini",
        "llm.token_count.prompt": 30,
        "llm.token_count.completion": 8,
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "what is otel?",
    },
):
    pass
provider.shutdown()
