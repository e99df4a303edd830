"""The OpenInference reader: flattened lists re-nested, every key family, bad values."""

from __future__ import annotations

import json

from tests.conventions.helpers import assert_round_trip, metadata, problems, raw, read

LLM = {"openinference.span.kind": "LLM"}


def test_chat_messages_are_re_nested_with_tool_calls_and_content_parts() -> None:
    run = read(
        {
            **LLM,
            "llm.model_name": "gpt-4o",
            "llm.input_messages.0.message.role": "system",
            "llm.input_messages.0.message.content": "Be brief.",
            "llm.input_messages.1.message.role": "user",
            "llm.input_messages.1.message.contents.0.message_content.type": "text",
            "llm.input_messages.1.message.contents.0.message_content.text": "What is this?",
            "llm.input_messages.1.message.contents.1.message_content.type": "image",
            "llm.input_messages.1.message.contents.1.message_content.image.image.url": "https://x/y.png",
            "llm.input_messages.2.message.role": "assistant",
            "llm.input_messages.2.message.tool_calls.0.tool_call.id": "call_1",
            "llm.input_messages.2.message.tool_calls.0.tool_call.function.name": "lookup",
            "llm.input_messages.2.message.tool_calls.0.tool_call.function.arguments": '{"q": 1}',
            "llm.input_messages.3.message.role": "tool",
            "llm.input_messages.3.message.tool_call_id": "call_1",
            "llm.input_messages.3.message.name": "lookup",
            "llm.input_messages.3.message.content": "42",
            "llm.input_messages.10.message.role": "user",  # indexes sort as numbers
            "llm.input_messages.10.message.content": "last",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.contents.0.message_content.type": "reasoning",
            "llm.output_messages.0.message.contents.0.message_content.text": "thinking",
            "llm.output_messages.0.message.contents.1.message_content.type": "text",
            "llm.output_messages.0.message.contents.1.message_content.text": "A cat.",
            "llm.finish_reason": "stop",
        }
    )
    assert run.run_type == "llm"
    assert run.inputs == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q": 1}'},
                    },
                ],
            },
            {"role": "tool", "content": "42", "tool_call_id": "call_1", "name": "lookup"},
            {"role": "user", "content": "last"},
        ]
    }
    assert run.outputs == {
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "reasoning": "thinking"},
                    {"type": "text", "text": "A cat."},
                ],
                "finish_reason": "stop",
            }
        ]
    }
    assert raw(run) == {}
    assert_round_trip(run)


def test_newer_message_keys_are_kept_on_the_message() -> None:
    run = read(
        {
            **LLM,
            "llm.input_messages.0.message.role": "assistant",
            "llm.input_messages.0.message.function_call_name": "f",
            "llm.input_messages.0.message.function_call_arguments_json": "{}",
            "llm.input_messages.0.message.contents.0.message_content.type": "audio",
            "llm.input_messages.0.message.contents.0.message_content.audio.audio.url": "a.wav",
            "llm.input_messages.0.message.contents.1.message_content.type": "text",
            "llm.input_messages.0.message.contents.1.message_content.text": "hi",
            "llm.input_messages.0.message.contents.1.message_content.signature": "sig",
            "llm.input_messages.0.message.tool_calls.0.tool_call.id": "c",
            "llm.input_messages.0.message.tool_calls.0.tool_call.reasoning_signature": "rs",
            "llm.input_messages.0.message.future_field": "kept",
        }
    )
    (m,) = run.inputs["messages"]
    assert m["function_call"] == {"name": "f", "arguments": "{}"}
    assert m["content"] == [
        {"type": "audio", "audio.audio.url": "a.wav"},
        {"type": "text", "text": "hi", "signature": "sig"},
    ]
    assert m["tool_calls"][0]["reasoning_signature"] == "rs"
    assert m["future_field"] == "kept"
    assert raw(run) == {}


