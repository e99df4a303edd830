"""Add one processor to an existing OpenTelemetry setup: LLM spans become runs.

python examples/processor_quickstart.py   # writes runs.jsonl where you run it
"""

from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider

from otel_llm import RunSpanProcessor
from otel_llm.sinks import JsonlRunSink

provider = TracerProvider()  # your existing provider
provider.add_span_processor(RunSpanProcessor(sink=JsonlRunSink("runs.jsonl")))

# What an instrumented app does anyway: an agent calls a model over HTTP. The HTTP span
# is not an LLM span, so it does not become a run; the agent and the chat do.
AGENT = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "helper"}
CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 5,
    "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]',
}
tracer = provider.get_tracer("example")
with (
    tracer.start_as_current_span("invoke_agent helper", attributes=AGENT),
    tracer.start_as_current_span("chat gpt-4o-mini", attributes=CHAT),
    tracer.start_as_current_span("POST api.openai.com", attributes={"http.method": "POST"}),
):
    pass

provider.shutdown()  # flushes; at exit this happens by itself
print(Path("runs.jsonl").read_text())
