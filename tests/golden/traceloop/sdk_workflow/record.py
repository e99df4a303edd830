"""Record: OpenLLMetry (traceloop-sdk with its OpenAI and Anthropic instrumentations)
around the real `openai` and `anthropic` clients talking to the fake API in
tests/golden/fake_llm.py: a workflow with an agent, tools, a task, chat, streaming,
embeddings, an Anthropic call with prompt caching, and association properties.

    python tests/golden/traceloop/sdk_workflow/record.py   # in the recording venv
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["TRACELOOP_TELEMETRY"] = "false"
os.environ["TRACELOOP_TRACE_CONTENT"] = "true"

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import anthropic
import openai
from fake_llm import serve
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from recording import WEATHER_TOOL, write_request
from traceloop.sdk import Traceloop
from traceloop.sdk.decorators import agent, task, tool, workflow
from traceloop.sdk.instruments import Instruments


def main(case_dir: Path | None = None) -> None:
    """Record the workflow into `case_dir` (default: this folder) as request.json."""
    exporter = InMemorySpanExporter()
    Traceloop.init(
        app_name="trip-planner",
        exporter=exporter,
        disable_batch=True,
        telemetry_enabled=False,
        instruments={Instruments.OPENAI, Instruments.ANTHROPIC},
    )
    with serve() as url:
        oai = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden", max_retries=0)
        claude = anthropic.Anthropic(base_url=url, api_key="sk-ant-golden", max_retries=0)

        @tool(name="get_weather")
        def get_weather(city: str) -> str:
            return "18°C and sunny"

        @task(name="summarise")
        def summarise(text: str, *, style: str = "short") -> str:
            reply = claude.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=300,
                system=[
                    {
                        "type": "text",
                        "text": "Summarise travel advice.",
                        "cache_control": {"type": "ephemeral"},
                    }
                ],
                messages=[{"role": "user", "content": f"Summarise ({style}): {text}"}],
            )
            return str(reply.content[0].text)  # type: ignore[union-attr]

        @agent(name="weather_agent")
        def weather_agent(question: str) -> str:
            messages: list[dict[str, object]] = [
                {"role": "system", "content": "You are a concise travel assistant."},
                {"role": "user", "content": question},
            ]
            first = oai.chat.completions.create(
                model="gpt-4o-mini",
                messages=messages,  # type: ignore[arg-type]
                tools=[WEATHER_TOOL],  # type: ignore[list-item]
                temperature=0.2,
            )
            call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
            result = get_weather("Paris")
            messages.append(first.choices[0].message.model_dump(exclude_none=True))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
            stream = oai.chat.completions.create(
                model="gpt-4o-mini",
                messages=messages,  # type: ignore[arg-type]
                stream=True,
                stream_options={"include_usage": True},
            )
            return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

        @workflow(name="plan_trip")
        def plan_trip(question: str, days: int = 2) -> dict[str, str]:
            Traceloop.set_association_properties({"user_id": "user-17", "session_id": "sess-9"})
            oai.embeddings.create(model="text-embedding-3-small", input=question)
            answer = weather_agent(question)
            return {"answer": answer, "summary": summarise(answer, style="short")}

        plan_trip("What's the weather in Paris?", days=3)
    write_request(exporter.get_finished_spans(), case_dir or Path(__file__).resolve().parent)


if __name__ == "__main__":
    main()
