"""The real `openai` client against the fake API on loopback, traced by our instrumentor:
spans (names, kinds, each family's attributes, events, status) and the runs the
project's readers make of them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from otel_llm.instrumentation import OpenAIInstrumentor
from tests.instrumentation.conftest import Traced, instrumented

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
MESSAGES = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "What is the capital of France?"},
]
ANSWER = "The capital of France is Paris."
USAGE = {
    "input_tokens": 26,
    "output_tokens": 9,
    "total_tokens": 35,
    "input_token_details": {"cache_read": 16},
    "output_token_details": {"reasoning": 4},
}


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0)


def test_chat_completion_span_and_run(openai_traced: Traced, llm_url: str) -> None:
    client(llm_url).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, temperature=0.2, max_tokens=50
    )
    span, run = openai_traced.one()
    a = span.attributes
    assert span.name == "chat gpt-4o-mini"
    assert span.kind == SpanKind.CLIENT
    assert span.status.status_code == StatusCode.UNSET
    assert span.instrumentation_scope.name == "otel_llm.instrumentation.openai"
    # official gen_ai, newest keys
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "gpt-4o-mini"
    assert a["gen_ai.request.temperature"] == 0.2
    assert a["gen_ai.request.max_tokens"] == 50
    assert a["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert a["gen_ai.response.id"] == "chatcmpl-golden2"
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.usage.input_tokens"] == 26
    assert a["gen_ai.usage.output_tokens"] == 9
    assert a["gen_ai.usage.cache_read.input_tokens"] == 16
    assert a["gen_ai.usage.reasoning.output_tokens"] == 4
    assert json.loads(a["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "Answer briefly."}
    ]
    assert json.loads(a["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": MESSAGES[1]["content"]}]}
    ]
    assert json.loads(a["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": ANSWER}],
            "finish_reason": "stop",
        }
    ]
    # compatibility families
    assert a["openinference.span.kind"] == "LLM"
    assert a["llm.model_name"] == "gpt-4o-mini-2024-07-18"  # the model that answered
    assert a["llm.token_count.total"] == 35
    assert a["langsmith.span.kind"] == "llm"
    assert a["langsmith.trace.name"] == "ChatOpenAI"
    assert a["langfuse.observation.type"] == "generation"
    assert "langsmith.span.id" not in a and "otel_llm.run.id" not in a  # the span's ids
    # the run a LangSmith user expects
    assert run.name == "ChatOpenAI" and run.run_type == "llm"
    assert run.parent_run_id is None and run.trace_id == run.id
    assert run.inputs == {"messages": MESSAGES}
    assert run.outputs == {
        "messages": [{"role": "assistant", "content": ANSWER, "finish_reason": "stop"}]
    }
    assert run.usage == USAGE
    assert run.metadata["ls_model_name"] == "gpt-4o-mini"
    assert run.metadata["ls_provider"] == "openai"
    assert run.extra["invocation_params"]["temperature"] == 0.2
    assert run.error is None


def test_tool_calls_and_definitions(openai_traced: Traced, llm_url: str) -> None:
    client(llm_url).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather?"}], tools=TOOLS
    )
    span, run = openai_traced.one()
    assert json.loads(span.attributes["gen_ai.tool.definitions"]) == [
        {"type": "function", **TOOLS[0]["function"]}
    ]
    out = json.loads(span.attributes["gen_ai.output.messages"])[0]
    assert out["parts"] == [
        {
            "type": "tool_call",
            "id": "call_weather_1",
            "name": "get_weather",
            "arguments": {"city": "Paris"},
        }
    ]
    assert run.outputs == {
        "messages": [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_weather_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
                "finish_reason": "tool_calls",
            }
        ]
    }
    assert run.extra["invocation_params"]["tools"] == TOOLS


def test_stream_ends_when_consumed_with_first_token(openai_traced: Traced, llm_url: str) -> None:
    stream = client(llm_url).chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert openai_traced.spans() == []  # open while the app reads it
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == ANSWER
    span, run = openai_traced.one()
    assert [e.name for e in span.events] == ["new_token"]
    assert span.start_time < span.events[0].timestamp <= span.end_time
    assert 0 < span.attributes["gen_ai.response.time_to_first_chunk"] < 5
    assert span.attributes["gen_ai.request.stream"] is True
    assert run.outputs == {
        "messages": [{"role": "assistant", "content": ANSWER, "finish_reason": "stop"}]
    }
    assert run.usage == {**USAGE, "input_tokens": 26, "total_tokens": 35}
    assert [e["name"] for e in run.events] == ["new_token"]


def test_stream_closed_early_ends_the_span(openai_traced: Traced, llm_url: str) -> None:
    with client(llm_url).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    ) as stream:
        next(iter(stream))
    span, run = openai_traced.one()
    assert span.end_time is not None
    assert run.end_time_ns is not None


def test_stream_of_tool_calls(openai_traced: Traced, llm_url: str) -> None:
    stream = client(llm_url).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Weather?"}],
        tools=TOOLS,
        stream=True,
    )
    list(stream)
    _, run = openai_traced.one()
    call = run.outputs["messages"][0]["tool_calls"][0]  # type: ignore[index]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}


def test_chat_stream_helper_read_to_its_end(openai_traced: Traced, llm_url: str) -> None:
    c = client(llm_url)
    for helper in (c.chat.completions, c.beta.chat.completions):
        with helper.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
            deltas = [e.delta for e in stream if e.type == "content.delta"]
            assert stream.get_final_completion().choices[0].message.content == ANSWER
        assert "".join(deltas) == ANSWER
    spans, runs = openai_traced.spans(), openai_traced.runs()
    assert [s.name for s in spans] == ["chat gpt-4o-mini"] * 2
    for span, run in zip(spans, runs, strict=True):
        assert span.attributes["gen_ai.request.stream"] is True
        assert 0 < span.attributes["gen_ai.response.time_to_first_chunk"] < 5
        assert [e.name for e in span.events] == ["new_token"]
        assert run.outputs == {
            "messages": [{"role": "assistant", "content": ANSWER, "finish_reason": "stop"}]
        }


def test_chat_stream_helper_left_early_ends_with_its_block(
    openai_traced: Traced, llm_url: str
) -> None:
    with client(llm_url).chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as s:
        next(iter(s))
        assert openai_traced.spans() == []
    # Ended by the block, though the app still holds the stream (a helper closes its
    # HTTP response, not the stream our wrapper handed it).
    span, run = openai_traced.one()
    assert span.status.status_code == StatusCode.UNSET
    assert run.end_time_ns is not None and s is not None

    with (
        pytest.raises(KeyError),
        client(llm_url).chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as s,
    ):
        next(iter(s))
        raise KeyError("app bug")
    failed = openai_traced.spans()[1]
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["error.type"] == "KeyError"


def test_responses_stream_helper(openai_traced: Traced, llm_url: str) -> None:
    with client(llm_url).responses.stream(model="gpt-4o-mini", input="Hi") as stream:
        for _ in stream:
            pass
        assert stream.get_final_response().output_text == ANSWER
    span, run = openai_traced.one()
    assert [e.name for e in span.events] == ["new_token"]
    assert run.outputs == {
        "messages": [{"role": "assistant", "content": ANSWER, "finish_reason": "stop"}]
    }
    assert run.usage is not None and run.usage["input_tokens"] == 23


def test_async_stream_helpers(openai_traced: Traced, llm_url: str) -> None:
    async def main() -> None:
        c = openai.AsyncOpenAI(base_url=llm_url + "/v1", api_key="sk", max_retries=0)
        async with c.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as s:
            async for _ in s:
                pass
        async with c.responses.stream(model="gpt-4o-mini", input="Hi") as r:
            async for _ in r:
                break
        assert len(openai_traced.spans()) == 2  # the second ended with its block

    asyncio.run(main())
    runs = openai_traced.runs()
    assert [e["name"] for e in runs[0].events] == ["new_token"]
    assert runs[0].outputs == {
        "messages": [{"role": "assistant", "content": ANSWER, "finish_reason": "stop"}]
    }
    assert all(r.end_time_ns is not None for r in runs)


def test_responses_api_plain_and_function_tools(openai_traced: Traced, llm_url: str) -> None:
    c = client(llm_url)
    c.responses.create(
        model="gpt-4o-mini", input="Capital of France?", instructions="Answer briefly."
    )
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    c.responses.create(model="gpt-4o-mini", input="Weather?", tools=tools)
    c.responses.create(
        model="gpt-4o-mini",
        tools=tools,
        input=[
            {"role": "user", "content": "Weather?"},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city": "Paris"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        ],
    )
    plain, call, result = openai_traced.runs()
    assert plain.inputs == {
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Capital of France?"},
        ]
    }
    assert plain.outputs == {
        "messages": [{"role": "assistant", "content": ANSWER, "finish_reason": "stop"}]
    }
    assert plain.usage == {**USAGE, "input_tokens": 23, "total_tokens": 32}
    assert plain.metadata["response_id"] == "resp_golden1"
    assert call.outputs["messages"][0]["tool_calls"] == [  # type: ignore[index]
        {
            "id": "call_weather_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ]
    assert result.inputs["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "content": "sunny", "tool_call_id": "call_1"},
    ]
    spans = openai_traced.spans()
    assert json.loads(spans[1].attributes["gen_ai.tool.definitions"]) == tools


def test_responses_api_stream(openai_traced: Traced, llm_url: str) -> None:
    events = list(client(llm_url).responses.create(model="gpt-4o-mini", input="Hi", stream=True))
    assert events[-1].type == "response.completed"
    span, run = openai_traced.one()
    assert [e.name for e in span.events] == ["new_token"]
    assert run.outputs == {
        "messages": [{"role": "assistant", "content": ANSWER, "finish_reason": "stop"}]
    }
    assert run.usage is not None and run.usage["input_tokens"] == 23


def test_embeddings(openai_traced: Traced, llm_url: str) -> None:
    client(llm_url).embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    span, run = openai_traced.one()
    assert span.name == "embeddings text-embedding-3-small"
    assert span.attributes["gen_ai.operation.name"] == "embeddings"
    assert span.attributes["openinference.span.kind"] == "EMBEDDING"
    assert span.attributes["langfuse.observation.type"] == "embedding"
    assert run.run_type == "embedding" and run.name == "OpenAIEmbeddings"
    assert run.inputs == {"input": ["a", "b"]}
    assert run.usage == {"input_tokens": 8, "output_tokens": 0, "total_tokens": 8}


def test_async_client_plain_stream_responses_embeddings(
    openai_traced: Traced, llm_url: str
) -> None:
    async def main() -> None:
        c = openai.AsyncOpenAI(base_url=llm_url + "/v1", api_key="sk", max_retries=0)
        await c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        stream = await c.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True
        )
        async for _ in stream:
            pass
        await c.responses.create(model="gpt-4o-mini", input="Hi")
        await c.embeddings.create(model="text-embedding-3-small", input="a")

    asyncio.run(main())
    runs = openai_traced.runs()
    assert [r.run_type for r in runs] == ["llm", "llm", "llm", "embedding"]
    assert all(r.outputs for r in runs[:3])
    assert [e["name"] for e in runs[1].events] == ["new_token"]


def test_error_ends_the_span_with_the_error(openai_traced: Traced) -> None:
    bad = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk", max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        bad.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span, run = openai_traced.one()
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["error.type"] == "APIConnectionError"
    assert [e.name for e in span.events] == ["exception"]
    assert run.error is not None and "APIConnectionError" in run.error
    assert run.outputs is None and run.inputs == {"messages": MESSAGES}


def test_content_capture_off_and_hidden_inputs(
    traced: Traced, llm_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "false")
    for _ in instrumented(OpenAIInstrumentor(), traced):
        client(llm_url).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span, run = traced.one()
    assert not [k for k in span.attributes if "messages" in k or "instructions" in k]
    assert span.attributes["input.value"] == "{}" and "output.value" not in span.attributes
    assert run.inputs == {} and run.outputs is None
    assert run.usage == USAGE  # usage and model are not content

    traced.exporter.clear()
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
    monkeypatch.setenv("LANGSMITH_HIDE_INPUTS", "true")
    for _ in instrumented(OpenAIInstrumentor(), traced):
        client(llm_url).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span, run = traced.one()
    assert run.inputs == {} and run.outputs is not None


def test_redaction_and_emit(traced: Traced, llm_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_LLM_EMIT", "gen_ai")
    for _ in instrumented(OpenAIInstrumentor(), traced):
        client(llm_url).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "mail bob@example.com"}]
        )
    span, run = traced.one()
    families = {k.split(".")[0] for k in span.attributes}
    # content once: the official structure gives the run's I/O back, no verbatim copy
    assert families == {"otel_llm", "gen_ai"}
    assert "bob@example.com" not in json.dumps(dict(span.attributes))
    assert "bob@example.com" not in json.dumps(run.inputs)


def test_uninstrument_restores_the_client_exactly(traced: Traced) -> None:
    from openai.resources.chat.completions.completions import AsyncCompletions, Completions
    from openai.resources.embeddings import Embeddings
    from openai.resources.responses.responses import Responses

    before = {c: vars(c)["create"] for c in (Completions, AsyncCompletions, Embeddings, Responses)}
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=traced.provider)
    assert all(vars(c)["create"] is not f for c, f in before.items())
    instrumentor.uninstrument()
    assert all(vars(c)["create"] is f for c, f in before.items())


def test_a_failure_inside_never_reaches_the_app(
    openai_traced: Traced,
    llm_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import otel_llm.instrumentation._core as core

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("writer bug")

    monkeypatch.setattr(core, "set_attributes", broken)
    monkeypatch.setattr(core, "_logged", set())
    c = client(llm_url)
    for _ in range(2):
        answer = c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert answer.choices[0].message.content == ANSWER
    assert len(openai_traced.spans()) == 2  # ended all the same
    assert sum("writer bug" in r.getMessage() for r in caplog.records) == 1  # logged once


def test_conversation_id(openai_traced: Traced, llm_url: str) -> None:
    client(llm_url).responses.create(model="gpt-4o-mini", input="Hi", conversation="conv_1")
    span, run = openai_traced.one()
    assert span.attributes["gen_ai.conversation.id"] == "conv_1"
    assert run.metadata["conversation_id"] == "conv_1"
