"""What the convention writers put on a span, as a backend reads it (issue 15 section 5):
retrieved documents, request and response models, output messages with their finish
reasons, OpenInference messages, and our classification over contradicting attributes."""

from __future__ import annotations

import json
import uuid
from typing import Any

from otel_llm import Run, run_to_span
from otel_llm.conventions.native import REPLACED_KEY
from otel_llm.ids import dotted_order
from tests.conventions.helpers import T0, assert_round_trip, raw, read

RUN_ID = uuid.UUID("0192f1a8-5c1e-7000-8000-00000000abcd")


def _run(
    run_type: str,
    inputs: dict[str, Any],
    outputs: dict[str, Any] | None,
    extra: dict[str, Any] | None = None,
) -> Run:
    return Run(
        id=RUN_ID,
        name=run_type,
        run_type=run_type,
        trace_id=RUN_ID,
        dotted_order=dotted_order(None, T0, RUN_ID),
        start_time_ns=T0,
        end_time_ns=T0 + 1_000_000,
        inputs=inputs,
        outputs=outputs,
        extra=extra or {},
    )


def _attrs(run: Run, *families: str) -> dict[str, Any]:
    emit = families or ("gen_ai", "openinference", "langsmith", "langfuse")
    return dict(run_to_span(run, emit).attributes)


def test_retriever_documents_are_written_as_openinference_documents() -> None:
    run = _run(
        "retriever",
        {"query": "capital of France"},
        {
            "documents": [
                {
                    "page_content": "Paris is the capital.",
                    "type": "Document",
                    "metadata": {"id": "doc-1", "score": 0.92, "source": "wiki"},
                },
                {"page_content": "Lyon is a city.", "type": "Document", "metadata": {}},
            ]
        },
    )
    a = _attrs(run)
    assert a["openinference.span.kind"] == "RETRIEVER"
    assert a["retrieval.documents.0.document.content"] == "Paris is the capital."
    assert a["retrieval.documents.0.document.id"] == "doc-1"
    assert a["retrieval.documents.0.document.score"] == 0.92
    assert json.loads(a["retrieval.documents.0.document.metadata"]) == {
        "id": "doc-1",
        "score": 0.92,
        "source": "wiki",
    }
    assert a["retrieval.documents.1.document.content"] == "Lyon is a city."
    assert "retrieval.documents.1.document.id" not in a
    assert "retrieval.documents.1.document.metadata" not in a
    # The official family has its own place for them.
    assert json.loads(a["gen_ai.retrieval.documents"])[0]["content"] == "Paris is the capital."
    assert_round_trip(run)


def _chat(outputs: dict[str, Any] | None, metadata: dict[str, Any] | None = None) -> Run:
    md = {"ls_model_name": "gpt-4o-mini", "ls_provider": "openai", **(metadata or {})}
    return _run(
        "llm",
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Capital of France?"},
            ]
        },
        outputs,
        {"metadata": md, "invocation_params": {"model": "gpt-4o-mini"}},
    )