def test_model_provider_parameters_tools_usage_and_cost() -> None:
    schema = {"type": "function", "function": {"name": "lookup"}}
    run = read(
        {
            **LLM,
            "llm.request.model_name": "gpt-4o",
            "llm.model_name": "gpt-4o",
            "llm.response.model_name": "gpt-4o-2024-08-06",
            "llm.provider": "azure",
            "llm.system": "openai",
            "llm.invocation_parameters": '{"temperature": 0.5, "max_tokens": 64, "stop": ["\\n"]}',
            "llm.tools.0.tool.json_schema": json.dumps(schema),
            "llm.token_count.prompt": 120,
            "llm.token_count.completion": 30,
            "llm.token_count.total": 150,
            "llm.token_count.prompt_details.cache_read": 100,
            "llm.token_count.prompt_details.cache_write": 5,
            "llm.token_count.prompt_details.audio": 2,
            "llm.token_count.completion_details.reasoning": 12,
            "llm.token_count.completion_details.audio": "3",  # numbers as text are accepted
            "llm.cost.prompt": 0.0012,
            "llm.cost.completion": 0.0006,
            "llm.cost.total": 0.0018,
        }
    )
    md = metadata(run)
    assert md["ls_model_name"] == "gpt-4o"
    assert md["ls_provider"] == "azure"
    assert md["ls_temperature"] == 0.5 and md["ls_max_tokens"] == 64 and md["ls_stop"] == ["\n"]
    assert run.extra["invocation_params"] == {
        "temperature": 0.5,
        "max_tokens": 64,
        "stop": ["\n"],
        "tools": [schema],
        "model": "gpt-4o",
    }
    assert run.usage == {
        "input_tokens": 120,
        "output_tokens": 30,
        "total_tokens": 150,
        "input_token_details": {"cache_read": 100, "cache_creation": 5, "audio": 2},
        "output_token_details": {"reasoning": 12, "audio": 3},
        "input_cost": 0.0012,
        "output_cost": 0.0006,
        "total_cost": 0.0018,
    }
    # A different response model is metadata (as the gen_ai reader keeps it); a
    # disagreeing llm.system has no run field: kept raw.
    assert md["response_model"] == "gpt-4o-2024-08-06"
    assert raw(run) == {"llm.system": "openai"}


def test_provider_spellings_map_to_ls_provider() -> None:
    for value, expected in (
        ("google", "google_genai"),
        ("vertexai", "google_vertexai"),
        ("aws", "bedrock"),
        ("mistralai", "mistralai"),
        ("someone-new", "someone-new"),
    ):
        run = read({**LLM, "llm.system": value, "llm.model_name": "m"})
        assert run.metadata["ls_provider"] == expected
        assert "llm.system" not in raw(run)


def test_json_request_and_response_repeating_the_messages_are_consumed() -> None:
    request = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "seed": 7,
        "response_format": {"type": "json_object"},
    }
    response = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini-x",
        "choices": [
            {
                "index": 0,
                "finish_reason": "length",
                "logprobs": None,
                "message": {"role": "assistant", "content": "hel"},
            }
        ],
        "usage": {"prompt_tokens": 3},
    }
    run = read(
        {
            **LLM,
            "input.value": json.dumps(request),
            "input.mime_type": "application/json",
            "output.value": json.dumps(response),
            "output.mime_type": "application/json",
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": "hi",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "hel",
        }
    )
    assert run.inputs == {"messages": [{"role": "user", "content": "hi"}]}
    assert run.extra["invocation_params"] == {
        "model": "gpt-4o-mini",
        "seed": 7,
        "response_format": {"type": "json_object"},
    }
    assert run.outputs == {
        "messages": [{"role": "assistant", "content": "hel", "finish_reason": "length"}],
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini-x",
        "usage": {"prompt_tokens": 3},
    }
    assert raw(run) == {}
    assert_round_trip(run)


