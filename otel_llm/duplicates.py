"""Double instrumentation: one provider call recorded by two instrumentations.

With two instrumentations of the same client enabled (OpenInference and openai-v2, say),
one request becomes two nested LLM spans, and adding up their usage would count the
call twice. `is_duplicate_call` is the one rule that tells such a pair: the child
records the same call as its parent. Both runs are kept and shown; the child's usage is
counted once, in the parent's (the store keeps that decision in `runs.duplicate_of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from otel_llm.model import model_names

# Run types whose usage is their own (a provider call's); both runs must be of one.
CALL_TYPES = frozenset(("llm", "embedding"))
# The `extra.metadata` key that reads show on a duplicate: its parent's run id.
DUPLICATE_OF_KEY = "duplicate_of"


@dataclass(frozen=True, slots=True)
class Call:
    """What the rule compares of a run.

    Args:
        run_id / parent_run_id: the run and its parent.
        run_type: llm, embedding, chain, ...
        models: every name the run gives its model (request and response model).
        start_ns / end_ns: its time span (end None: still running).
        prompt_tokens / completion_tokens: its own usage.
    """

    run_id: str
    parent_run_id: str | None
    run_type: str
    models: frozenset[str]
    start_ns: int
    end_ns: int | None
    prompt_tokens: int | None
    completion_tokens: int | None


def is_duplicate_call(parent: Call, child: Call) -> bool:
    """Whether `child` records the same provider call as `parent`: the child of it, both
    of one call type, a model name in common, overlapping times, and the same prompt and
    completion tokens (some usage: a call with none has nothing to count twice)."""
    return (
        child.parent_run_id == parent.run_id
        and child.run_type == parent.run_type
        and child.run_type in CALL_TYPES
        and not parent.models.isdisjoint(child.models)
        and _overlap(parent, child)
        and (child.prompt_tokens, child.completion_tokens)
        == (parent.prompt_tokens, parent.completion_tokens)
        and (child.prompt_tokens is not None or child.completion_tokens is not None)
    )


_OPEN = 2**63  # the end of a run still running


def _overlap(a: Call, b: Call) -> bool:
    a_end = _OPEN if a.end_ns is None else a.end_ns
    b_end = _OPEN if b.end_ns is None else b.end_ns
    return a.start_ns <= b_end and b.start_ns <= a_end


def models_of(
    extra: Mapping[str, Any] | None, metadata: Mapping[str, Any] | None
) -> frozenset[str]:
    """The model names of a run from its `extra` and `extra.metadata` (kept apart in the
    store)."""
    source = dict(extra or {})
    if metadata is not None:
        source["metadata"] = metadata
    return frozenset(model_names(source))
