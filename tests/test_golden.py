"""Golden traces: real instrumentations' spans, as they arrive on the wire, become exactly
the runs checked in next to them, and those runs survive run -> span -> run.

Every case is a folder `tests/golden/<convention>/<case>/` with `request.json` (an
OTLP/JSON ExportTraceServiceRequest, recorded by the case's `record.py`), optionally the
producer's log records in `logs.json`, and `expected_runs.json` (checked by hand), plus
`expected_feedback.json` where its runs carry evaluations (tests/golden/cases.py).
`python tests/golden/regen.py` shows how the current code's output differs from the
expected files; `--write` accepts it.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from otel_llm import runs_to_spans, spans_to_runs
from otel_llm.otlp import decode_otlp_protobuf, encode_otlp_protobuf
from otel_llm.sessions import session_of
from tests.golden.cases import GOLDEN, as_json, case_feedback, case_runs, cases

CASES = cases()


def _case_id(case: Path) -> str:
    return str(case.relative_to(GOLDEN))


def test_every_convention_has_a_case() -> None:
    conventions = {
        "gen_ai",
        "openinference",
        "traceloop",
        "langsmith",
        "langfuse",
        "mlflow",
        "vercel",
        "logfire",
    }
    assert conventions <= {case.parent.name for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_spans_become_the_expected_runs(case: Path) -> None:
    expected_file = case / "expected_runs.json"
    assert expected_file.exists(), (
        f"{_case_id(case)} has no expected_runs.json: run `python tests/golden/regen.py "
        f"--write {case}` and check the runs by hand"
    )
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    actual: list[dict[str, Any]] = as_json([r.to_dict() for r in case_runs(case)])
    assert [r["id"] for r in actual] == [r["id"] for r in expected]
    for got, want in zip(actual, expected, strict=True):
        assert got == want, f"run {want['id']} ({want['name']}) differs"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_evaluations_become_the_expected_feedback(case: Path) -> None:
    """The feedback the server files for the case's `gen_ai.evaluation.result` events
    (none for a case without an expected_feedback.json)."""
    expected_file = case / "expected_feedback.json"
    expected = (
        json.loads(expected_file.read_text(encoding="utf-8")) if expected_file.exists() else []
    )
    assert as_json(case_feedback(case)) == expected


SESSION_CASES = [c for c in CASES if c.name == "session_conversation"]


@pytest.mark.parametrize("case", SESSION_CASES, ids=_case_id)
def test_a_conversation_of_traces_is_one_session(case: Path) -> None:
    """Each convention's session case is two traces of one session: the id its producer
    set is the session (`otel_llm.sessions`) of every trace's root run."""
    roots = [r for r in case_runs(case) if r.parent_run_id is None]
    assert len(roots) == 2
    sessions = {session_of(r.extra.get("metadata")) for r in roots}
    assert len(sessions) == 1 and None not in sessions, sessions


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_runs_are_well_formed_trees(case: Path) -> None:
    """Run-format invariants: the dotted order ends in the run's id and names its parent;
    in a complete tree it starts at the trace's root, while an incomplete run (its
    ancestors are not in the batch) starts at its topmost ancestor present. No run of a
    real instrumentation reports a malformed value."""
    runs = case_runs(case)
    by_id = {r.id: r for r in runs}
    assert len(by_id) == len(runs)
    for run in runs:
        assert run.dotted_order is not None and run.dotted_order.endswith(str(run.id))
        segments = [uuid.UUID(s[-36:]) for s in run.dotted_order.split(".")]
        top = by_id[segments[0]]
        if (run.extra.get("otel") or {}).get("incomplete"):
            assert top.parent_run_id is not None and top.parent_run_id not in by_id
        else:
            assert top.id == run.trace_id and top.parent_run_id is None
        if len(segments) > 1:
            assert segments[-2] == run.parent_run_id
        assert "otel_llm_problems" not in run.extra.get("metadata", {}), run.name


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_run_span_run_is_stable(case: Path) -> None:
    """Each golden run, written as a span (through real OTLP bytes) and read back with
    its tree around it, is the same run."""
    runs = case_runs(case)
    wire = decode_otlp_protobuf(encode_otlp_protobuf(runs_to_spans(runs)))
    back = {r.id: r for r in spans_to_runs(wire)}
    for run in runs:
        assert back[run.id] == run, f"{run.name} changed on the way"
