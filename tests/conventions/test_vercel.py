"""The Vercel AI SDK reader: inner generation spans, outer orchestration spans with
aggregate usage, tool calls, embeddings and reranking, across SDK versions 4 to 6."""

from __future__ import annotations

import json

from otel_llm.model import ns_to_iso
from tests.conventions.helpers import T0, assert_round_trip, metadata, problems, raw, read

DO_GENERATE = {
    "ai.operationId": "ai.generateText.doGenerate",
    "ai.model.id": "gpt-4o-mini",
    "ai.model.provider": "openai.chat",
}


def test_inner_generation_messages_response_settings_and_usage() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather?"},
                {"type": "image", "image": "https://x/p.png"},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "reasoning", "text": "need a tool"},
                {
                    "type": "tool-call",
                    "toolCallId": "c1",
                    "toolName": "getWeather",
                    "input": {"city": "Paris"},
                },
            ],
        },
        {
            "role": "tool",
            "content": [
                {
                    "type": "tool-result",
                    "toolCallId": "c1",
                    "toolName": "getWeather",
                    "output": {"type": "json", "value": {"t": 18}},
                }
            ],
        },
    ]
    run = read(
        {
            **DO_GENERATE,
            "ai.telemetry.functionId": "bot",
            "resource.name": "bot",
            "operation.name": "ai.generateText.doGenerate bot",
            "ai.telemetry.metadata.userId": "u3",
            "ai.settings.maxOutputTokens": 300,
            "ai.settings.temperature": 0.2,
            "ai.settings.stopSequences": ["END"],
            "ai.settings.maxRetries": 2,
            "ai.settings.somethingNew": "x",
            "ai.prompt.messages": json.dumps(messages),
            "ai.prompt.tools": ['{"type":"function","name":"getWeather"}'],
            "ai.prompt.toolChoice": '{"type":"auto"}',
            "ai.response.text": "It is 18C.",
            "ai.response.reasoning": "easy",
            "ai.response.finishReason": "stop",
            "ai.response.model": "gpt-4o-mini",
            "ai.usage.inputTokens": 60,
            "ai.usage.inputTokenDetails.noCacheTokens": 28,
            "ai.usage.inputTokenDetails.cacheReadTokens": 32,
            "ai.usage.cachedInputTokens": 32,
            "ai.usage.outputTokens": 10,
            "ai.usage.outputTokenDetails.textTokens": 8,
            "ai.usage.outputTokenDetails.reasoningTokens": 2,
            "ai.usage.reasoningTokens": 2,
            "ai.usage.totalTokens": 70,
        },
        name="ai.generateText.doGenerate",
    )
    assert run.run_type == "llm"
    assert run.inputs == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather?"},
                    {"type": "image", "image": "https://x/p.png"},
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "reasoning", "reasoning": "need a tool"}],
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "getWeather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "content": '{"t":18}', "tool_call_id": "c1", "name": "getWeather"},
        ]
    }
    assert run.outputs == {
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "reasoning": "easy"},
                    {"type": "text", "text": "It is 18C."},
                ],
                "finish_reason": "stop",
            }
        ]
    }
    md = metadata(run)
    assert (md["ls_provider"], md["ls_model_name"]) == ("openai", "gpt-4o-mini")
    assert (md["function_id"], md["userId"]) == ("bot", "u3")
    assert run.extra["invocation_params"] == {
        "max_tokens": 300,
        "temperature": 0.2,
        "stop": ["END"],
        "max_retries": 2,
        "somethingNew": "x",
        "tools": [{"type": "function", "name": "getWeather"}],
        "tool_choice": {"type": "auto"},
        "model": "gpt-4o-mini",
    }
    assert run.usage == {
        "input_tokens": 60,
        "output_tokens": 10,
        "total_tokens": 70,
        "input_token_details": {"cache_read": 32},
        "output_token_details": {"reasoning": 2},
    }
    # Only the provider's API flavour has no run field.
    assert raw(run) == {
        "ai.operationId": "ai.generateText.doGenerate",
        "ai.model.provider": "openai.chat",
    }
    assert_round_trip(run)


