"""The OTel GenAI reader: every version of the conventions, every key family, bad values."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from otel_llm import SpanEvent, StatusCode, run_to_span
from tests.conventions.helpers import T0, assert_round_trip, metadata, problems, raw, read

CHAT = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}


def parts(role: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}], **extra}


def event(name: str, **attrs: Any) -> SpanEvent:
    return SpanEvent(name, T0 + 1000, attrs)


# --- v1.37+ message attributes -------------------------------------------------------


@pytest.mark.parametrize("encode", [json.dumps, lambda v: v], ids=["json-text", "structured"])
def test_latest_messages_with_system_instructions_tools_and_tool_calls(encode: Any) -> None:
    run = read(
        {
            **CHAT,
            "gen_ai.system_instructions": encode([{"type": "text", "content": "Be brief."}]),
            "gen_ai.input.messages": encode(
                [
                    parts("user", "Weather in Paris?"),
                    {
                        "role": "assistant",
                        "parts": [
                            {
                                "type": "tool_call",
                                "id": "c1",
                                "name": "weather",
                                "arguments": {"city": "P"},
                            }
                        ],
                    },
                    {
                        "role": "tool",
                        "parts": [{"type": "tool_call_response", "id": "c1", "result": "sunny"}],
                    },
                ]
            ),
            "gen_ai.output.messages": encode(
                [
                    {
                        "role": "assistant",
                        "finish_reason": "stop",
                        "parts": [
                            {"type": "reasoning", "content": "easy"},
                            {"type": "text", "content": "Sunny."},
                        ],
                    },
                ]
            ),
            "gen_ai.tool.definitions": encode([{"type": "function", "name": "weather"}]),
        }
    )
    assert run.run_type == "llm"
    assert run.inputs == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"P"}'},
                    }
                ],
            },
            {"role": "tool", "content": "sunny", "tool_call_id": "c1"},
        ]
    }
    assert run.outputs == {
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "reasoning": "easy"},
                    {"type": "text", "text": "Sunny."},
                ],
                "finish_reason": "stop",
            }
        ]
    }
    assert run.extra["invocation_params"]["tools"] == [{"type": "function", "name": "weather"}]
    assert raw(run) == {} and problems(run) == []


def test_agent_and_workflow_messages_keep_their_separate_system_instructions_raw() -> None:
    """Only a generation's instructions lead its messages unasked; an agent span without
    messages leaves them for a reader that knows more (Pydantic AI)."""
    run = read(
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "helper",
            "gen_ai.system_instructions": '[{"type": "text", "content": "Be brief."}]',
        },
        name="invoke_agent helper",
    )
    assert run.name == "helper" and run.inputs == {}
    assert "gen_ai.system_instructions" in raw(run)
    assert metadata(run) == {"observation_type": "agent"}


def test_embedding_inputs_are_texts() -> None:
    run = read(
        {
            "gen_ai.operation.name": "embeddings",
            "gen_ai.request.model": "text-embedding-3-small",
            "gen_ai.input.messages": json.dumps(
                [
                    parts("user", "a"),
                    {
                        "role": "user",
                        "parts": [
                            {"type": "text", "content": "b"},
                            {"type": "text", "content": "c"},
                        ],
                    },
                ]
            ),
            "gen_ai.embeddings.dimension.count": 1536,
            "gen_ai.usage.input_tokens": 3,
        }
    )
    assert run.run_type == "embedding"
    assert run.inputs == {"input": ["a", "bc"]}
    assert run.metadata["embedding_dimensions"] == 1536
    assert run.metadata["ls_model_type"] == "embedding"
    assert run.usage == {"input_tokens": 3, "total_tokens": 3}


# --- v1.28-1.36 message events ---------------------------------------------------------


def test_message_events_become_messages_and_are_consumed() -> None:
    calls = [
        {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"n": 1}'}}
    ]
    run = read(
        CHAT,
        events=[
            event("gen_ai.system.message", **{"gen_ai.system": "openai", "content": "Be brief."}),
            event("gen_ai.user.message", content='[{"type": "text", "text": "Hi"}]'),
            event("gen_ai.assistant.message", tool_calls=json.dumps(calls)),
            # Semantic Kernel: the body as JSON in one attribute.
            event(
                "gen_ai.tool.message",
                **{
                    "gen_ai.event.content": json.dumps(
                        {"role": "tool", "id": "c1", "content": "42"}
                    )
                },
            ),
            event(
                "gen_ai.choice",
                index=0,
                finish_reason="stop",
                message=json.dumps({"content": "It is 42."}),
            ),
            event("exception", **{"exception.type": "X"}),  # not a message event: kept
        ],
    )
    assert run.inputs == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            {"role": "assistant", "content": None, "tool_calls": calls},
            {"role": "tool", "content": "42", "tool_call_id": "c1"},
        ]
    }
    assert run.outputs == {
        "messages": [{"role": "assistant", "content": "It is 42.", "finish_reason": "stop"}]
    }
    assert [e["name"] for e in run.events] == ["exception"]


def test_a_details_event_repeating_the_span_is_consumed() -> None:
    """openai-v2's event_only mode: the content is in a details log record, whose
    attributes the log join copies onto its span; the event then adds nothing."""
    details = {
        **CHAT,
        "gen_ai.input.messages": json.dumps([parts("user", "Hi")]),
        "gen_ai.output.messages": json.dumps([parts("assistant", "Hello")]),
        "openai.response.service_tier": "default",
    }
    name = "gen_ai.client.inference.operation.details"
    run = read(details, events=[event(name, **details)])
    assert run.inputs == {"messages": [{"role": "user", "content": "Hi"}]}
    assert run.outputs == {"messages": [{"role": "assistant", "content": "Hello"}]}
    assert run.events == []
    assert_round_trip(run)
    # One attribute the span lacks (or holds with another value): the event stays.
    for other in ({"gen_ai.request.seed": 7}, {"openai.response.service_tier": "flex"}):
        kept = read(details, events=[event(name, **{**details, **other})])
        assert [e["name"] for e in kept.events] == [name]


def test_structured_event_bodies_and_flat_tool_calls() -> None:
    run = read(
        CHAT,
        events=[
            event(
                "gen_ai.assistant.message",
                tool_calls=[{"id": "c2", "name": "f", "arguments": {"a": 1}}],
            ),
            event(
                "gen_ai.choice",
                message={
                    "role": "assistant",
                    "tool_calls": [{"id": "c3", "function": {"name": "g", "arguments": "{}"}}],
                },
            ),
        ],
    )
    assert run.inputs["messages"][0]["tool_calls"] == [
        {"id": "c2", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    ]
    assert run.outputs == {
        "messages": [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c3", "type": "function", "function": {"name": "g", "arguments": "{}"}}
                ],
            }
        ]
    }


# --- v1.26-1.27 content events and legacy attributes ------------------------------------


def test_content_events_of_v1_26() -> None:
    run = read(
        CHAT,
        events=[
            event(
                "gen_ai.content.prompt",
                **{
                    "gen_ai.prompt": json.dumps(
                        [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
                    )
                },
            ),
            event(
                "gen_ai.content.completion",
                **{"gen_ai.completion": json.dumps([{"role": "assistant", "content": "A"}])},
            ),
        ],
    )
    assert run.inputs == {
        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    }
    assert run.outputs == {"messages": [{"role": "assistant", "content": "A"}]}
    assert run.events == []


def test_message_events_win_over_content_events() -> None:
    run = read(
        CHAT,
        events=[
            event(
                "gen_ai.content.prompt", **{"gen_ai.prompt": '[{"role": "user", "content": "old"}]'}
            ),
            event("gen_ai.user.message", content="new"),
        ],
    )
    assert run.inputs == {"messages": [{"role": "user", "content": "new"}]}
    assert [e["name"] for e in run.events] == ["gen_ai.content.prompt"]


def test_bad_json_in_a_content_event_is_reported_and_the_event_kept() -> None:
    run = read(CHAT, events=[event("gen_ai.content.prompt", **{"gen_ai.prompt": "[{oops"})])
    assert run.inputs == {}
    assert run.events[0]["kwargs"] == {"gen_ai.prompt": "[{oops"}
    assert problems(run) == [
        "gen_ai.content.prompt event gen_ai.prompt is not valid JSON: '[{oops'"
    ]


def test_langsmith_exporter_json_objects_are_taken_as_they_are() -> None:
    """LangSmith's OTel exporter writes a run's raw inputs / outputs into the legacy keys."""
    run = read(
        {
            "langsmith.span.kind": "chain",
            "gen_ai.prompt": json.dumps({"question": "Q", "k": 3}),
            "gen_ai.completion": json.dumps({"answer": "A"}),
        }
    )
    assert run.inputs == {"question": "Q", "k": 3}
    assert run.outputs == {"answer": "A"}
    assert "gen_ai.prompt" not in raw(run) and "gen_ai.completion" not in raw(run)


def test_legacy_attributes_as_lists_and_plain_text() -> None:
    run = read(
        {
            **CHAT,
            "gen_ai.prompt": '[{"role": "user", "content": "hi"}]',
            "gen_ai.completion": "hello",
        }
    )
    assert run.inputs == {"messages": [{"role": "user", "content": "hi"}]}
    assert run.outputs == {"messages": [{"role": "assistant", "content": "hello"}]}
    chain = read({"gen_ai.prompt": "plain question", "gen_ai.completion": "plain answer"})
    assert chain.inputs == {"messages": [{"role": "user", "content": "plain question"}]}
    assert chain.outputs == {"output": "plain answer"}


def test_legacy_attribute_with_bad_json_stays_raw() -> None:
    run = read({**CHAT, "gen_ai.prompt": '{"question": '})
    assert run.inputs == {}
    assert raw(run)["gen_ai.prompt"] == '{"question": '
    assert problems(run)[0].startswith("gen_ai.prompt is not valid JSON")


def test_flattened_prompts_and_completions() -> None:
    run = read(
        {
            **CHAT,
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "S",
            "gen_ai.prompt.1.role": "assistant",
            "gen_ai.prompt.1.tool_calls.0.id": "c1",
            "gen_ai.prompt.1.tool_calls.0.name": "f",
            "gen_ai.prompt.1.tool_calls.0.arguments": '{"x": 1}',
            "gen_ai.prompt.2.role": "tool",
            "gen_ai.prompt.2.content": "1",
            "gen_ai.prompt.2.tool_call_id": "c1",
            "gen_ai.prompt.10.role": "user",  # indexes sort as numbers
            "gen_ai.prompt.10.content": '[{"type": "text", "text": "last"}]',
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.finish_reason": "tool_calls",
            "gen_ai.completion.0.function_call.name": "g",
            "gen_ai.completion.0.function_call.arguments": "{}",
            "gen_ai.prompt.name": "support-v2",  # the prompt's name: not a message
        }
    )
    assert run.inputs == {
        "messages": [
            {"role": "system", "content": "S"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"x": 1}'},
                    }
                ],
            },
            {"role": "tool", "content": "1", "tool_call_id": "c1"},
            {"role": "user", "content": [{"type": "text", "text": "last"}]},
        ]
    }
    assert run.outputs == {
        "messages": [
            {
                "role": "assistant",
                "content": None,
                "finish_reason": "tool_calls",
                "tool_calls": [{"type": "function", "function": {"name": "g", "arguments": "{}"}}],
            }
        ]
    }
    assert run.metadata["prompt_name"] == "support-v2"
    assert raw(run) == {}


def test_flattened_completion_prompt_of_text_completions() -> None:
    run = read(
        {
            "gen_ai.operation.name": "text_completion",
            "gen_ai.prompt.0.user": "Say hi",
            "gen_ai.completion.0.content": "hi",
        }
    )
    assert run.inputs == {"messages": [{"role": "user", "content": "Say hi"}]}
    assert run.outputs == {"messages": [{"role": "assistant", "content": "hi"}]}
    assert raw(run) == {}


# --- tools and retrieval ---------------------------------------------------------------


def test_tool_arguments_result_name_and_call_id() -> None:
    run = read(
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.id": "call_1",
            "gen_ai.tool.type": "function",
            "gen_ai.tool.description": "Weather now",
            "gen_ai.tool.call.arguments": '{"city": "Paris"}',
            "gen_ai.tool.call.result": '{"temp": 18}',
        },
        name="execute_tool get_weather",
    )
    assert (run.name, run.run_type) == ("get_weather", "tool")
    assert run.inputs == {"city": "Paris"}
    assert run.outputs == {"output": '{"temp": 18}'}
    assert metadata(run) == {
        "tool_call_id": "call_1",
        "tool_type": "function",
        "tool_description": "Weather now",
    }
    assert raw(run) == {}
    assert run.extra["otel"].get("name") is None  # the span name is the derived one


@pytest.mark.parametrize(
    ("sent", "output"),
    [
        ('"18\\u00b0C and sunny"', "18°C and sunny"),  # MLflow JSON-encodes every result
        ("18°C and sunny", "18°C and sunny"),
        ('"quoted" text', '"quoted" text'),
    ],
)
def test_a_tool_result_that_is_a_json_string_is_that_string(sent: str, output: str) -> None:
    run = read({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.call.result": sent})
    assert run.outputs == {"output": output}
    assert_round_trip(run)


def test_tool_text_that_reads_as_a_json_string_survives_run_span_run() -> None:
    run = read({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.call.result": '"\\"x\\""'})
    assert run.outputs == {"output": '"x"'}
    assert_round_trip(run)


def test_tool_arguments_that_are_not_an_object() -> None:
    run = read({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.call.arguments": "Paris"})
    assert run.inputs == {"input": "Paris"}


def test_retrieval_query_and_documents() -> None:
    run = read(
        {
            "gen_ai.operation.name": "retrieval",
            "gen_ai.data_source.id": "kb",
            "gen_ai.retrieval.query.text": "refunds",
            "gen_ai.retrieval.top_k": 2,
            "gen_ai.retrieval.documents": json.dumps(
                [
                    {
                        "id": "d1",
                        "score": 0.9,
                        "content": "Refunds in 30 days.",
                        "metadata": {"p": 3},
                    },
                    {"id": "d2", "score": 0.5},
                ]
            ),
        }
    )
    assert run.run_type == "retriever"
    assert run.inputs == {"query": "refunds"}
    assert run.outputs == {
        "documents": [
            {
                "page_content": "Refunds in 30 days.",
                "metadata": {"p": 3, "id": "d1", "score": 0.9},
                "type": "Document",
            },
            {"page_content": "", "metadata": {"id": "d2", "score": 0.5}, "type": "Document"},
        ]
    }
    assert run.extra["invocation_params"] == {"top_k": 2}
    assert run.metadata["data_source_id"] == "kb"


def test_retrieval_documents_that_are_not_a_list() -> None:
    run = read({"gen_ai.operation.name": "retrieval", "gen_ai.retrieval.documents": '{"a": 1}'})
    assert run.outputs is None
    assert raw(run) == {"gen_ai.retrieval.documents": '{"a": 1}'}
    assert problems(run) == ["gen_ai.retrieval.documents is not a list: {'a': 1}"]


# --- model, provider, parameters, usage -------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "ls_provider"),
    [
        ("gen_ai.provider.name", "openai", "openai"),
        ("gen_ai.provider.name", "gcp.vertex_ai", "google_vertexai"),
        ("gen_ai.provider.name", "azure.ai.openai", "azure"),
        ("gen_ai.provider.name", "x_ai", "xai"),
        ("gen_ai.system", "vertex_ai", "google_vertexai"),
        ("gen_ai.system", "az.ai.openai", "azure"),
        ("gen_ai.system", "Anthropic", "anthropic"),  # OpenLLMetry's spelling
        ("gen_ai.system", "openai.chat", "openai"),  # the Vercel AI SDK's
        ("gen_ai.system", "chroma", "chroma"),  # unknown: kept as written
    ],
)
def test_provider_spellings(key: str, value: str, ls_provider: str) -> None:
    run = read({**CHAT, key: value})
    assert run.metadata["ls_provider"] == ls_provider
    assert key not in raw(run)


def test_a_disagreeing_legacy_provider_stays_raw() -> None:
    run = read({**CHAT, "gen_ai.provider.name": "azure.ai.openai", "gen_ai.system": "openai"})
    assert run.metadata["ls_provider"] == "azure"
    assert raw(run) == {"gen_ai.system": "openai"}


def test_provider_of_a_non_generation_is_metadata() -> None:
    """A chain span's provider (LangChain's "langchain") does not make it a generation."""
    run = read({"gen_ai.provider.name": "langchain"})
    assert run.run_type == "chain"
    assert metadata(run) == {"ls_provider": "langchain"}


def test_request_parameters_and_models() -> None:
    run = read(
        {
            **CHAT,
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.response.id": "r1",
            "gen_ai.response.finish_reasons": '["stop"]',  # JSON text, as Logfire writes it
            "gen_ai.request.temperature": 0.3,
            "gen_ai.request.max_tokens": 100,
            "gen_ai.request.top_p": 0.9,
            "gen_ai.request.top_k": 5,
            "gen_ai.request.stop_sequences": ("\n", "END"),
            "gen_ai.request.frequency_penalty": 0.1,
            "gen_ai.request.presence_penalty": 0.2,
            "gen_ai.request.seed": 7,
            "gen_ai.request.choice.count": 2,
            "gen_ai.request.stream": True,
            "gen_ai.request.encoding_formats": ["float"],
            "gen_ai.output.type": "json",
            "gen_ai.openai.request.service_tier": "auto",
        }
    )
    assert run.extra["invocation_params"] == {
        "temperature": 0.3,
        "max_tokens": 100,
        "top_p": 0.9,
        "top_k": 5,
        "stop": ["\n", "END"],
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "seed": 7,
        "n": 2,
        "stream": True,
        "encoding_formats": ["float"],
        "output_type": "json",
        "service_tier": "auto",
        "model": "gpt-4o",
    }
    md = run.metadata
    assert (md["ls_model_name"], md["response_model"]) == ("gpt-4o", "gpt-4o-2024-08-06")
    assert (md["ls_temperature"], md["ls_max_tokens"], md["ls_stop"]) == (0.3, 100, ["\n", "END"])
    assert (md["response_id"], md["finish_reasons"]) == ("r1", ["stop"])
    assert raw(run) == {}


@pytest.mark.parametrize("prefix", ["gen_ai.openai.", "openai."], ids=["before-1.37", "1.37+"])
def test_openai_keys_in_both_spellings(prefix: str) -> None:
    run = read(
        {
            **CHAT,
            f"{prefix}request.service_tier": "auto",
            f"{prefix}response.service_tier": "default",
            f"{prefix}response.system_fingerprint": "fp_1",
        }
    )
    assert run.extra["invocation_params"]["service_tier"] == "auto"
    assert (run.metadata["service_tier"], run.metadata["system_fingerprint"]) == (
        "default",
        "fp_1",
    )
    assert raw(run) == {}
    assert_round_trip(run)


USAGE_SPELLINGS = [
    (
        {
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 20,
            "gen_ai.usage.cache_read.input_tokens": 60,
            "gen_ai.usage.cache_creation.input_tokens": 30,
            "gen_ai.usage.reasoning.output_tokens": 5,
        },
        {
            "input_tokens": 100,
            "output_tokens": 20,
            "total_tokens": 120,
            "input_token_details": {"cache_read": 60, "cache_creation": 30},
            "output_token_details": {"reasoning": 5},
        },
    ),
    (
        {
            "gen_ai.usage.prompt_tokens": 100,
            "gen_ai.usage.completion_tokens": 20,
            "gen_ai.usage.cache_read_input_tokens": 60,
            "gen_ai.usage.cache_creation_input_tokens": 30,
            "gen_ai.usage.reasoning_tokens": 5,
        },
        {
            "input_tokens": 100,
            "output_tokens": 20,
            "total_tokens": 120,
            "input_token_details": {"cache_read": 60, "cache_creation": 30},
            "output_token_details": {"reasoning": 5},
        },
    ),
    (
        {"gen_ai.usage.input_tokens": "100", "gen_ai.usage.cache_write.input_tokens": 30},
        {"input_tokens": 100, "total_tokens": 100, "input_token_details": {"cache_creation": 30}},
    ),
]


@pytest.mark.parametrize(("attrs", "usage"), USAGE_SPELLINGS, ids=["latest", "legacy", "draft"])
def test_usage_in_every_spelling(attrs: dict[str, Any], usage: dict[str, Any]) -> None:
    run = read({**CHAT, **attrs})
    assert run.usage == usage
    assert raw(run) == {}


def test_usage_on_an_agent_is_an_aggregate_and_stays_raw() -> None:
    attrs = {"gen_ai.usage.input_tokens": 500, "gen_ai.usage.output_tokens": 90}
    run = read({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a", **attrs})
    assert run.usage is None
    assert raw(run) == attrs


def test_an_agent_span_named_by_its_producer_keeps_its_name() -> None:
    run = read(
        {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support"},
        name="support agent",
    )
    assert run.name == "support agent"
    assert metadata(run) == {"agent_name": "support", "observation_type": "agent"}
    assert raw(run) == {}
    assert_round_trip(run)


def test_propagated_context_is_metadata_never_evidence_of_type() -> None:
    run = read(
        {
            "gen_ai.agent.name": "planner",
            "gen_ai.agent.id": "a1",
            "gen_ai.conversation.id": "conv-1",
            "gen_ai.workflow.name": "trip",
            "gen_ai.tool.name": "search",
        },
        name="http.request",
    )
    assert (run.name, run.run_type) == ("http.request", "chain")
    assert metadata(run) == {
        "agent_name": "planner",
        "agent_id": "a1",
        "conversation_id": "conv-1",
        "workflow_name": "trip",
        "tool_name": "search",
    }


# --- operation names and errors -----------------------------------------------------------


def test_operation_names_consumed_only_when_written_back() -> None:
    assert "gen_ai.operation.name" not in raw(read(CHAT))
    assert raw(read({**CHAT, "gen_ai.operation.name": "generate_content"})) == {
        "gen_ai.operation.name": "generate_content"
    }
    workflow = read({"gen_ai.operation.name": "invoke_workflow"})
    assert raw(workflow) == {"gen_ai.operation.name": "invoke_workflow"}
    assert problems(workflow) == []


def test_non_standard_operation_names() -> None:
    wild = read({"gen_ai.operation.name": "execute_task"})  # OpenLLMetry's LangChain
    assert wild.run_type == "chain" and problems(wild) == []
    unknown = read({"gen_ai.operation.name": "frobnicate"})
    assert unknown.run_type == "chain"
    assert raw(unknown) == {"gen_ai.operation.name": "frobnicate"}
    assert problems(unknown) == [
        "gen_ai.operation.name is not a known operation name: 'frobnicate'"
    ]


def test_error_type_names_an_error_whose_message_does_not() -> None:
    run = read(
        {**CHAT, "error.type": "RateLimitError"},
        status=StatusCode.ERROR,
        status_message="slow down",
    )
    assert run.error == "RateLimitError: slow down"
    assert raw(run) == {}
    assert_round_trip(run)


def test_error_type_repeating_the_exception_event_is_consumed() -> None:
    run = read(
        {**CHAT, "error.type": "ValueError"},
        status=StatusCode.ERROR,
        events=[event("exception", **{"exception.type": "ValueError", "exception.message": "bad"})],
    )
    assert run.error == "ValueError: bad"
    assert raw(run) == {}
    other = read(
        {**CHAT, "error.type": "timeout"},
        status=StatusCode.ERROR,
        events=[event("exception", **{"exception.type": "ValueError", "exception.message": "bad"})],
    )
    assert other.error == "ValueError: bad"
    assert raw(other) == {"error.type": "timeout"}


def test_error_type_without_error_status_stays_raw() -> None:
    run = read({**CHAT, "error.type": "404"})
    assert run.error is None
    assert raw(run) == {"error.type": "404"}


# --- malformed values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attrs", "problem"),
    [
        ({"gen_ai.input.messages": "[{"}, "gen_ai.input.messages is not valid JSON"),
        ({"gen_ai.input.messages": 42}, "gen_ai.input.messages is not a list of messages"),
        (
            {"gen_ai.output.messages": '{"role": "assistant"}'},
            "gen_ai.output.messages is not a list of messages",
        ),
        ({"gen_ai.request.model": 4}, "gen_ai.request.model is not a string"),
        ({"gen_ai.provider.name": ["openai"]}, "gen_ai.provider.name is not a string"),
        ({"gen_ai.usage.input_tokens": "many"}, "gen_ai.usage.input_tokens is not a number"),
        ({"gen_ai.usage.input_tokens": math.inf}, "gen_ai.usage.input_tokens is not a number"),
        (
            {"gen_ai.usage.cache_read.input_tokens": -math.inf},
            "gen_ai.usage.cache_read.input_tokens is not a number",
        ),
        ({"gen_ai.usage.output_tokens": math.nan}, "gen_ai.usage.output_tokens is not a number"),
        ({"gen_ai.response.finish_reasons": 3}, "gen_ai.response.finish_reasons is not a list"),
        ({"gen_ai.tool.definitions": "[oops"}, "gen_ai.tool.definitions is not valid JSON"),
        ({"gen_ai.system_instructions": "{bad"}, "gen_ai.system_instructions is not valid JSON"),
    ],
)
def test_malformed_values_are_kept_raw_and_reported(attrs: dict[str, Any], problem: str) -> None:
    run = read({**CHAT, **attrs})
    assert repr(raw(run)) == repr(attrs)  # repr: NaN is not equal to itself
    assert len(problems(run)) == 1 and problems(run)[0].startswith(problem)
    run_to_span(run)  # and the run can be written back


def test_huge_values_are_read_and_bad_ones_reported_by_size() -> None:
    text = "ü" * 1_000_000
    run = read({**CHAT, "gen_ai.input.messages": json.dumps([parts("user", text)])})
    assert run.inputs["messages"][0]["content"] == text
    bad = read({**CHAT, "gen_ai.output.messages": "[" + "x" * 1_000_000})
    assert problems(bad)[0].endswith("<1000003 chars>")


# --- round trips ----------------------------------------------------------------------------


def test_read_runs_survive_run_span_run() -> None:
    for attrs in (
        {
            **CHAT,
            "gen_ai.input.messages": json.dumps([parts("user", "hi")]),
            "gen_ai.output.messages": json.dumps([parts("assistant", "yo", finish_reason="stop")]),
            "gen_ai.usage.input_tokens": 3,
            "gen_ai.usage.cache_read.input_tokens": 1,
            "gen_ai.provider.name": "anthropic",
            "gen_ai.conversation.id": "c",
        },
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "t",
            "gen_ai.tool.call.arguments": "[1, 2]",
            "gen_ai.tool.call.result": "3",
        },
        {
            "gen_ai.operation.name": "retrieval",
            "gen_ai.retrieval.query.text": "q",
            "gen_ai.retrieval.documents": '[{"id": "d", "content": "c"}]',
        },
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "a",
            "gen_ai.usage.input_tokens": 9,
        },
        {"gen_ai.operation.name": "frobnicate", "gen_ai.prompt": "{bad"},
    ):
        assert_round_trip(read(attrs))
