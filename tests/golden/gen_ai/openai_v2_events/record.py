"""Record: the official OpenAI instrumentation (opentelemetry-instrumentation-openai-v2)
in its DEFAULT mode, where the message content is not on the spans but in OTLP log
records (`gen_ai.system.message`, `gen_ai.user.message`, `gen_ai.assistant.message`,
`gen_ai.tool.message`, `gen_ai.choice` events in their span's context). A two-round
tool-calling chat, the second round streamed, and an embedding, against the fake API in
tests/golden/fake_llm.py. Both the spans (`request.json`) and the log records
(`logs.json`, an OTLP/JSON ExportLogsServiceRequest) are written.

    python tests/golden/gen_ai/openai_v2_events/record.py   # in the recording venv
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Default mode: no OTEL_SEMCONV_STABILITY_OPT_IN; content is captured (as events) only
# when asked for. A case that runs this program in another mode (openai_v2_event_only)
# sets both before loading it.
if "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT" not in os.environ:
    os.environ.pop("OTEL_SEMCONV_STABILITY_OPT_IN", None)
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true"

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parents[3])]

import openai  # noqa: E402
from fake_llm import serve  # noqa: E402
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor  # noqa: E402
from recording import WEATHER_TOOL, log_provider, provider, write_logs, write_request  # noqa: E402


def main(out: Path = HERE) -> None:
    """Run the program and write its spans and log records to `out`."""
    tp, exporter = provider("weather-bot")
    lp, log_exporter = log_provider("weather-bot")
    OpenAIInstrumentor().instrument(tracer_provider=tp, logger_provider=lp)
    with serve() as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden", max_retries=0)
        messages: list[dict[str, object]] = [
            {"role": "system", "content": "You are a concise weather assistant."},
            {"role": "user", "content": "What's the weather in Paris?"},
        ]
        first = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,  # type: ignore[arg-type]
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
            temperature=0.2,
            max_tokens=200,
        )
        call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
        messages.append(first.choices[0].message.model_dump(exclude_none=True))
        messages.append({"role": "tool", "tool_call_id": call.id, "content": "18°C and sunny"})
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        answer = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        client.embeddings.create(model="text-embedding-3-small", input=[answer])
    tp.force_flush()
    lp.force_flush()
    write_request(exporter.get_finished_spans(), out)
    write_logs(log_exporter.get_finished_logs(), out)


if __name__ == "__main__":
    main()