def test_anthropic_response_gives_its_stop_reason() -> None:
    response = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
    }
    run = read(
        {
            **LLM,
            "output.value": json.dumps(response),
            "output.mime_type": "application/json",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "ok",
        }
    )
    assert run.outputs == {
        "messages": [{"role": "assistant", "content": "ok", "finish_reason": "end_turn"}],
        "id": "msg_1",
        "type": "message",
        "model": "claude",
    }


def test_text_input_value_beside_messages_stays_raw() -> None:
    run = read(
        {
            **LLM,
            "input.value": "hi",
            "input.mime_type": "text/plain",
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": "hi",
        }
    )
    assert run.inputs == {"messages": [{"role": "user", "content": "hi"}]}
    assert raw(run) == {"input.value": "hi", "input.mime_type": "text/plain"}


def test_legacy_prompts_and_choices() -> None:
    flat = read(
        {
            **LLM,
            "llm.prompts.0.prompt.text": "Say hi",
            "llm.choices.0.completion.text": "hi",
            "llm.choices.1.completion.text": "hello",
        }
    )
    assert flat.inputs == {"prompt": "Say hi"}
    assert flat.outputs == {"choices": [{"index": 0, "text": "hi"}, {"index": 1, "text": "hello"}]}
    assert raw(flat) == {}
    array = read({**LLM, "llm.prompts": ["a", "b"]})
    assert array.inputs == {"prompt": ["a", "b"]}
    assert raw(array) == {}


def test_generation_without_flattened_messages_reads_the_values() -> None:
    run = read(
        {
            **LLM,
            "input.value": '{"messages": [{"role": "user", "content": "x"}]}',
            "input.mime_type": "application/json",
            "output.value": "plain answer",
        }
    )
    assert run.inputs == {"messages": [{"role": "user", "content": "x"}]}
    assert run.outputs == {"output": "plain answer"}


def test_embeddings_texts_and_vectors() -> None:
    run = read(
        {
            "openinference.span.kind": "EMBEDDING",
            "embedding.model_name": "text-embedding-3-small",
            "embedding.invocation_parameters": '{"dimensions": 3}',
            "embedding.embeddings.0.embedding.text": "a",
            "embedding.embeddings.0.embedding.vector": [0.1, 0.2, 0.3],
            "embedding.embeddings.1.embedding.text": "b",
            "embedding.embeddings.1.embedding.vector": [0.4, 0.5, 0.6],
            "input.value": '{"input": ["a", "b"], "encoding_format": "float"}',
            "input.mime_type": "application/json",
            "output.value": '{"data": [], "object": "list"}',
            "output.mime_type": "application/json",
            "llm.token_count.prompt": 4,
            "llm.token_count.total": 4,
        }
    )
    assert run.run_type == "embedding"
    assert run.inputs == {"input": ["a", "b"]}
    assert run.outputs == {"embeddings": [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], "object": "list"}
    assert run.extra["invocation_params"] == {
        "dimensions": 3,
        "encoding_format": "float",
        "model": "text-embedding-3-small",
    }
    assert run.metadata["ls_model_type"] == "embedding"
    assert run.usage == {"input_tokens": 4, "total_tokens": 4}
    assert raw(run) == {}
    assert_round_trip(run)


def test_retriever_documents_with_metadata_ids_and_scores() -> None:
    run = read(
        {
            "openinference.span.kind": "RETRIEVER",
            "input.value": "refund policy",
            "retrieval.documents.0.document.id": "d1",
            "retrieval.documents.0.document.content": "Refunds take 5 days.",
            "retrieval.documents.0.document.score": 0.9,
            "retrieval.documents.0.document.metadata": '{"source": "kb"}',
            "retrieval.documents.1.document.content": "Second.",
            "retrieval.documents.1.document.metadata": "{not json",
            "output.value": '["Refunds take 5 days.", "Second."]',
            "output.mime_type": "application/json",
        }
    )
    assert run.run_type == "retriever"
    assert run.inputs == {"query": "refund policy"}
    assert run.outputs == {
        "documents": [
            {
                "page_content": "Refunds take 5 days.",
                "metadata": {"source": "kb", "id": "d1", "score": 0.9},
                "type": "Document",
            },
            {"page_content": "Second.", "metadata": {"metadata": "{not json"}, "type": "Document"},
        ]
    }
    assert any("document.metadata" in p for p in problems(run))
    assert raw(run) == {}
    assert_round_trip(run)


