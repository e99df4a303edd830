"""Record: the official OpenAI instrumentation (opentelemetry-instrumentation-openai-v2,
latest GenAI conventions, content on spans) plus the official GenAI util's workflow,
agent, retrieval and tool spans, around the real `openai` client talking to the fake
API in tests/golden/fake_llm.py.

    python tests/golden/gen_ai/openai_v2_agent/record.py   # in the recording venv
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "span_only"

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import openai
from fake_llm import serve
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.util.genai.handler import TelemetryHandler
from opentelemetry.util.genai.types import InputMessage, OutputMessage, Text
from recording import WEATHER_TOOL, provider, write_request


def main() -> None:
    tp, exporter = provider("trip-planner")
    OpenAIInstrumentor().instrument(tracer_provider=tp)
    handler = TelemetryHandler(tracer_provider=tp)
    question = "What's the weather in Paris?"
    with serve() as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden", max_retries=0)
        messages: list[dict[str, object]] = [
            {"role": "system", "content": "You are a concise travel assistant."},
            {"role": "user", "content": question},
        ]
        with handler.workflow("trip_planner") as workflow:
            workflow.input_messages = [InputMessage("user", [Text(question)])]
            with handler.invoke_local_agent(
                agent_name="weather_agent", request_model="gpt-4o-mini"
            ) as agent:
                agent.agent_id = "agent-7"
                agent.agent_description = "Answers weather questions"
                agent.conversation_id = "conv-42"
                agent.input_messages = [InputMessage("user", [Text(question)])]
                with handler.retrieval(data_source_id="kb-weather", provider="chroma") as ret:
                    ret.query_text = "weather in Paris"
                    ret.top_k = 2
                    ret.documents = [
                        {"id": "doc-paris", "score": 0.92, "content": "Paris: mild, sunny spells."},
                        {"id": "doc-lyon", "score": 0.41, "content": "Lyon: warmer than Paris."},
                    ]
                first = client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=messages,  # type: ignore[arg-type]
                    tools=[WEATHER_TOOL],  # type: ignore[list-item]
                    temperature=0.2,
                    max_tokens=200,
                    seed=7,
                )
                call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
                with handler.tool(
                    "get_weather",
                    tool_call_id=call.id,
                    tool_type="function",
                    tool_description="Current weather in a city",
                ) as tool:
                    tool.arguments = {"city": "Paris"}
                    tool.tool_result = "18°C and sunny"
                try:
                    with handler.tool("get_forecast", tool_type="function") as failing:
                        failing.arguments = {"city": "Paris", "days": 3}
                        raise TimeoutError("forecast service did not answer in 5 s")
                except TimeoutError:
                    pass
                messages.append(first.choices[0].message.model_dump(exclude_none=True))
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": "18°C and sunny"}
                )
                stream = client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=messages,  # type: ignore[arg-type]
                    stream=True,
                    stream_options={"include_usage": True},
                    stop=["\n\n"],
                )
                answer = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
                client.embeddings.create(
                    model="text-embedding-3-small", input=["weather in Paris", answer]
                )
                # What an agent framework reports: the final answer and the usage of all
                # its model calls (an aggregate, which must not be counted twice).
                agent.output_messages = [
                    OutputMessage("assistant", [Text(answer)], finish_reason="stop")
                ]
                agent.input_tokens = 55
                agent.output_tokens = 18
            workflow.output_messages = [
                OutputMessage("assistant", [Text(answer)], finish_reason="stop")
            ]
    write_request(exporter.get_finished_spans(), Path(__file__).resolve().parent)


if __name__ == "__main__":
    main()
