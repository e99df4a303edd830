"""Record: one OpenAI client instrumented twice, by the REAL
openinference-instrumentation-openai and the REAL opentelemetry-instrumentation-openai-v2
(content on spans), as happens when an app enables both. Each request then makes two
nested LLM spans: the one patched last wraps the other, and both report the same usage.
A chat with a tool call, then a streamed answer, against the fake OpenAI API.

    /tmp/rec_g/bin/python tests/golden/gen_ai/double_instrumentation/record.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "span_only"

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parents[3])]

import openai  # noqa: E402
from fake_llm import serve  # noqa: E402
from openinference.instrumentation.openai import OpenAIInstrumentor as OIInstrumentor  # noqa: E402
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor  # noqa: E402
from recording import WEATHER_TOOL, provider, write_request  # noqa: E402


def main() -> None:
    tp, exporter = provider("double-instrumented")
    OIInstrumentor().instrument(tracer_provider=tp)
    OpenAIInstrumentor().instrument(tracer_provider=tp)
    tracer = tp.get_tracer("double-instrumented.app")
    with serve() as url, tracer.start_as_current_span("answer_weather"):
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden", max_retries=0)
        messages: list[dict[str, object]] = [
            {"role": "user", "content": "What's the weather in Paris?"},
        ]
        first = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,  # type: ignore[arg-type]
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
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
        "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    tp.force_flush()
    write_request(exporter.get_finished_spans(), HERE)


if __name__ == "__main__":
    main()