def test_retriever_output_value_that_says_more_stays_raw() -> None:
    run = read(
        {
            "openinference.span.kind": "RETRIEVER",
            "retrieval.documents.0.document.content": "only one",
            "output.value": '["one", "two"]',
            "output.mime_type": "application/json",
        }
    )
    assert run.outputs == {
        "documents": [{"page_content": "only one", "metadata": {}, "type": "Document"}]
    }
    assert raw(run) == {"output.value": '["one", "two"]', "output.mime_type": "application/json"}


def test_reranker_query_documents_model_and_top_k() -> None:
    run = read(
        {
            "openinference.span.kind": "RERANKER",
            "reranker.query": "refunds",
            "reranker.model_name": "rerank-v3",
            "reranker.top_k": 1,
            "reranker.input_documents.0.document.content": "a",
            "reranker.input_documents.1.document.content": "b",
            "reranker.output_documents.0.document.content": "b",
            "reranker.output_documents.0.document.score": 0.8,
        }
    )
    assert run.run_type == "retriever"
    assert run.inputs == {
        "query": "refunds",
        "documents": [
            {"page_content": "a", "metadata": {}, "type": "Document"},
            {"page_content": "b", "metadata": {}, "type": "Document"},
        ],
    }
    assert run.outputs == {
        "documents": [{"page_content": "b", "metadata": {"score": 0.8}, "type": "Document"}]
    }
    assert run.extra["invocation_params"] == {"top_k": 1, "model": "rerank-v3"}
    assert raw(run) == {"openinference.span.kind": "RERANKER"}  # RETRIEVER would come back


def test_tool_arguments_result_and_description() -> None:
    run = read(
        {
            "openinference.span.kind": "TOOL",
            "tool.name": "get_weather",
            "tool.description": "Weather now",
            "tool.parameters": '{"type": "object"}',
            "tool.id": "call_9",
            "input.value": '{"city": "Paris"}',
            "input.mime_type": "application/json",
            "output.value": "18C",
            "output.mime_type": "text/plain",
        },
        name="get_weather",
    )
    assert run.run_type == "tool"
    assert run.inputs == {"city": "Paris"}
    assert run.outputs == {"output": "18C"}
    assert metadata(run) == {
        "tool_description": "Weather now",
        "tool_parameters": {"type": "object"},
        "tool_call_id": "call_9",
    }
    assert raw(run) == {}
    assert_round_trip(run)
    other = read({"openinference.span.kind": "TOOL", "tool.name": "lookup"}, name="step")
    assert raw(other) == {"tool.name": "lookup"}  # not the run's name: kept as it came


def test_chain_values_are_json_or_text_by_mime_type() -> None:
    run = read(
        {
            "openinference.span.kind": "CHAIN",
            "input.value": '{"question": "q"}',
            "input.mime_type": "application/json",
            "output.value": '{"not": "parsed"}',  # no mime type: text
        }
    )
    assert run.inputs == {"question": "q"}
    assert run.outputs == {"output": '{"not": "parsed"}'}
    listed = read(
        {
            "openinference.span.kind": "CHAIN",
            "input.value": "[1, 2]",
            "input.mime_type": "application/json",
        }
    )
    assert listed.inputs == {"input": [1, 2]}


