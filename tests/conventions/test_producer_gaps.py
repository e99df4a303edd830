"""Gaps real producers showed (issue: every part of an LLM trace): usage only in a
response, MLflow's span types written as the GenAI operation name, OpenInference's first
token event, Langfuse's usage_details."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from otel_llm import InMemoryRunSink, RunSpanProcessor
from otel_llm.convert import observation_of, spans_to_runs
from otel_llm.model import Run, SpanEvent, SpanRecord
from otel_llm.store import SQLiteStore

CHAT_COMPLETION = {
    "id": "c",
    "object": "chat.completion",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}
ANTHROPIC_MESSAGE = {
    "id": "m",
    "type": "message",
    "role": "assistant",
    "model": "claude",
    "content": [{"type": "text", "text": "hi"}],
    "usage": {"input_tokens": 11, "output_tokens": 4},
}


def one(attributes: dict[str, object], events: list[SpanEvent] | None = None) -> Run:
    (run,) = spans_to_runs(
        [
            SpanRecord(
                trace_id=b"\x01" * 16,
                span_id=b"\x02" * 8,
                name="step",
                start_time_unix_nano=1000,
                end_time_unix_nano=10**9,
                attributes=attributes,
                events=events or [],
            )
        ]
    )
    return run


@pytest.mark.parametrize(
    ("response", "usage"),
    [
        (CHAT_COMPLETION, {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}),
        (ANTHROPIC_MESSAGE, {"input_tokens": 11, "output_tokens": 4, "total_tokens": 15}),
    ],
)
def test_usage_from_the_response_when_no_usage_attribute(
    response: dict[str, object], usage: dict[str, int]
) -> None:
    run = one({"mlflow.spanType": '"CHAT_MODEL"', "mlflow.spanOutputs": json.dumps(response)})
    assert run.run_type == "llm" and run.usage == usage
    # A usage attribute, where there is one, wins over the response.
    run = one(
        {
            "mlflow.spanType": '"LLM"',
            "mlflow.spanOutputs": json.dumps(response),
            "mlflow.chat.tokenUsage": json.dumps(
                {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
            ),
        }
    )
    assert run.usage == {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}


def test_a_non_generation_gets_no_usage_from_its_outputs() -> None:
    run = one({"mlflow.spanType": '"TOOL"', "mlflow.spanOutputs": json.dumps(CHAT_COMPLETION)})
    assert run.run_type == "tool" and run.usage is None


@pytest.mark.parametrize(
    ("operation", "run_type", "observation"),
    [
        ("RETRIEVER", "retriever", "retriever"),
        ("retriever", "retriever", "retriever"),
        ("RERANKER", "retriever", "retriever"),
        ("EMBEDDING", "embedding", "embedding"),
        ("CHAT_MODEL", "llm", "generation"),
        ("ChatModel", "llm", "generation"),
        ("LLM", "llm", "generation"),
        ("TOOL", "tool", "tool"),
        ("AGENT", "chain", "agent"),
        ("PARSER", "parser", "span"),
        ("retrieval", "retriever", "retriever"),
        ("invoke_workflow", "chain", "span"),
        ("create_agent", "chain", "agent"),
        ("plan", "chain", "span"),
    ],
)
def test_operation_names_of_mlflow_and_the_newer_semconv(
    operation: str, run_type: str, observation: str
) -> None:
    run = one({"gen_ai.operation.name": operation})
    assert (run.run_type, observation_of(run).value) == (run_type, observation)


def test_the_processor_keeps_an_mlflow_retriever_span_by_default() -> None:
    sink = InMemoryRunSink()
    provider = TracerProvider()
    provider.add_span_processor(RunSpanProcessor(sink=sink, redaction=False))
    with provider.get_tracer("t").start_as_current_span(
        "search", attributes={"gen_ai.operation.name": "RETRIEVER"}
    ):
        pass
    with provider.get_tracer("t").start_as_current_span("GET /health"):
        pass
    provider.shutdown()
    assert [(r.name, r.run_type) for r in sink.get_finished_runs()] == [("search", "retriever")]


def test_openinference_first_token_event_sets_the_first_token_time(tmp_path: Path) -> None:
    run = one(
        {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o"},
        [SpanEvent(name="First Token Stream Event", time_unix_nano=250_000_000)],
    )
    with SQLiteStore(tmp_path / "s.db") as store:
        store.ingest([run], "p")
        stored = store.get_run(run.id)
    assert stored is not None
    assert stored["first_token_time"] == "1970-01-01T00:00:00.250000+00:00"


def test_langfuse_usage_details() -> None:
    run = one(
        {
            "langfuse.observation.type": "generation",
            "langfuse.observation.model.name": "gpt-4o",
            "langfuse.observation.usage_details": json.dumps(
                {"input": 10, "output": 3, "total": 13}
            ),
        }
    )
    assert run.usage == {"input_tokens": 10, "output_tokens": 3, "total_tokens": 13}
