"""The Logfire / Pydantic AI reader: pending spans, integrations' request and response data,
Pydantic AI's agent, chat and tool spans in each format version, plain spans' arguments."""

from __future__ import annotations

import json
from typing import Any

import pytest

from otel_llm import span_to_run, spans_to_runs
from otel_llm.conventions.base import Extraction
from otel_llm.conventions.messages import provider_usage
from tests.conventions.helpers import assert_round_trip, metadata, problems, raw, read, span

SPAN = {"logfire.span_type": "span"}


def test_pending_spans_are_skipped() -> None:
    pending = span(
        {
            **SPAN,
            "logfire.span_type": "pending_span",
            "logfire.pending_parent_id": "0000000000000000",
        },
        name="work",
    )
    assert span_to_run(pending) is None
    assert spans_to_runs([pending]) == []


def test_plain_span_arguments_message_and_tags() -> None:
    schema = json.dumps(
        {
            "type": "object",
            "properties": {"user": {}, "opts": {"type": "object"}, "code.lineno": {}},
        }
    )
    run = read(
        {
            **SPAN,
            "logfire.msg_template": "handle {user} with {opts}",
            "logfire.msg": "handle u-1 with {'fast': True}",
            "logfire.json_schema": schema,
            "user": "u-1",
            "opts": '{"fast": true}',
            "code.lineno": 12,
            "logfire.tags": ("prod", "api"),
        },
        name="handle {user} with {opts}",
    )
    assert run.name == "handle u-1 with {'fast': True}"
    assert run.inputs == {"user": "u-1", "opts": {"fast": True}}
    assert run.tags == ["prod", "api"]
    assert raw(run) == {
        "logfire.span_type": "span",
        "logfire.msg_template": "handle {user} with {opts}",
        "logfire.json_schema": schema,
        "code.lineno": 12,
    }
    assert run.extra["otel"]["name"] == "handle {user} with {opts}"
    assert_round_trip(run)


def test_openai_integration_request_and_response_data() -> None:
    run = read(
        {
            **SPAN,
            "logfire.msg": "Chat Completion with 'gpt-4o-mini'",
            "logfire.tags": ("LLM",),
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 23,
            "request_data": json.dumps(
                {
                    "model": "gpt-4o-mini",
                    "max_tokens": 50,
                    "temperature": 0.1,
                    "messages": [{"role": "user", "content": "Say hi"}],
                    "tools": [{"type": "function", "function": {"name": "f"}}],
                }
            ),
            "response_data": json.dumps(
                {
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "refusal": None,
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                            }
                        ],
                    },
                    "usage": {
                        "prompt_tokens": 23,
                        "completion_tokens": 9,
                        "total_tokens": 32,
                        "prompt_tokens_details": {"cached_tokens": 16, "audio_tokens": 0},
                        "completion_tokens_details": {"reasoning_tokens": 4},
                    },
                }
            ),
        },
        scope="logfire.openai",
    )
    assert run.run_type == "llm"
    assert run.inputs == {"messages": [{"role": "user", "content": "Say hi"}]}
    assert run.outputs == {
        "messages": [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            }
        ]
    }
    assert run.usage == {
        "input_tokens": 23,
        "output_tokens": 9,
        "total_tokens": 32,
        "input_token_details": {"cache_read": 16, "audio": 0},
        "output_token_details": {"reasoning": 4},
    }
    assert run.extra["invocation_params"] == {
        "max_tokens": 50,
        "temperature": 0.1,
        "model": "gpt-4o-mini",
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }
    assert run.tags == ["LLM"]
    assert_round_trip(run)


def test_anthropic_integration_adds_cached_tokens_to_input_tokens() -> None:
    """Logfire's older Anthropic spans carry no gen_ai.* key: the response marks them."""
    run = read(
        {
            **SPAN,
            "request_data": json.dumps(
                {
                    "model": "claude-sonnet-4-5",
                    "max_tokens": 300,
                    "system": "Be brief.",
                    "messages": [{"role": "user", "content": "Hi"}],
                }
            ),
            "response_data": json.dumps(
                {
                    "message": {"role": "assistant", "content": "Hello."},
                    "usage": {
                        "input_tokens": 11,
                        "cache_read_input_tokens": 100,
                        "cache_creation_input_tokens": 20,
                        "output_tokens": 15,
                    },
                }
            ),
        },
        scope="logfire.anthropic",
    )
    assert run.run_type == "llm"
    assert run.metadata["ls_provider"] == "anthropic"
    assert run.inputs == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    }
    assert run.outputs == {"messages": [{"role": "assistant", "content": "Hello."}]}
    assert run.usage == {
        "input_tokens": 131,
        "output_tokens": 15,
        "total_tokens": 146,
        "input_token_details": {"cache_read": 100, "cache_creation": 20},
    }


