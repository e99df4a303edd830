"""Record the Langfuse golden case: an agent with a retriever, an OpenAI chat call with a
tool call (the REAL `langfuse.openai` drop-in around the real `openai` client), a tool,
an Anthropic-style generation reported by hand (usage without cached tokens, cost,
completion start time), an embedding and a failed guardrail, all traced by the REAL
langfuse Python SDK (v5, OTel based) into an in-memory exporter.

    python -m venv /tmp/rec_lf && /tmp/rec_lf/bin/pip install langfuse openai \
        opentelemetry-sdk orjson protobuf opentelemetry-proto
    PYTHONPATH=. /tmp/rec_lf/bin/python tests/golden/langfuse/trip_planner/record.py

Recorded with langfuse 5.0.4 and openai 3.52 against the fake OpenAI API on 127.0.0.1.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parents[3])]

from fake_llm import serve  # noqa: E402
from langfuse import propagate_attributes  # noqa: E402
from recording import langfuse_recording  # noqa: E402

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def main() -> None:
    with (
        langfuse_recording("trip-planner", HERE, environment="golden", release="v1.2") as langfuse,
        serve() as url,
    ):
        from langfuse.openai import OpenAI  # the drop-in; uses the client made above

        client = OpenAI(base_url=f"{url}/v1", api_key="sk-golden")
        with (
            langfuse.start_as_current_observation(
                as_type="agent", name="trip-planner", input={"question": "Weekend in Paris?"}
            ) as agent,
            propagate_attributes(
                user_id="user-9",
                session_id="sess-lf-1",
                tags=["golden", "travel"],
                metadata={"plan": "pro"},
                trace_name="plan-trip",
            ),
        ):
            with langfuse.start_as_current_observation(
                as_type="retriever", name="search-destinations", input={"query": "Paris"}
            ) as retriever:
                retriever.update(
                    output=[{"page_content": "Paris in May: 18°C.", "metadata": {"id": "guide-3"}}]
                )
            client.chat.completions.create(
                name="pick-tool",
                model="gpt-4o-mini",
                tools=[WEATHER_TOOL],
                temperature=0.1,
                messages=[{"role": "user", "content": "Weather in Paris this weekend?"}],
            )
            with langfuse.start_as_current_observation(
                as_type="tool", name="get_weather", input={"city": "Paris"}
            ) as tool:
                tool.update(output="18°C and sunny")
            started = datetime(2026, 5, 1, 9, 0, 0, 250000, tzinfo=timezone.utc)
            with langfuse.start_as_current_observation(
                as_type="generation",
                name="summarise",
                model="claude-sonnet-4-5",
                model_parameters={"max_tokens": 256, "temperature": 0.3},
                input=[
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Summarise: 18°C and sunny."},
                ],
                metadata={"attempt": 1, "route": "fast"},
            ) as gen:
                gen.update(
                    output={"role": "assistant", "content": "Mild and sunny: pack light."},
                    usage_details={
                        "input": 12,
                        "output": 15,
                        "cache_read_input_tokens": 100,
                        "cache_creation_input_tokens": 20,
                    },
                    cost_details={"input": 0.0004, "output": 0.0002, "total": 0.0006},
                    completion_start_time=started + timedelta(milliseconds=420),
                )
            client.embeddings.create(model="text-embedding-3-small", input=["Paris"])
            with langfuse.start_as_current_observation(
                as_type="guardrail", name="pii-check", input="Mild and sunny: pack light."
            ) as guard:
                guard.update(level="ERROR", status_message="PII detector unavailable")
            agent.update(output={"answer": "Mild and sunny: pack light."})


if __name__ == "__main__":
    main()
