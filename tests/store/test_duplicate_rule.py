"""The double-instrumentation rule (`otel_llm.duplicates`) case by case: each condition
of `is_duplicate_call`, alone, turns a duplicate into a distinct call."""

from __future__ import annotations

import dataclasses

import pytest

from otel_llm.duplicates import Call, is_duplicate_call, models_of

PARENT = Call(
    run_id="p",
    parent_run_id="root",
    run_type="llm",
    models=frozenset({"gpt-4o-mini", "gpt-4o-mini-2024-07-18"}),
    start_ns=100,
    end_ns=200,
    prompt_tokens=23,
    completion_tokens=9,
)
CHILD = dataclasses.replace(
    PARENT, run_id="c", parent_run_id="p", models=frozenset({"gpt-4o-mini"}), start_ns=110
)

NOT_THE_SAME_CALL = {
    "not its child": {"parent_run_id": "other"},
    "not a provider call": {"run_type": "chain"},
    "another call type": {"run_type": "embedding"},
    "another model": {"models": frozenset({"gpt-4o"})},
    "no model named": {"models": frozenset()},
    "before the parent": {"start_ns": 10, "end_ns": 90},
    "after the parent": {"start_ns": 201, "end_ns": 300},
    "other prompt tokens": {"prompt_tokens": 24},
    "other completion tokens": {"completion_tokens": 10},
    "no usage": {"prompt_tokens": None, "completion_tokens": None},
}


def test_a_nested_record_of_the_same_call() -> None:
    assert is_duplicate_call(PARENT, CHILD)
    # Still running (no end yet): the times overlap from its start.
    assert is_duplicate_call(PARENT, dataclasses.replace(CHILD, end_ns=None))
    assert is_duplicate_call(dataclasses.replace(PARENT, end_ns=None), CHILD)
    embedding = dataclasses.replace(CHILD, run_type="embedding", completion_tokens=None)
    parent = dataclasses.replace(PARENT, run_type="embedding", completion_tokens=None)
    assert is_duplicate_call(parent, embedding)
    assert not is_duplicate_call(CHILD, PARENT)  # the parent is not its child's duplicate


@pytest.mark.parametrize("change", list(NOT_THE_SAME_CALL))
def test_any_difference_makes_another_call(change: str) -> None:
    child = dataclasses.replace(CHILD, **NOT_THE_SAME_CALL[change])  # type: ignore[arg-type]
    assert not is_duplicate_call(PARENT, child)


def test_models_are_read_from_extra_and_metadata() -> None:
    extra = {"invocation_params": {"model": "gpt-4o-mini"}}
    metadata = {"ls_model_name": "gpt-4o-mini-2024-07-18"}
    assert models_of(extra, metadata) == {"gpt-4o-mini", "gpt-4o-mini-2024-07-18"}
    assert models_of(None, None) == frozenset()
