"""The MLflow reader: every value JSON-encoded; chat, embedding, retriever and tool spans."""

from __future__ import annotations

import json
from typing import Any

from tests.conventions.helpers import PARENT_ID, assert_round_trip, metadata, problems, raw, read


def enc(value: Any) -> str:
    """As MLflow writes every attribute value."""
    return json.dumps(value)


CHAT = {"mlflow.spanType": enc("CHAT_MODEL")}


def test_openai_chat_request_and_response() -> None:
    request = {
        "model": "gpt-4o-mini",
        "temperature": 0.5,
        "messages": [{"role": "user", "content": "Weather?"}],
    }
    response = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "logprobs": None,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": None,
                    "annotations": [],
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{}"},
                        }
                    ],
                },
            }
        ],
    }
    run = read(
        {
            **CHAT,
            "mlflow.traceRequestId": enc("tr-1"),
            "mlflow.spanInputs": enc(request),
            "mlflow.spanOutputs": enc(response),
            "mlflow.llm.model": enc("gpt-4o-mini-2024-07-18"),
            "mlflow.llm.provider": enc("openai"),
            "mlflow.chat.tools": enc([{"type": "function", "function": {"name": "get_weather"}}]),
            "mlflow.chat.tokenUsage": enc(
                {
                    "input_tokens": 23,
                    "output_tokens": 9,
                    "total_tokens": 32,
                    "cache_read_input_tokens": 16,
                }
            ),
            "mlflow.llm.cost": enc({"input_cost": 0.1, "output_cost": 0.2, "total_cost": 0.3}),
        }
    )
    assert run.run_type == "llm"
    assert run.inputs == {"messages": [{"role": "user", "content": "Weather?"}]}
    assert run.outputs == {
        "messages": [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{}"},
                    }
                ],
                "finish_reason": "tool_calls",
            }
        ],
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
    }
    md = metadata(run)
    assert (md["ls_provider"], md["ls_model_name"]) == ("openai", "gpt-4o-mini-2024-07-18")
    assert md["mlflow_trace_id"] == "tr-1"
    assert run.extra["invocation_params"] == {
        "tools": [{"type": "function", "function": {"name": "get_weather"}}],
        "model": "gpt-4o-mini",
        "temperature": 0.5,
    }
    assert run.usage == {
        "input_tokens": 23,
        "output_tokens": 9,
        "total_tokens": 32,
        "input_token_details": {"cache_read": 16},
        "input_cost": 0.1,
        "output_cost": 0.2,
        "total_cost": 0.3,
    }
    assert raw(run) == {"mlflow.spanType": enc("CHAT_MODEL")}  # no writer brings it back
    assert_round_trip(run)


def test_manual_chat_span_model_and_usage_come_from_its_request_and_response() -> None:
    """A `mlflow.start_span(span_type="CHAT_MODEL")` span names no model and no usage
    attribute: the request's model and the response's usage (with its details) say."""
    request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    response = {
        "id": "c1",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}}],
        "usage": {
            "prompt_tokens": 20,
            "completion_tokens": 9,
            "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 16, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 4},
        },
    }
    run = read({**CHAT, "mlflow.spanInputs": enc(request), "mlflow.spanOutputs": enc(response)})
    assert metadata(run)["ls_model_name"] == "gpt-4o-mini"
    assert run.usage == {
        "input_tokens": 20,
        "output_tokens": 9,
        "total_tokens": 29,
        "input_token_details": {"cache_read": 16, "audio": 0},
        "output_token_details": {"reasoning": 4},
    }
    assert_round_trip(run)


def test_anthropic_request_with_system_and_response_blocks() -> None:
    request = {
        "model": "claude",
        "max_tokens": 100,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}],
    }
    response = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 3},
        "content": [
            {"type": "thinking", "thinking": "hmm"},
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"q": 1}},
        ],
    }
    run = read(
        {
            "mlflow.spanType": enc("LLM"),
            "mlflow.spanInputs": enc(request),
            "mlflow.spanOutputs": enc(response),
            "mlflow.chat.tokenUsage": enc(
                {
                    "input_tokens": 130,
                    "output_tokens": 5,
                    "total_tokens": 135,
                    "cache_read_input_tokens": 100,
                    "cache_creation_input_tokens": 20,
                    "cache_creation_input_tokens_above_1hr": 20,
                }
            ),
        }
    )
    assert run.inputs == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    }
    assert run.extra["invocation_params"] == {"model": "claude", "max_tokens": 100}
    assert run.outputs == {
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "reasoning": "hmm"},
                    {"type": "text", "text": "Let me look."},
                ],
                "tool_calls": [
                    {
                        "id": "t1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q":1}'},
                    }
                ],
                "finish_reason": "tool_use",
            }
        ],
        "id": "msg_1",
        "model": "claude-x",
        "usage": {"input_tokens": 3},
    }
    # MLflow already counts cache reads and writes inside input_tokens.
    assert run.usage == {
        "input_tokens": 130,
        "output_tokens": 5,
        "total_tokens": 135,
        "input_token_details": {
            "cache_read": 100,
            "cache_creation": 20,
            "ephemeral_1h_input_tokens": 20,
        },
    }