def test_request_and_response_models_in_every_family() -> None:
    run = _chat(
        {"messages": [{"role": "assistant", "content": "Paris."}]},
        {"response_model": "gpt-4o-mini-2024-07-18"},
    )
    a = _attrs(run)
    assert a["gen_ai.request.model"] == "gpt-4o-mini"
    assert a["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    # One model field: the model that answered.
    assert a["llm.model_name"] == "gpt-4o-mini-2024-07-18"
    assert a["langfuse.observation.model.name"] == "gpt-4o-mini-2024-07-18"
    assert a["langsmith.metadata.ls_model_name"] == "gpt-4o-mini"
    assert a["langsmith.metadata.response_model"] == "gpt-4o-mini-2024-07-18"
    assert_round_trip(run)


def test_without_a_response_model_the_request_model_is_written() -> None:
    run = _chat({"messages": [{"role": "assistant", "content": "Paris."}]})
    a = _attrs(run)
    assert a["gen_ai.request.model"] == "gpt-4o-mini"
    assert "gen_ai.response.model" not in a
    assert a["llm.model_name"] == "gpt-4o-mini"
    assert a["langfuse.observation.model.name"] == "gpt-4o-mini"
    assert_round_trip(run)


def test_model_named_only_by_parameters_reaches_langsmith() -> None:
    run = _run(
        "llm",
        {"messages": [{"role": "user", "content": "hi"}]},
        None,
        {"invocation_params": {"model": "claude-sonnet-4-5"}},
    )
    assert _attrs(run)["langsmith.metadata.ls_model_name"] == "claude-sonnet-4-5"
    assert_round_trip(run)


def test_output_messages_carry_a_finish_reason() -> None:
    default = _attrs(_chat({"messages": [{"role": "assistant", "content": "Paris."}]}))
    assert json.loads(default["gen_ai.output.messages"])[0]["finish_reason"] == "stop"
    run = _chat(
        {"messages": [{"role": "assistant", "content": "Paris."}]}, {"finish_reasons": ["length"]}
    )
    assert json.loads(_attrs(run)["gen_ai.output.messages"])[0]["finish_reason"] == "length"
    assert_round_trip(run)
    own = _chat(
        {"messages": [{"role": "assistant", "content": "x", "finish_reason": "tool_calls"}]}
    )
    assert json.loads(_attrs(own)["gen_ai.output.messages"])[0]["finish_reason"] == "tool_calls"
    # gen_ai alone: the default reason is not the run's, so the exact I/O is written too.
    only = _attrs(_chat({"messages": [{"role": "assistant", "content": "Paris."}]}), "gen_ai")
    assert only["otel_llm.io.verbatim"] is True
    assert_round_trip(run)


def test_openinference_messages_with_tool_calls_and_tool_results() -> None:
    run = _run(
        "llm",
        {
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                        }
                    ],
                },
                {"role": "tool", "content": "sunny", "tool_call_id": "call_1"},
            ]
        },
        {"messages": [{"role": "assistant", "content": "It is sunny."}]},
    )
    a = _attrs(run)
    assert a["llm.input_messages.0.message.role"] == "user"
    assert a["llm.input_messages.0.message.content"] == "Weather in Paris?"
    assert a["llm.input_messages.1.message.role"] == "assistant"
    call = "llm.input_messages.1.message.tool_calls.0.tool_call."
    assert a[call + "id"] == "call_1"
    assert a[call + "function.name"] == "weather"
    assert json.loads(a[call + "function.arguments"]) == {"city": "Paris"}
    assert a["llm.input_messages.2.message.role"] == "tool"
    assert a["llm.input_messages.2.message.tool_call_id"] == "call_1"
    assert a["llm.input_messages.2.message.content"] == "sunny"
    assert a["llm.output_messages.0.message.role"] == "assistant"
    assert a["llm.output_messages.0.message.content"] == "It is sunny."
    assert_round_trip(run)


def test_traceable_llm_outputs_become_messages() -> None:
    """LangSmith `@traceable(run_type="llm")` runs: an OpenAI completion, a plain
    `{"output": text}` or one assistant message."""
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "length",
                "logprobs": None,
                "message": {"role": "assistant", "content": "Paris is", "refusal": None},
            }
        ],
    }
    for outputs, text, reason in (
        (completion, "Paris is", "length"),
        ({"output": "Paris."}, "Paris.", "stop"),
        ({"output": {"role": "assistant", "content": "Paris!"}}, "Paris!", "stop"),
        ({"role": "assistant", "content": "Paris?"}, "Paris?", "stop"),
    ):
        run = _chat(outputs)
        a = _attrs(run)
        assert a["llm.input_messages.1.message.content"] == "Capital of France?"
        assert a["llm.output_messages.0.message.role"] == "assistant"
        assert a["llm.output_messages.0.message.content"] == text
        (m,) = json.loads(a["gen_ai.output.messages"])
        assert m["finish_reason"] == reason
        assert json.loads(a["output.value"]) == outputs  # the exact outputs, still
        assert_round_trip(run)


def test_a_contradicting_attribute_is_overwritten_by_our_classification() -> None:
    """A LangSmith retriever arriving with gen_ai.operation.name = embeddings: the span
    we write says retrieval (a gen_ai-only backend shows a retriever), and the run keeps
    the original value."""
    run = read(
        {
            "langsmith.span.kind": "retriever",
            "gen_ai.operation.name": "embeddings",
            "app.key": "kept",
        }
    )
    assert run.run_type == "retriever"
    assert raw(run) == {"gen_ai.operation.name": "embeddings", "app.key": "kept"}
    a = _attrs(run)
    assert a["gen_ai.operation.name"] == "retrieval"
    assert a["app.key"] == "kept"  # what we do not write is kept as it came
    assert json.loads(a[REPLACED_KEY]) == {"gen_ai.operation.name": "embeddings"}
    assert_round_trip(run)
    # With a family that does not write the key, the original is kept as it came.
    assert _attrs(run, "langsmith")["gen_ai.operation.name"] == "embeddings"


def test_traceable_retriever_documents_are_written() -> None:
    """LangSmith `@traceable(run_type="retriever")` returns a list: `{"output": [docs]}`."""
    run = _run(
        "retriever",
        {"query": "refund"},
        {
            "output": [
                {
                    "page_content": "Refunds take 5-10 days.",
                    "type": "Document",
                    "metadata": {"id": "kb-7", "score": 0.83},
                }
            ]
        },
    )
    a = _attrs(run)
    assert a["retrieval.documents.0.document.content"] == "Refunds take 5-10 days."
    assert a["retrieval.documents.0.document.id"] == "kb-7"
    assert a["retrieval.documents.0.document.score"] == 0.83
    assert json.loads(a["gen_ai.retrieval.documents"])[0]["id"] == "kb-7"
    assert_round_trip(run)
