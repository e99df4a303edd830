"""The Langfuse reader: observation input/output per type, usage in every spelling,
levels, trace-level facts, metadata as the v3 and v5 SDKs write it."""

from __future__ import annotations

import json

import pytest

from otel_llm import SpanEvent, StatusCode
from otel_llm.model import ns_to_iso
from tests.conventions.helpers import T0, assert_round_trip, metadata, problems, raw, read

GEN = {"langfuse.observation.type": "generation"}


def test_generation_messages_model_parameters_usage_and_cost() -> None:
    run = read(
        {
            **GEN,
            "langfuse.observation.model.name": "claude-sonnet-4-5",
            "langfuse.observation.model.parameters": '{"max_tokens": 256, "temperature": 0.3}',
            "langfuse.observation.input": json.dumps(
                [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
            ),
            "langfuse.observation.output": '{"role": "assistant", "content": "Hello"}',
            # Anthropic style: "input" does not include the cache reads and writes.
            "langfuse.observation.usage_details": json.dumps(
                {
                    "input": 12,
                    "output": 15,
                    "cache_read_input_tokens": 100,
                    "cache_creation_input_tokens": 20,
                }
            ),
            "langfuse.observation.cost_details": (
                '{"input": 0.004, "output": 0.002, "total": 0.006}'
            ),
        }
    )
    assert run.run_type == "llm"
    assert run.inputs == {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    }
    assert run.outputs == {"messages": [{"role": "assistant", "content": "Hello"}]}
    assert metadata(run)["ls_model_name"] == "claude-sonnet-4-5"
    assert run.extra["invocation_params"] == {
        "max_tokens": 256,
        "temperature": 0.3,
        "model": "claude-sonnet-4-5",
    }
    assert run.usage == {
        "input_tokens": 132,
        "output_tokens": 15,
        "total_tokens": 147,
        "input_token_details": {"cache_read": 100, "cache_creation": 20},
        "input_cost": 0.004,
        "output_cost": 0.002,
        "total_cost": 0.006,
    }
    assert raw(run) == {}
    assert_round_trip(run)


def test_placeholder_model_parameters_stay_out_of_the_ls_keys() -> None:
    """The OpenAI wrapper reports an unset max_tokens as "Infinity": a parameter as
    sent, not a token limit."""
    run = read(
        {
            **GEN,
            "langfuse.observation.model.name": "gpt-4o-mini",
            "langfuse.observation.model.parameters": (
                '{"temperature": 1, "max_tokens": "Infinity", "top_p": 1}'
            ),
        }
    )
    assert run.extra["invocation_params"]["max_tokens"] == "Infinity"
    assert metadata(run)["ls_temperature"] == 1
    assert "ls_max_tokens" not in metadata(run)
    assert_round_trip(run)


def test_openai_usage_keeps_cached_tokens_inside_the_input() -> None:
    usage = {
        "prompt_tokens": 23,
        "completion_tokens": 9,
        "total_tokens": 32,
        "prompt_tokens_details": {"cached_tokens": 16, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 4, "audio_tokens": 0},
    }
    run = read({**GEN, "langfuse.observation.usage_details": json.dumps(usage)})
    assert run.usage == {
        "input_tokens": 23,
        "output_tokens": 9,
        "total_tokens": 32,
        "input_token_details": {"cache_read": 16, "audio": 0},
        "output_token_details": {"reasoning": 4, "audio": 0},
    }
    langfuse_style = read(
        {
            **GEN,
            "langfuse.observation.usage_details": json.dumps(
                {"input": 10, "output": 2, "input_cached_tokens": 30, "output_reasoning_tokens": 1}
            ),
        }
    )
    assert langfuse_style.usage == {
        "input_tokens": 40,
        "output_tokens": 2,
        "total_tokens": 42,
        "input_token_details": {"cache_read": 30},
        "output_token_details": {"reasoning": 1},
    }


def test_usage_with_unknown_or_bad_entries_stays_raw() -> None:
    for details in (
        '{"input": 1, "frobs": 2}',
        '{"input": "ten"}',
        '{"input": 1,',
        '{"prompt_tokens_details": {"weird": 1}}',
    ):
        run = read({**GEN, "langfuse.observation.usage_details": details})
        assert run.usage is None
        assert raw(run) == {"langfuse.observation.usage_details": details}
        assert problems(run)
    cost = read({**GEN, "langfuse.observation.cost_details": '{"input": "free"}'})
    assert raw(cost) == {"langfuse.observation.cost_details": '{"input": "free"}'}


def test_usage_on_spans_and_agents_is_an_aggregate() -> None:
    run = read(
        {
            "langfuse.observation.type": "agent",
            "langfuse.observation.usage_details": '{"input": 500}',
        }
    )
    assert run.usage is None
    assert raw(run) == {"langfuse.observation.usage_details": '{"input": 500}'}
    assert run.metadata["observation_type"] == "agent"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Hello there", {"messages": [{"role": "assistant", "content": "Hello there"}]}),
        (
            '[{"role": "assistant", "content": "a"}]',
            {"messages": [{"role": "assistant", "content": "a"}]},
        ),
        ('{"text": "x"}', {"text": "x"}),
        ("[1, 2]", {"output": [1, 2]}),
    ],
)
def test_generation_output_shapes(value: str, expected: dict[str, object]) -> None:
    assert read({**GEN, "langfuse.observation.output": value}).outputs == expected


