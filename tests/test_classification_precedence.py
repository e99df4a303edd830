"""The classification precedence table, tested where two conventions disagree: each row
is a span whose kind keys name different types, and the higher row must win."""

from __future__ import annotations

import pytest

from otel_llm.convert import observation_of, spans_to_runs
from otel_llm.model import SpanRecord

# (higher convention's key and value, lower convention's key and value, run_type, type)
DISAGREEMENTS = [
    (
        ("otel_llm.observation.type", "tool"),
        ("langfuse.observation.type", "generation"),
        "tool",
        "tool",
    ),
    (
        ("langfuse.observation.type", "retriever"),
        ("langsmith.span.kind", "llm"),
        "retriever",
        "retriever",
    ),
    (("langsmith.span.kind", "tool"), ("mlflow.spanType", '"LLM"'), "tool", "tool"),
    (
        ("mlflow.spanType", '"RETRIEVER"'),
        ("openinference.span.kind", "LLM"),
        "retriever",
        "retriever",
    ),
    (
        ("openinference.span.kind", "LLM"),
        ("gen_ai.operation.name", "execute_tool"),
        "llm",
        "generation",
    ),
    (("openinference.span.kind", "TOOL"), ("gen_ai.operation.name", "chat"), "tool", "tool"),
    (
        ("gen_ai.operation.name", "execute_tool"),
        ("traceloop.span.kind", "workflow"),
        "tool",
        "tool",
    ),
    (("traceloop.span.kind", "tool"), ("llm.request.type", "chat"), "tool", "tool"),
    (
        ("llm.request.type", "embedding"),
        ("ai.operationId", "ai.generateText.doGenerate"),
        "embedding",
        "embedding",
    ),
]


def classify(attributes: dict[str, str]) -> tuple[str, str]:
    span = SpanRecord(
        trace_id=b"\x01" * 16,
        span_id=b"\x02" * 8,
        name="step",
        start_time_unix_nano=1,
        end_time_unix_nano=2,
        attributes=attributes,
    )
    (run,) = spans_to_runs([span])
    return run.run_type, observation_of(run).value


@pytest.mark.parametrize(("higher", "lower", "run_type", "observation"), DISAGREEMENTS)
def test_the_higher_row_wins(
    higher: tuple[str, str], lower: tuple[str, str], run_type: str, observation: str
) -> None:
    assert classify(dict([higher, lower])) == (run_type, observation)
    # ...whatever the order of the attributes
    assert classify(dict([lower, higher])) == (run_type, observation)


@pytest.mark.parametrize(("higher", "lower", "run_type", "observation"), DISAGREEMENTS)
def test_each_lower_row_alone_classifies_otherwise(
    higher: tuple[str, str], lower: tuple[str, str], run_type: str, observation: str
) -> None:
    """So each row above really is a disagreement, not two ways of saying one thing."""
    assert classify(dict([lower])) != (run_type, observation)