def test_streamed_response_and_embedding_request() -> None:
    stream = read(
        {
            "gen_ai.operation.name": "chat",
            "response_data": json.dumps({"combined_chunk_content": "Hi!", "chunk_count": 3}),
        }
    )
    assert stream.outputs == {"messages": [{"role": "assistant", "content": "Hi!"}]}
    assert stream.metadata["chunk_count"] == 3
    embed = read(
        {
            "gen_ai.operation.name": "embeddings",
            "request_data": json.dumps({"model": "e", "input": "text"}),
            "response_data": json.dumps({"usage": {"prompt_tokens": 2, "total_tokens": 2}}),
        }
    )
    assert embed.inputs == {"input": ["text"]}
    assert embed.usage == {"input_tokens": 2, "total_tokens": 2}


def test_responses_api_request() -> None:
    run = read(
        {
            "gen_ai.operation.name": "chat",
            "request_data": json.dumps(
                {"model": "gpt-4.1", "instructions": "Be brief.", "input": "Hi"}
            ),
        }
    )
    assert run.inputs == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    }


def test_provider_usage_shapes() -> None:
    x = Extraction(span({}))
    provider_usage(
        x,
        {
            "input_tokens": 50,
            "output_tokens": 5,
            "input_tokens_details": {"cached_tokens": 40},
            "output_tokens_details": {"reasoning_tokens": 3},
        },
    )
    assert x.usage == {
        "input_tokens": 50,
        "output_tokens": 5,
        "input_token_details": {"cache_read": 40},
        "output_token_details": {"reasoning": 3},
    }


