"""Record the OpenInference golden case: an agent that retrieves, embeds, calls a tool
and answers, traced by the REAL openinference-instrumentation-openai around the real
`openai` client, against the fake OpenAI API on 127.0.0.1.

    python -m venv /tmp/rec_oi && /tmp/rec_oi/bin/pip install \
        openinference-instrumentation-openai openai opentelemetry-sdk orjson protobuf \
        opentelemetry-proto
    PYTHONPATH=. /tmp/rec_oi/bin/python tests/golden/openinference/openai_agent/record.py

Recorded with openinference-instrumentation-openai 0.1.66, openinference-instrumentation
0.1.72, openinference-semantic-conventions 0.1.42, openai 3.52.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parents[3])]

import openai  # noqa: E402
from fake_llm import serve  # noqa: E402
from openinference.instrumentation import (  # noqa: E402
    OITracer,
    TraceConfig,
    get_retriever_attributes,
    using_attributes,
)
from openinference.instrumentation.openai import OpenAIInstrumentor  # noqa: E402
from opentelemetry import trace  # noqa: E402
from recording import WEATHER_TOOL, provider, write_request  # noqa: E402


def main() -> None:
    tp, exporter = provider("weather-agent")
    OpenAIInstrumentor().instrument(tracer_provider=tp)
    tracer = OITracer(tp.get_tracer("weather-agent"), config=TraceConfig())

    @tracer.retriever(name="search_docs")
    def search_docs(query: str) -> list[str]:
        docs = [
            {
                "id": "doc-1",
                "content": "Paris is the capital of France.",
                "score": 0.92,
                "metadata": {"source": "atlas", "page": 12},
            },
            {"id": "doc-2", "content": "Paris weather is mild in spring.", "score": 0.71},
        ]
        trace.get_current_span().set_attributes(get_retriever_attributes(documents=docs))
        return [d["content"] for d in docs]

    @tracer.tool(
        name="get_weather",
        description="Current weather in a city",
        parameters=WEATHER_TOOL["function"]["parameters"],
    )
    def get_weather(city: str) -> str:
        return "18°C and sunny"

    with serve() as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden")

        @tracer.agent(name="weather_agent")
        def agent(question: str) -> str:
            search_docs(question)
            client.embeddings.create(model="text-embedding-3-small", input=[question])
            messages: list = [
                {"role": "system", "content": "You answer weather questions."},
                {"role": "user", "content": question},
            ]
            first = client.chat.completions.create(
                model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL], temperature=0.2
            )
            call = first.choices[0].message.tool_calls[0]
            result = get_weather(city="Paris")
            messages += [
                first.choices[0].message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": call.id, "content": result},
            ]
            second = client.chat.completions.create(
                model="gpt-4o-mini", messages=messages, temperature=0.2, max_tokens=200
            )
            return second.choices[0].message.content or ""

        with using_attributes(
            session_id="sess-42",
            user_id="user-7",
            metadata={"tenant": "acme", "tier": 2},
            tags=["golden", "weather"],
        ):
            agent("What is the weather in Paris?")

    tp.force_flush()
    write_request(exporter.get_finished_spans(), HERE)


if __name__ == "__main__":
    main()
