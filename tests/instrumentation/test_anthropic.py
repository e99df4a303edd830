"""The real `anthropic` client against the fake API on loopback, traced by our
instrumentor: messages plain, streaming (`stream=True` and `messages.stream()`), tool
use, async; cache tokens counted into input tokens as OTel and LangSmith count."""

from __future__ import annotations

import asyncio
import json

import anthropic
from opentelemetry.trace import SpanKind

from otel_llm.instrumentation import AnthropicInstrumentor
from tests.instrumentation.conftest import Traced

MODEL = "claude-sonnet-4-5"
TOOLS = [
    {
        "name": "get_weather",
        "description": "The weather in a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]
ANSWER = "The capital of France is Paris."
# The fake answers input_tokens 10 + n messages, 100 cache reads, 20 cache writes.
USAGE = {
    "input_tokens": 131,
    "output_tokens": 15,
    "total_tokens": 146,
    "input_token_details": {"cache_read": 100, "cache_creation": 20},
}


def client(url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key="sk-test", max_retries=0)


def test_message_span_and_run(anthropic_traced: Traced, llm_url: str) -> None:
    client(llm_url).messages.create(
        model=MODEL,
        max_tokens=100,
        system="Answer briefly.",
        messages=[{"role": "user", "content": "Capital of France?"}],
    )
    span, run = anthropic_traced.one()
    a = span.attributes
    assert span.name == f"chat {MODEL}" and span.kind == SpanKind.CLIENT
    assert a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.usage.input_tokens"] == 131  # 11 + 100 cached + 20 written
    assert a["gen_ai.usage.cache_read.input_tokens"] == 100
    assert a["gen_ai.usage.cache_creation.input_tokens"] == 20
    assert a["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert a["gen_ai.response.model"] == MODEL + "-20250929"
    assert json.loads(a["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "Answer briefly."}
    ]
    assert a["llm.provider"] == "anthropic" and a["langsmith.span.kind"] == "llm"
    assert run.name == "ChatAnthropic" and run.run_type == "llm"
    assert run.inputs == {
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Capital of France?"},
        ]
    }
    assert run.outputs == {
        "messages": [{"role": "assistant", "content": ANSWER, "finish_reason": "end_turn"}]
    }
    assert run.usage == USAGE
    assert run.metadata["ls_provider"] == "anthropic"
    assert run.extra["invocation_params"]["max_tokens"] == 100


def test_tool_use_stream(anthropic_traced: Traced, llm_url: str) -> None:
    stream = client(llm_url).messages.create(
        model=MODEL,
        max_tokens=100,
        tools=TOOLS,
        stream=True,
        messages=[{"role": "user", "content": "Weather?"}],
    )
    assert anthropic_traced.spans() == []
    list(stream)
    span, run = anthropic_traced.one()
    assert [e.name for e in span.events] == ["new_token"]
    assert json.loads(span.attributes["gen_ai.tool.definitions"]) == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": TOOLS[0]["input_schema"],
        }
    ]
    assert run.outputs == {
        "messages": [
            {
                "role": "assistant",
                "content": "Let me check the weather.",
                "tool_calls": [
                    {
                        "id": "toolu_weather_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
                "finish_reason": "tool_use",
            }
        ]
    }
    assert run.usage == USAGE


def test_stream_helper(anthropic_traced: Traced, llm_url: str) -> None:
    with client(llm_url).messages.stream(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "Capital?"}]
    ) as stream:
        assert "".join(stream.text_stream) == ANSWER
    span, run = anthropic_traced.one()
    assert run.outputs == {
        "messages": [{"role": "assistant", "content": ANSWER, "finish_reason": "end_turn"}]
    }
    assert run.usage == USAGE
    # Time to first token, as for create(stream=True).
    assert [e.name for e in span.events] == ["new_token"]
    assert span.start_time < span.events[0].timestamp <= span.end_time
    assert 0 < span.attributes["gen_ai.response.time_to_first_chunk"] < 5
    assert [e["name"] for e in run.events] == ["new_token"]


def test_stream_helper_left_early_and_async(anthropic_traced: Traced, llm_url: str) -> None:
    question = [{"role": "user", "content": "Capital?"}]
    with client(llm_url).messages.stream(model=MODEL, max_tokens=100, messages=question) as s:
        for event in s:
            if event.type == "text":
                break
        assert anthropic_traced.spans() == []
    assert anthropic_traced.spans()[0].end_time is not None  # ended with its block

    async def main() -> None:
        c = anthropic.AsyncAnthropic(base_url=llm_url, api_key="sk", max_retries=0)
        async with c.messages.stream(model=MODEL, max_tokens=100, messages=question) as s:
            message = await s.get_final_message()
        assert message.content[0].text == ANSWER  # type: ignore[union-attr]

    asyncio.run(main())
    first, second = anthropic_traced.spans()
    assert [e.name for e in first.events] == [e.name for e in second.events] == ["new_token"]
    assert anthropic_traced.runs()[1].outputs == {
        "messages": [{"role": "assistant", "content": ANSWER, "finish_reason": "end_turn"}]
    }


def test_async_tool_result_round(anthropic_traced: Traced, llm_url: str) -> None:
    async def main() -> None:
        c = anthropic.AsyncAnthropic(base_url=llm_url, api_key="sk", max_retries=0)
        await c.messages.create(
            model=MODEL,
            max_tokens=100,
            tools=TOOLS,
            messages=[
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "get_weather",
                            "input": {"city": "Paris"},
                        }
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}
                    ],
                },
            ],
        )
        stream = await c.messages.create(
            model=MODEL, max_tokens=10, stream=True, messages=[{"role": "user", "content": "Hi"}]
        )
        async for _ in stream:
            pass

    asyncio.run(main())
    run, streamed = anthropic_traced.runs()
    assert run.inputs["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "content": "sunny", "tool_call_id": "toolu_1"},
    ]
    assert run.outputs["messages"][0]["content"] == "It is sunny in Paris right now."  # type: ignore[index]
    assert streamed.outputs["messages"][0]["content"] == ANSWER  # type: ignore[index]


def test_uninstrument_restores_the_client(traced: Traced) -> None:
    from anthropic.resources.messages.messages import AsyncMessages, Messages

    before = {(c, m): vars(c)[m] for c in (Messages, AsyncMessages) for m in ("create", "stream")}
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=traced.provider)
    assert all(vars(c)[m] is not f for (c, m), f in before.items())
    instrumentor.uninstrument()
    assert all(vars(c)[m] is f for (c, m), f in before.items())