def test_generation_input_shapes() -> None:
    assert read({**GEN, "langfuse.observation.input": "Say hi"}).inputs == {
        "messages": [{"role": "user", "content": "Say hi"}]
    }
    request = {"messages": [{"role": "user", "content": "x"}], "tools": []}
    assert read({**GEN, "langfuse.observation.input": json.dumps(request)}).inputs == request
    parts = [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    assert read({**GEN, "langfuse.observation.input": json.dumps(parts)}).inputs == {
        "messages": [{"role": "user", "content": "hi"}]
    }


def test_embedding_retriever_tool_and_span_shapes() -> None:
    emb = read(
        {
            "langfuse.observation.type": "embedding",
            "langfuse.observation.input": '["a", "b"]',
            "langfuse.observation.output": "[[0.1, 0.2], [0.3, 0.4]]",
            "langfuse.observation.usage_details": '{"input": 4}',
        }
    )
    assert emb.run_type == "embedding"
    assert emb.inputs == {"input": ["a", "b"]}
    assert emb.outputs == {"embeddings": [[0.1, 0.2], [0.3, 0.4]]}
    assert emb.usage == {"input_tokens": 4, "total_tokens": 4}
    assert read(
        {"langfuse.observation.type": "embedding", "langfuse.observation.input": "one"}
    ).inputs == {"input": ["one"]}
    ret = read(
        {
            "langfuse.observation.type": "retriever",
            "langfuse.observation.input": "refunds",
            "langfuse.observation.output": json.dumps(
                ["plain", {"page_content": "doc", "metadata": {"id": "d"}}]
            ),
        }
    )
    assert ret.inputs == {"query": "refunds"}
    assert ret.outputs == {
        "documents": [
            {"page_content": "plain", "metadata": {}, "type": "Document"},
            {"type": "Document", "page_content": "doc", "metadata": {"id": "d"}},
        ]
    }
    tool = read(
        {
            "langfuse.observation.type": "tool",
            "langfuse.observation.input": '{"city": "Paris"}',
            "langfuse.observation.output": '{"temp": 18}',
        }
    )
    assert (tool.inputs, tool.outputs) == ({"city": "Paris"}, {"output": {"temp": 18}})
    span = read(
        {
            "langfuse.observation.type": "span",
            "langfuse.observation.input": "x",
            "langfuse.observation.output": '{"y": 1}',
        }
    )
    assert (span.inputs, span.outputs) == ({"input": "x"}, {"y": 1})
    assert raw(span) == {}  # "span" is what run_to_span writes back


def test_metadata_trace_facts_and_identity() -> None:
    run = read(
        {
            "langfuse.observation.type": "span",
            "langfuse.observation.metadata.route": '"fast"',  # v5 encodes strings too
            "langfuse.observation.metadata.attempt": "1",
            "langfuse.observation.metadata.note": "plain text",  # v3 wrote strings raw
            "langfuse.trace.metadata.plan": '"pro"',
            "langfuse.trace.name": "plan-trip",
            "langfuse.trace.input": '{"q": 1}',
            "langfuse.trace.output": "done",
            "langfuse.trace.tags": ["a", "b"],
            "langfuse.user.id": "u1",
            "session.id": "s1",
            "langfuse.environment": "prod",
            "langfuse.release": "v1",
            "langfuse.version": "3",
            "langfuse.observation.prompt.name": "qa",
            "langfuse.observation.prompt.version": 4,
        }
    )
    assert run.inputs == {}  # trace-level input is not this run's
    assert run.tags == ["a", "b"]
    assert metadata(run) == {
        "user_id": "u1",
        "session_id": "s1",
        "trace_name": "plan-trip",
        "trace_input": {"q": 1},
        "trace_output": "done",
        "prompt_name": "qa",
        "prompt_version": 4,
        "environment": "prod",
        "release": "v1",
        "version": 3,
        "route": "fast",
        "attempt": 1,
        "note": "plain text",
        "plan": "pro",
    }
    assert raw(run) == {}
    nondict = read({"langfuse.observation.metadata": '"just a note"'})
    assert metadata(nondict) == {"metadata": "just a note"}


def test_completion_start_time_becomes_the_first_token_event() -> None:
    start = T0 + 420_000_000
    run = read(
        {
            **GEN,
            "langfuse.observation.completion_start_time": json.dumps(
                ns_to_iso(start).replace("+00:00", "Z")
            ),
        }
    )
    assert run.events == [{"name": "new_token", "time": ns_to_iso(start)}]
    assert raw(run) == {}
    assert_round_trip(run)
    bad = read({**GEN, "langfuse.observation.completion_start_time": "yesterday"})
    assert bad.events == []
    assert raw(bad) == {"langfuse.observation.completion_start_time": "yesterday"}
    assert problems(bad)


def test_error_level_gives_the_error_and_stays_raw() -> None:
    attrs = {
        "langfuse.observation.type": "guardrail",
        "langfuse.observation.level": "ERROR",
        "langfuse.observation.status_message": "PII detector unavailable",
    }
    run = read(attrs)  # v3 did not set the span status
    assert run.error == "PII detector unavailable"
    assert raw(run) == attrs  # guardrail: not what run_to_span writes back either
    assert_round_trip(run)
    event = SpanEvent("exception", T0, {"exception.type": "KeyError", "exception.message": "'k'"})
    with_event = read(
        {**GEN, "langfuse.observation.level": "ERROR"}, events=[event], status=StatusCode.ERROR
    )
    assert with_event.error == "KeyError: 'k'"


def test_other_levels_and_messages_are_metadata() -> None:
    run = read(
        {"langfuse.observation.level": "WARNING", "langfuse.observation.status_message": "slow"}
    )
    assert metadata(run) == {"level": "WARNING", "status_message": "slow"}
    assert raw(run) == {}
    default = read({"langfuse.observation.level": "DEFAULT"})
    assert metadata(default) == {} and raw(default) == {}
    bogus = read({"langfuse.observation.level": "LOUD"})
    assert raw(bogus) == {"langfuse.observation.level": "LOUD"} and problems(bogus)


def test_types_unknown_or_not_written_back_stay_raw() -> None:
    chain = read({"langfuse.observation.type": "chain"})
    assert chain.run_type == "chain" and raw(chain) == {"langfuse.observation.type": "chain"}
    bogus = read({"langfuse.observation.type": "wizard"})
    assert raw(bogus) == {"langfuse.observation.type": "wizard"}
    assert any("wizard" in p for p in problems(bogus))


def test_malformed_values_never_raise() -> None:
    run = read(
        {
            **GEN,
            "langfuse.observation.model.name": 7,
            "langfuse.observation.model.parameters": "[1, 2]",
            "langfuse.trace.tags": "not-a-list",
            "langfuse.observation.input": "{" * 50_000,
        }
    )
    assert run.inputs == {"messages": [{"role": "user", "content": "{" * 50_000}]}
    assert set(raw(run)) == {
        "langfuse.observation.model.name",
        "langfuse.observation.model.parameters",
        "langfuse.trace.tags",
    }
    assert len(problems(run)) == 3
