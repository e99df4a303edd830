"""Runs to any LangSmith-compatible endpoint (LangSmith, or `otel-llm serve`), with
sampling that keeps traces whole, redaction, and a spill directory for outages.

    LANGSMITH_ENDPOINT=http://127.0.0.1:4318 LANGSMITH_PROJECT=demo \\
        python examples/processor_langsmith.py
    otel-llm replay ./otel-llm-spill     # later, if the endpoint was down

Endpoint, API key and project come from LANGSMITH_ENDPOINT / LANGSMITH_API_KEY /
LANGSMITH_PROJECT (or the legacy LANGCHAIN_* names).
"""

import re

from opentelemetry.sdk.trace import TracerProvider

from otel_llm import (
    BUILTIN_PATTERNS,
    DEFAULT_KEYS,
    LangSmithRunSink,
    Redactor,
    RunSpanProcessor,
    TraceSampler,
)

processor = RunSpanProcessor(
    sink=LangSmithRunSink(),
    # 10% of traces, plus every trace with an error or slower than 5 s, kept whole.
    sampler=TraceSampler(0.1, keep_errors=True, slow_threshold_ms=5_000),
    # The built-in rules plus an internal key name and ticket ids.
    redaction=Redactor(
        keys=(*DEFAULT_KEYS, "session_cookie"),
        patterns=(*BUILTIN_PATTERNS.values(), re.compile(r"\bTICKET-\d+\b")),
    ),
    spill_dir="otel-llm-spill",
)
provider = TracerProvider()
provider.add_span_processor(processor)

tracer = provider.get_tracer("example")
with tracer.start_as_current_span(
    "chat claude",
    attributes={
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", '
        '"content": "TICKET-42: mail bob@example.com"}]}]',
    },
):
    pass

provider.shutdown()
print(processor.stats)
