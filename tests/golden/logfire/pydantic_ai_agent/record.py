"""Record: Pydantic Logfire (its OpenAI and Anthropic integrations) and Pydantic AI (an
agent with a tool) around the real `openai` and `anthropic` clients talking to the fake
API in tests/golden/fake_llm.py, exported to memory only (nothing is sent to Logfire).

    python tests/golden/logfire/pydantic_ai_agent/record.py   # in the recording venv

`../v3_integrations/record.py` records the same app with older releases.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import anthropic
import logfire
import openai
from fake_llm import serve
from logfire.testing import TestExporter
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from pydantic_ai import Agent
from pydantic_ai.providers.openai import OpenAIProvider
from recording import write_request

try:  # pydantic-ai renamed its OpenAI model and gave agents `instructions` (0.2.4 has neither)
    from pydantic_ai.models.openai import OpenAIChatModel as ChatModel

    PROMPT_ARGUMENT = "instructions"
except ImportError:
    from pydantic_ai.models.openai import OpenAIModel as ChatModel

    PROMPT_ARGUMENT = "system_prompt"


HERE = Path(__file__).resolve().parent


def main(case_dir: Path = HERE) -> None:
    # Logfire sends its pending spans (a copy of each span at its start) only to exporters
    # it knows to expect them, such as this one; its OTLP exporter drops a pending span only
    # when the real span ends in the same batch, so pending spans do reach receivers.
    exporter = TestExporter()
    logfire.configure(
        send_to_logfire=False,
        console=False,
        service_name="trip-planner",
        additional_span_processors=[SimpleSpanProcessor(exporter)],
        metrics=False,
    )
    logfire.instrument_pydantic_ai()
    with serve() as url:
        oai = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden", max_retries=0)
        claude = anthropic.Anthropic(base_url=url, api_key="sk-ant-golden", max_retries=0)
        logfire.instrument_openai(oai)
        logfire.instrument_anthropic(claude)
        model = ChatModel(
            "gpt-4o-mini",
            provider=OpenAIProvider(
                openai_client=openai.AsyncOpenAI(
                    base_url=f"{url}/v1", api_key="sk-golden", max_retries=0
                )
            ),
        )
        agent = Agent(model, name="weather_agent", **{PROMPT_ARGUMENT: "Be concise."})

        @agent.tool_plain
        def get_weather(city: str) -> str:
            """Current weather in a city."""
            return "18°C and sunny"

        with logfire.span("handle question from {user}", user="user-17", _tags=["golden"]):
            result = agent.run_sync("What's the weather in Paris?")
            logfire.info("agent answered {answer!r}", answer=result.output)
            oai.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "Say hello in French."}],
                max_tokens=50,
            )
            claude.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=300,
                system="Summarise travel advice.",
                messages=[{"role": "user", "content": f"Summarise: {result.output}"}],
            )
    logfire.force_flush()
    write_request(exporter.exported_spans, case_dir)


if __name__ == "__main__":
    main()
