"""The official keys the instrumentation needs from the project's gen_ai writer (written
for every run, so `runs_to_spans` and `ConventionSpanExporter` write them too), and the
runs they read back into."""

from __future__ import annotations

import json
import uuid

from otel_llm import Run, run_to_span, spans_to_runs

TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
ANTHROPIC_TOOL = {"name": "get_time", "description": "Now.", "input_schema": {"type": "object"}}


def generation() -> Run:
    return Run(
        id=uuid.uuid4(),
        name="ChatOpenAI",
        run_type="llm",
        start_time_ns=1_760_000_000_000_000_000,
        end_time_ns=1_760_000_001_000_000_000,
        inputs={
            "messages": [
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "Weather?"},
            ]
        },
        outputs={"messages": [{"role": "assistant", "content": "Sunny.", "finish_reason": "stop"}]},
        extra={
            "metadata": {
                "ls_provider": "openai",
                "ls_model_name": "gpt-4o-mini",
                "response_id": "chatcmpl-1",
                "response_model": "gpt-4o-mini-2024",
                "finish_reasons": ["stop"],
                "thread_id": "thread-7",
            },
            "invocation_params": {"model": "gpt-4o-mini", "tools": [TOOL, ANTHROPIC_TOOL]},
        },
    )


def test_context_keys_are_written() -> None:
    a = run_to_span(generation()).attributes
    assert json.loads(a["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "Answer briefly."}
    ]
    assert [m["role"] for m in json.loads(a["gen_ai.input.messages"])] == ["user"]
    assert json.loads(a["gen_ai.tool.definitions"]) == [
        {"type": "function", "name": "get_weather", "parameters": {}},
        {
            "type": "function",
            "name": "get_time",
            "description": "Now.",
            "parameters": {"type": "object"},
        },
    ]
    assert a["gen_ai.response.id"] == "chatcmpl-1"
    assert a["gen_ai.response.model"] == "gpt-4o-mini-2024"
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["gen_ai.conversation.id"] == "thread-7"


def test_they_read_back_into_the_same_run_for_every_emit() -> None:
    run = generation()
    for emit in ({"gen_ai"}, {"gen_ai", "openinference", "langsmith", "langfuse"}):
        (back,) = spans_to_runs([run_to_span(run, emit)])
        assert back.inputs == run.inputs and back.outputs == run.outputs
        assert back.extra == run.extra