def test_v4_spellings() -> None:
    run = read(
        {
            "ai.operationId": "ai.streamText.doStream",
            "ai.model.id": "claude",
            "ai.model.provider": "anthropic",
            "ai.prompt": json.dumps({"system": "Be brief.", "prompt": "Hi"}),
            "ai.settings.maxTokens": 50,
            "ai.usage.promptTokens": 7,
            "ai.usage.completionTokens": 3,
            "ai.response.toolCalls": json.dumps(
                [
                    {
                        "toolCallType": "function",
                        "toolCallId": "c",
                        "toolName": "f",
                        "args": '{"a": 1}',
                    }
                ]
            ),
            "ai.response.finishReason": "tool-calls",
            "ai.response.msToFirstChunk": 12.5,
            "ai.prompt.messages": json.dumps(
                [
                    {
                        "role": "tool",
                        "content": [
                            {
                                "type": "tool-result",
                                "toolCallId": "c",
                                "toolName": "f",
                                "result": "ok",
                            }
                        ],
                    }
                ]
            ),
        }
    )
    assert run.inputs == {
        "messages": [{"role": "tool", "content": "ok", "tool_call_id": "c", "name": "f"}]
    }
    assert run.outputs == {
        "messages": [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"a": 1}'},
                    }
                ],
                "finish_reason": "tool-calls",
            }
        ]
    }
    assert run.usage == {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
    assert run.extra["invocation_params"]["max_tokens"] == 50
    assert run.metadata["ls_provider"] == "anthropic"
    assert run.events == [{"name": "new_token", "time": ns_to_iso(T0 + 12_500_000)}]
    # ai.prompt repeats the messages' request on the inner span: it stays raw.
    assert set(raw(run)) == {"ai.operationId", "ai.prompt"}


def test_prompt_alone_becomes_messages_on_a_generation() -> None:
    run = read(
        {
            "ai.operationId": "ai.generateObject.doGenerate",
            "ai.prompt": json.dumps(
                {"system": "S", "messages": [{"role": "user", "content": "u"}]}
            ),
            "ai.response.object": '{"answer": 42}',
        }
    )
    assert run.inputs == {
        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "u"}]
    }
    assert run.outputs == {"messages": [{"role": "assistant", "content": '{"answer":42}'}]}


def test_outer_spans_keep_their_aggregate_usage_raw() -> None:
    run = read(
        {
            "ai.operationId": "ai.generateText",
            "ai.model.id": "gpt-4o-mini",
            "ai.prompt": json.dumps({"prompt": "Weather?"}),
            "ai.response.text": "18C",
            "ai.response.finishReason": "stop",
            "ai.usage.inputTokens": 100,
            "ai.usage.outputTokens": 22,
        },
        name="ai.generateText",
    )
    assert run.run_type == "chain"
    assert run.inputs == {"prompt": "Weather?"}
    assert run.outputs == {"text": "18C", "finishReason": "stop"}
    assert run.usage is None
    assert raw(run) == {
        "ai.operationId": "ai.generateText",
        "ai.usage.inputTokens": 100,
        "ai.usage.outputTokens": 22,
    }


def test_tool_call_span() -> None:
    run = read(
        {
            "ai.operationId": "ai.toolCall",
            "ai.toolCall.name": "getWeather",
            "ai.toolCall.id": "c1",
            "ai.toolCall.args": '{"city": "Paris"}',
            "ai.toolCall.result": '{"t": 18}',
        },
        name="ai.toolCall",
    )
    assert (run.run_type, run.name) == ("tool", "getWeather")
    assert (run.inputs, run.outputs) == ({"city": "Paris"}, {"output": {"t": 18}})
    assert metadata(run) == {"tool_call_id": "c1"}
    assert raw(run) == {"ai.operationId": "ai.toolCall"}
    assert_round_trip(run)
    text_args = read({"ai.operationId": "ai.toolCall", "ai.toolCall.args": '"just text"'})
    assert text_args.inputs == {"input": "just text"}


