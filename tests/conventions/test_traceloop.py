"""The Traceloop / OpenLLMetry reader: decorator spans, association properties, legacy keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conventions.helpers import assert_round_trip, metadata, problems, raw, read


def entity(
    kind: str, name: str, args: list[Any], kwargs: dict[str, Any], output: Any, **extra: Any
) -> dict[str, Any]:
    return {
        "traceloop.span.kind": kind,
        "traceloop.entity.name": name,
        "traceloop.entity.input": json.dumps({"args": args, "kwargs": kwargs}),
        "traceloop.entity.output": json.dumps(output),
        **extra,
    }


@pytest.mark.parametrize(
    ("kind", "run_type", "observation"),
    [
        ("workflow", "chain", None),
        ("task", "chain", None),
        ("agent", "chain", "agent"),
        ("tool", "tool", None),
    ],
)
def test_decorator_spans(kind: str, run_type: str, observation: str | None) -> None:
    run = read(entity(kind, "plan", ["Paris"], {"days": 3}, {"ok": True}), name=f"plan.{kind}")
    assert (run.name, run.run_type) == ("plan", run_type)
    assert run.metadata.get("observation_type") == observation
    assert run.inputs == {"days": 3, "args": ["Paris"]}
    assert run.outputs == ({"output": {"ok": True}} if kind == "tool" else {"ok": True})
    assert raw(run) == {} and problems(run) == []
    assert run.extra["otel"]["name"] == f"plan.{kind}"
    assert_round_trip(run)


def test_inputs_without_positional_arguments_are_the_keyword_arguments() -> None:
    run = read(entity("task", "rank", [], {"k": 3}, ["a", "b"]))
    assert run.inputs == {"k": 3}
    assert run.outputs == {"output": ["a", "b"]}


def test_entity_input_of_another_shape_is_taken_as_it_is() -> None:
    """Its LangChain instrumentor writes {"inputs": ..., "tags": ..., "metadata": ...}."""
    run = read(
        {
            "traceloop.span.kind": "task",
            "traceloop.entity.input": json.dumps({"inputs": {"q": "x"}, "tags": []}),
            "traceloop.entity.output": '"plain"',
        }
    )
    assert run.inputs == {"inputs": {"q": "x"}, "tags": []}
    assert run.outputs == {"output": "plain"}


def test_workflow_and_association_properties_are_metadata() -> None:
    run = read(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "traceloop.workflow.name": "plan_trip",
            "traceloop.entity.path": "plan_trip.weather",
            "traceloop.association.properties.user_id": "u-1",
            "traceloop.association.properties.session_id": "s-1",
            "traceloop.association.properties.customer_id": "c-9",
        }
    )
    assert run.run_type == "llm"  # the workflow name is context, not a kind
    assert {k: v for k, v in metadata(run).items() if not k.startswith("ls_")} == {
        "workflow_name": "plan_trip",
        "entity_path": "plan_trip.weather",
        "user_id": "u-1",
        "session_id": "s-1",
        "customer_id": "c-9",
    }
    assert raw(run) == {}


def test_a_name_another_reader_gave_wins_and_the_entity_name_stays_raw() -> None:
    run = read(
        {
            "traceloop.span.kind": "tool",
            "traceloop.entity.name": "lookup",
            "gen_ai.tool.name": "search",
        },
        name="search",
    )
    assert run.name == "search"
    assert raw(run) == {"traceloop.entity.name": "lookup"}


def test_legacy_request_keys_usage_and_streaming() -> None:
    run = read(
        {
            "llm.request.type": "chat",
            "gen_ai.system": "OpenAI",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 26,
            "gen_ai.usage.completion_tokens": 9,
            "llm.usage.total_tokens": 35,
            "gen_ai.usage.cache_read_input_tokens": 16,
            "llm.is_streaming": True,
            "llm.frequency_penalty": 0.5,
            "llm.presence_penalty": 0.1,
            "llm.top_k": 4,
            "llm.chat.stop_sequences": '["\\n"]',
            "llm.user": "u-7",
            "llm.request.functions.0.name": "get_weather",
            "llm.request.functions.0.description": "Weather now",
            "llm.request.functions.0.parameters": '{"type": "object"}',
            "llm.request.functions.1.name": "get_time",
        }
    )
    assert run.run_type == "llm"
    assert run.usage == {
        "input_tokens": 26,
        "output_tokens": 9,
        "total_tokens": 35,
        "input_token_details": {"cache_read": 16},
    }
    assert run.extra["invocation_params"] == {
        "stream": True,
        "frequency_penalty": 0.5,
        "presence_penalty": 0.1,
        "top_k": 4,
        "stop": ["\n"],
        "model": "gpt-4o-mini",
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "description": "Weather now",
                "parameters": {"type": "object"},
            },
            {"type": "function", "name": "get_time"},
        ],
    }
    assert run.metadata["user_id"] == "u-7"
    assert run.metadata["ls_provider"] == "openai"
    assert raw(run) == {}
    assert_round_trip(run)


def test_current_release_extras() -> None:
    run = read(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "m",
            "gen_ai.is_streaming": False,
            "gen_ai.usage.input_tokens": 4,
            "gen_ai.usage.total_tokens": 6,
            "gen_ai.usage.reasoning_tokens": 2,
        }
    )
    assert run.extra["invocation_params"]["stream"] is False
    assert run.usage == {
        "input_tokens": 4,
        "total_tokens": 6,
        "output_token_details": {"reasoning": 2},
    }


def test_total_tokens_on_a_workflow_are_an_aggregate_and_stay_raw() -> None:
    run = read({"traceloop.span.kind": "workflow", "llm.usage.total_tokens": 500})
    assert run.usage is None
    assert raw(run) == {"llm.usage.total_tokens": 500}


@pytest.mark.parametrize(
    ("attrs", "problem"),
    [
        (
            {"traceloop.span.kind": "workflow", "traceloop.entity.input": "{args"},
            "traceloop.entity.input is not valid JSON",
        ),
        (
            {"traceloop.span.kind": "workflow", "traceloop.entity.output": "not json"},
            "traceloop.entity.output is not valid JSON",
        ),
        (
            {"traceloop.span.kind": "workflow", "traceloop.entity.name": 7},
            "traceloop.entity.name is not a string",
        ),
        (
            {
                "llm.request.type": "chat",
                "gen_ai.request.model": "m",
                "llm.usage.total_tokens": "lots",
            },
            "llm.usage.total_tokens is not a number",
        ),
        ({"traceloop.span.kind": "sorcery"}, "traceloop.span.kind is not a known value"),
        ({"llm.request.type": "telepathy"}, "llm.request.type is not a known value"),
    ],
)
def test_malformed_values_are_kept_raw_and_reported(attrs: dict[str, Any], problem: str) -> None:
    run = read(attrs)
    bad = next(iter(k for k in attrs if problem.startswith(k)))
    assert raw(run)[bad] == attrs[bad]
    assert len(problems(run)) == 1 and problems(run)[0].startswith(problem)
    assert_round_trip(run)


def test_a_kind_that_disagrees_with_the_classification_stays_raw() -> None:
    run = read(
        {
            "openinference.span.kind": "LLM",
            "traceloop.span.kind": "task",
            "llm.request.type": "chat",
        }
    )
    assert run.run_type == "llm"
    assert raw(run) == {"traceloop.span.kind": "task"}
    assert problems(run) == []


def test_huge_entity_values() -> None:
    text = "é" * 2_000_000
    run = read(entity("task", "big", [text], {}, {"echo": text}))
    assert run.inputs == {"args": [text]} and run.outputs == {"echo": text}
    cut = read(
        {
            "traceloop.span.kind": "task",
            "traceloop.entity.output": json.dumps({"echo": text})[:1_000_000],
        }
    )
    assert raw(cut)["traceloop.entity.output"].startswith('{"echo"')
    assert problems(cut)[0].endswith(" chars>")  # reported by size, not echoed