def test_context_session_user_metadata_tags_agent_graph_prompt_template() -> None:
    run = read(
        {
            "openinference.span.kind": "AGENT",
            "session.id": "s1",
            "user.id": "u1",
            "metadata": '{"tenant": "acme", "tier": 2}',
            "tag.tags": ["a", "b"],
            "agent.name": "planner",
            "graph.node.id": "n1",
            "graph.node.name": "plan",
            "graph.node.parent_id": "n0",
            "llm.prompt_template.template": "Hi {name}",
            "llm.prompt_template.variables": '{"name": "Ada"}',
            "llm.prompt_template.version": "v2",
        }
    )
    assert run.tags == ["a", "b"]
    assert metadata(run) == {
        "session_id": "s1",
        "user_id": "u1",
        "agent_name": "planner",
        "graph_node_id": "n1",
        "graph_node_name": "plan",
        "graph_node_parent_id": "n0",
        "prompt_template": "Hi {name}",
        "prompt_template_version": "v2",
        "prompt_template_variables": {"name": "Ada"},
        "tenant": "acme",
        "tier": 2,
        "observation_type": "agent",
    }
    assert raw(run) == {}
    json_tags = read({"openinference.span.kind": "CHAIN", "tag.tags": '["x"]'})
    assert json_tags.tags == ["x"]


def test_usage_on_chains_and_agents_is_an_aggregate_and_stays_raw() -> None:
    run = read(
        {
            "openinference.span.kind": "AGENT",
            "llm.token_count.prompt": 500,
            "llm.token_count.total": 600,
        }
    )
    assert run.usage is None
    assert raw(run) == {"llm.token_count.prompt": 500, "llm.token_count.total": 600}


def test_kinds_unknown_and_unmatched_stay_raw() -> None:
    unknown = read({"openinference.span.kind": "UNKNOWN"})
    assert raw(unknown) == {"openinference.span.kind": "UNKNOWN"} and not problems(unknown)
    guard = read({"openinference.span.kind": "GUARDRAIL"})
    assert guard.run_type == "chain"
    assert raw(guard) == {"openinference.span.kind": "GUARDRAIL"}  # CHAIN would come back
    bogus = read({"openinference.span.kind": "BANANA"})
    assert raw(bogus) == {"openinference.span.kind": "BANANA"}
    assert any("BANANA" in p for p in problems(bogus))


def test_malformed_values_are_kept_raw_and_reported() -> None:
    attrs = {
        **LLM,
        "llm.model_name": 42,
        "llm.invocation_parameters": "{broken",
        "llm.token_count.prompt": "many",
        "llm.token_count.completion": True,
        "metadata": "[1, 2]",
        "tag.tags": 7,
        "llm.tools.0.tool.json_schema": "{nope",
        "input.value": "{also broken",
        "input.mime_type": "application/json",
    }
    run = read(attrs)
    kept = raw(run)
    for key in (
        "llm.model_name",
        "llm.invocation_parameters",
        "llm.token_count.prompt",
        "llm.token_count.completion",
        "metadata",
        "tag.tags",
        "input.value",
    ):
        assert kept[key] == attrs[key], key
    text = " ".join(problems(run))
    for key in (
        "llm.model_name",
        "llm.invocation_parameters",
        "llm.token_count.prompt",
        "llm.token_count.completion",
        "metadata",
        "tag.tags",
        "tool.json_schema",
        "input.value",
    ):
        assert key in text, key
    assert run.inputs == {}
    assert run.extra["invocation_params"]["tools"] == ["{nope"]  # kept, as text


def test_huge_values_pass_through() -> None:
    big = "x" * 2_000_000
    run = read(
        {
            **LLM,
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": big,
            "llm.invocation_parameters": "{" + "x" * 5000,
        }
    )
    assert run.inputs["messages"][0]["content"] == big
    (problem,) = problems(run)
    assert "5001 chars" in problem or "chars>" in problem  # reported by size, not echoed