def test_embed_and_embed_many() -> None:
    one = read(
        {
            "ai.operationId": "ai.embed.doEmbed",
            "ai.model.id": "e3",
            "ai.model.provider": "openai.embedding",
            "ai.value": '"Paris"',
            "ai.embedding": "[0.1, 0.2]",
            "ai.usage.tokens": 2,
        }
    )
    assert one.run_type == "embedding"
    assert (one.inputs, one.outputs) == ({"input": ["Paris"]}, {"embeddings": [[0.1, 0.2]]})
    assert one.usage == {"input_tokens": 2, "total_tokens": 2}
    many = read(
        {
            "ai.operationId": "ai.embedMany",
            "ai.values": ['"a"', '"b"'],
            "ai.embeddings": ["[1]", "[2]"],
            "ai.usage.tokens": 8,
        }
    )
    assert many.run_type == "chain"
    assert (many.inputs, many.outputs) == ({"input": ["a", "b"]}, {"embeddings": [[1], [2]]})
    assert raw(many) == {"ai.operationId": "ai.embedMany", "ai.usage.tokens": 8}


def test_rerank() -> None:
    run = read(
        {
            "ai.operationId": "ai.rerank.doRerank",
            "ai.documents": ['"a"', '{"x": 1}'],
            "ai.ranking.type": "text",
            "ai.ranking": ['{"index": 1, "relevanceScore": 0.9}', '{"index": 0}'],
        }
    )
    assert run.run_type == "retriever"
    assert run.inputs == {"documents": ["a", {"x": 1}]}
    assert run.outputs == {
        "documents": [
            {"page_content": '{"x":1}', "metadata": {"index": 1, "score": 0.9}, "type": "Document"},
            {"page_content": "a", "metadata": {"index": 0, "score": None}, "type": "Document"},
        ]
    }


def test_provider_ids() -> None:
    for value, expected in (
        ("google.vertex.chat", "google_vertexai"),
        ("google.generative-ai", "google_genai"),
        ("amazon-bedrock", "bedrock"),
        ("mistral.chat", "mistralai"),
        ("acme.chat", "acme"),
    ):
        run = read({**DO_GENERATE, "ai.model.provider": value})
        assert run.metadata["ls_provider"] == expected, value


def test_derived_breakdowns_that_disagree_stay_raw() -> None:
    run = read(
        {
            **DO_GENERATE,
            "ai.usage.inputTokens": 10,
            "ai.usage.inputTokenDetails.cacheReadTokens": 4,
            "ai.usage.inputTokenDetails.noCacheTokens": 9,
        }
    )
    assert raw(run)["ai.usage.inputTokenDetails.noCacheTokens"] == 9


def test_malformed_values_never_raise() -> None:
    attrs = {
        **DO_GENERATE,
        "ai.prompt.messages": "[{broken",
        "ai.response.toolCalls": "nope",
        "ai.usage.inputTokens": "lots",
        "ai.prompt.tools": "not a list",
        "ai.response.text": "x" * 1_000_000,
    }
    run = read(attrs)
    assert run.inputs == {}
    assert run.outputs == {"messages": [{"role": "assistant", "content": "x" * 1_000_000}]}
    kept = raw(run)
    for key in (
        "ai.prompt.messages",
        "ai.response.toolCalls",
        "ai.usage.inputTokens",
        "ai.prompt.tools",
    ):
        assert kept[key] == attrs[key], key
    assert len(problems(run)) == 4
    embeddings = read({"ai.operationId": "ai.embedMany.doEmbed", "ai.values": "oops"})
    assert raw(embeddings)["ai.values"] == "oops" and problems(embeddings)