def test_embedding_retriever_tool_and_chain_shapes() -> None:
    emb = read(
        {
            "mlflow.spanType": enc("EMBEDDING"),
            "mlflow.spanInputs": enc({"model": "e3", "input": "Paris"}),
            "mlflow.spanOutputs": enc(
                {"data": [{"embedding": [0.1, 0.2], "index": 0}], "object": "list"}
            ),
        }
    )
    assert emb.run_type == "embedding"
    assert (emb.inputs, emb.outputs) == (
        {"input": ["Paris"]},
        {"embeddings": [[0.1, 0.2]], "object": "list"},
    )
    assert emb.extra["invocation_params"] == {"model": "e3"}
    ret = read(
        {
            "mlflow.spanType": enc("RETRIEVER"),
            "mlflow.spanInputs": enc({"query": "refunds"}),
            "mlflow.spanOutputs": enc(
                [{"page_content": "5 days", "metadata": {"s": 1}, "id": "doc-9"}]
            ),
        }
    )
    assert ret.inputs == {"query": "refunds"}
    assert ret.outputs == {
        "documents": [
            {"page_content": "5 days", "metadata": {"s": 1, "id": "doc-9"}, "type": "Document"}
        ]
    }
    tool = read(
        {
            "mlflow.spanType": enc("TOOL"),
            "mlflow.spanInputs": enc({"city": "Paris"}),
            "mlflow.spanOutputs": enc("18C"),
            "mlflow.spanFunctionName": enc("get_w"),
        }
    )
    assert (tool.run_type, tool.inputs, tool.outputs) == (
        "tool",
        {"city": "Paris"},
        {"output": "18C"},
    )
    assert metadata(tool) == {"function_name": "get_w"}
    chain = read(
        {
            "mlflow.spanType": enc("CHAIN"),
            "mlflow.spanInputs": enc("q"),
            "mlflow.spanOutputs": enc({"a": 1}),
        }
    )
    assert (chain.inputs, chain.outputs) == ({"input": "q"}, {"a": 1})
    parser = read({"mlflow.spanType": enc("PARSER")})
    assert parser.run_type == "parser"
    agent = read({"mlflow.spanType": enc("AGENT")})
    assert agent.metadata["observation_type"] == "agent"


def test_bare_values_where_a_string_is_expected_are_accepted() -> None:
    run = read(
        {
            "mlflow.spanType": "LLM",
            "mlflow.llm.model": "gpt-4o",
            "mlflow.llm.provider": "mistral",
            "mlflow.chat.tokenUsage": enc(
                {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
            ),
        }
    )
    assert run.run_type == "llm"
    assert run.metadata["ls_model_name"] == "gpt-4o"
    assert run.metadata["ls_provider"] == "mistralai"


def test_trace_tags_on_the_root_span_become_metadata() -> None:
    attrs = {
        "mlflow.spanType": enc("AGENT"),
        "mlflow.traceTag.team": "docs",
        "mlflow.traceTag.stage": "beta",
    }
    root = read(attrs)
    assert {k: root.metadata[k] for k in ("team", "stage")} == {"team": "docs", "stage": "beta"}
    assert raw(root) == {"mlflow.spanType": enc("AGENT")}
    child = read(attrs, parent=PARENT_ID)  # only the root carries the trace's tags
    assert "team" not in child.metadata
    assert "mlflow.traceTag.team" in raw(child)


def test_usage_on_aggregate_spans_stays_raw() -> None:
    usage = enc({"input_tokens": 100, "output_tokens": 10, "total_tokens": 110})
    run = read({"mlflow.spanType": enc("AGENT"), "mlflow.chat.tokenUsage": usage})
    assert run.usage is None
    assert raw(run)["mlflow.chat.tokenUsage"] == usage


def test_malformed_values_are_kept_raw_and_reported() -> None:
    attrs = {
        **CHAT,
        "mlflow.spanInputs": '{"messages": [',
        "mlflow.spanOutputs": "not json",
        "mlflow.llm.model": enc({"not": "a string"}),
        "mlflow.chat.tokenUsage": enc({"input_tokens": "many"}),
        "mlflow.llm.cost": enc({"discount": 0.5}),
        "mlflow.chat.tools": "[[",
    }
    run = read(attrs)
    assert run.inputs == {} and run.outputs is None and run.usage is None
    kept = raw(run)
    for key in attrs:
        assert kept[key] == attrs[key], key
    assert len(problems(run)) == 6
    bogus = read({"mlflow.spanType": enc("WIZARD")})
    assert any("WIZARD" in p for p in problems(bogus))
    unknown = read({"mlflow.spanType": enc("UNKNOWN")})
    assert not problems(unknown)
