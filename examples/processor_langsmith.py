"""Runs to a LangSmith-compatible run-ingest endpoint, with sampling that keeps traces
whole, redaction, and a spill directory for outages.

    LANGSMITH_API_KEY=lsv2_... LANGSMITH_PROJECT=demo python examples/processor_langsmith.py
    otel-llm replay ./otel-llm-spill     # later, if the endpoint was down

Endpoint, API key and project come from LANGSMITH_ENDPOINT (default: LangSmith's API) /
LANGSMITH_API_KEY / LANGSMITH_PROJECT (or the legacy LANGCHAIN_* names).

It works against LangSmith itself and any server with LangSmith's run-ingest API,
`otel-llm serve` included (LANGSMITH_ENDPOINT=http://127.0.0.1:4318): the run is in its
store once the example exits (`otel-llm runs -p demo`).
"""

import re

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode

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
) as span:
    # A call that timed out: kept whatever the 10% sampling decides (keep_errors).
    span.set_status(Status(StatusCode.ERROR, "TimeoutError: no answer in 30 s"))

provider.shutdown()
print(processor.stats)