def test_pydantic_ai_agent_run_all_messages_and_final_result() -> None:
    messages = [
        {"role": "user", "parts": [{"type": "text", "content": "Hi"}]},
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello"}],
            "finish_reason": "stop",
        },
    ]
    usage = {"gen_ai.aggregated_usage.input_tokens": 58, "gen_ai.usage.input_tokens": 58}
    run = read(
        {
            **SPAN,
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "helper",
            "agent_name": "helper",
            "model_name": "gpt-4o-mini",
            "logfire.msg": "helper run",
            "gen_ai.system_instructions": '[{"type": "text", "content": "Be concise."}]',
            "pydantic_ai.all_messages": json.dumps(messages),
            "final_result": "Hello",
            **usage,
        },
        name="invoke_agent helper",
    )
    assert (run.name, run.run_type) == ("helper", "chain")
    assert run.inputs == {
        "messages": [
            {"role": "system", "content": "Be concise."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello", "finish_reason": "stop"},
        ]
    }
    assert run.outputs == {"output": "Hello"}
    assert run.usage is None  # the agent's usage sums its model calls': kept raw
    assert raw(run) == {**SPAN, "logfire.msg": "helper run", **usage}
    assert run.extra["invocation_params"] == {"model": "gpt-4o-mini"}
    assert_round_trip(run)


def test_pydantic_ai_older_agent_run_with_message_events() -> None:
    events = [
        {"event.name": "gen_ai.system.message", "role": "system", "content": "Be concise."},
        {
            "event.name": "gen_ai.user.message",
            "role": "user",
            "content": "Hi",
            "gen_ai.message.index": 0,
        },
        {
            "event.name": "gen_ai.assistant.message",
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {
            "event.name": "gen_ai.tool.message",
            "role": "tool",
            "id": "c1",
            "name": "f",
            "content": "42",
        },
    ]
    run = read(
        {
            **SPAN,
            "agent_name": "helper",
            "all_messages_events": json.dumps(events),
            "final_result": '{"answer": 42}',
            "gen_ai.usage.input_tokens": 58,
        },
        name="agent run",
    )
    assert (run.name, run.run_type) == ("helper", "chain")
    assert run.metadata["observation_type"] == "agent"
    assert run.inputs["messages"][-1] == {
        "role": "tool",
        "content": "42",
        "tool_call_id": "c1",
        "name": "f",
    }
    assert len(run.inputs["messages"]) == 4
    assert run.outputs == {"output": {"answer": 42}}
    assert run.usage is None


def test_pydantic_ai_older_chat_span_with_events_attribute() -> None:
    events = [
        {"event.name": "gen_ai.user.message", "content": "Hi", "role": "user"},
        {
            "event.name": "gen_ai.choice",
            "index": 0,
            "message": {"role": "assistant", "content": "Hello"},
        },
    ]
    run = read(
        {
            **SPAN,
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 26,
            "gen_ai.usage.details.cached_tokens": 16,
            "gen_ai.usage.details.reasoning_tokens": 4,
            "events": json.dumps(events),
            "model_request_parameters": json.dumps(
                {
                    "function_tools": [
                        {
                            "name": "f",
                            "description": "F",
                            "parameters_json_schema": {"type": "object"},
                        }
                    ],
                    "allow_text_output": True,
                }
            ),
        }
    )
    assert run.inputs == {"messages": [{"role": "user", "content": "Hi"}]}
    assert run.outputs == {"messages": [{"role": "assistant", "content": "Hello"}]}
    assert run.usage == {
        "input_tokens": 26,
        "total_tokens": 26,
        "input_token_details": {"cache_read": 16},
        "output_token_details": {"reasoning": 4},
    }
    params = run.extra["invocation_params"]
    assert params["tools"] == [
        {"type": "function", "name": "f", "description": "F", "parameters": {"type": "object"}}
    ]
    assert params["model_request_parameters"]["allow_text_output"] is True
    assert raw(run) == SPAN
    assert_round_trip(run)


def test_pydantic_ai_tool_spans_old_and_new() -> None:
    old = read(
        {
            **SPAN,
            "gen_ai.tool.name": "f",
            "gen_ai.tool.call.id": "c1",
            "tool_arguments": '{"x": 1}',
            "tool_response": "2",
            "logfire.msg": "running tool: f",
        },
        name="running tool",
    )
    # Named as Logfire shows it: a span name the producer chose is kept.
    assert (old.name, old.run_type) == ("running tool: f", "tool")
    assert (old.inputs, old.outputs) == ({"x": 1}, {"output": "2"})
    assert metadata(old) == {"tool_call_id": "c1", "tool_name": "f"}
    new = read(
        {
            **SPAN,
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "f",
            "gen_ai.tool.call.arguments": '{"x": 1}',
            "gen_ai.tool.call.result": "2",
        },
        name="execute_tool f",
    )
    assert (new.name, new.run_type, new.inputs, new.outputs) == (
        "f",
        "tool",
        {"x": 1},
        {"output": "2"},
    )


def test_pydantic_ai_cost_and_raw_usage_on_chat_spans() -> None:
    run = read(
        {
            **SPAN,
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude",
            "gen_ai.usage.input_tokens": 131,
            "operation.cost": 0.000363,
            "gen_ai.usage.raw": json.dumps(
                {
                    "input_tokens": 11,
                    "cache_read_input_tokens": 100,
                    "cache_creation_input_tokens": 20,
                    "output_tokens": 15,
                }
            ),
        }
    )
    assert run.usage == {
        "input_tokens": 131,
        "output_tokens": 15,
        "total_tokens": 146,
        "total_cost": 0.000363,
        "input_token_details": {"cache_read": 100, "cache_creation": 20},
    }
    assert raw(run) == SPAN


@pytest.mark.parametrize(
    ("attrs", "problem"),
    [
        ({"request_data": "{bad", "logfire.msg": "m"}, "request_data is not valid JSON"),
        ({"response_data": "[1, 2]"}, "response_data is not a JSON object"),
        ({"logfire.tags": "prod"}, "logfire.tags is not a list of strings"),
        ({"logfire.span_type": "ghost"}, "logfire.span_type is not a known Logfire span type"),
        ({"all_messages_events": '[{"no": "name"}]'}, "all_messages_events is not a list"),
        (
            {"pydantic_ai.all_messages": '{"role": "user"}'},
            "pydantic_ai.all_messages is not a list of messages",
        ),
        (
            {"gen_ai.operation.name": "chat", "operation.cost": "free", "logfire.msg": "chat"},
            "operation.cost is not a number",
        ),
        (
            {"gen_ai.operation.name": "chat", "gen_ai.usage.raw": "{", "logfire.msg": "chat"},
            "gen_ai.usage.raw is not valid JSON",
        ),
    ],
)
def test_malformed_values_are_kept_raw_and_reported(attrs: dict[str, Any], problem: str) -> None:
    run = read(attrs)
    bad = next(iter(k for k in attrs if problem.startswith(k)))
    assert raw(run)[bad] == attrs[bad]
    assert len(problems(run)) == 1 and problems(run)[0].startswith(problem)
    assert_round_trip(run)


def test_a_foreign_events_attribute_is_left_alone() -> None:
    run = read({**SPAN, "events": '["login", "logout"]'})
    assert raw(run) == {**SPAN, "events": '["login", "logout"]'}
    assert problems(run) == [] and metadata(run) == {}


def test_huge_request_data() -> None:
    text = "ж" * 2_000_000
    run = read(
        {
            **SPAN,
            "gen_ai.operation.name": "chat",
            "request_data": json.dumps({"messages": [{"role": "user", "content": text}]}),
        }
    )
    assert run.inputs == {"messages": [{"role": "user", "content": text}]}
