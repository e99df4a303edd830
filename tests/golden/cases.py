"""What a golden case folder holds, and how it becomes runs: the one place that reads a
case, for tests/test_golden.py and regen.py alike.

- `request.json`: the spans, an OTLP/JSON ExportTraceServiceRequest as recorded;
- `logs.json` (optional): the producer's OTLP log records (an ExportLogsServiceRequest),
  joined to their spans before conversion, as `otel-llm convert --logs` joins them;
- `expected_runs.json`: the runs, checked by hand;
- `expected_feedback.json` (optional): the feedback the server files from the runs'
  `gen_ai.evaluation.result` events, checked by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from otel_llm.convert import spans_to_runs
from otel_llm.evaluations import feedback_of_runs
from otel_llm.model import Run
from otel_llm.otlp import decode_otlp_json
from otel_llm.otlp.logs import attach_to_spans, decode_logs_json

GOLDEN = Path(__file__).resolve().parent


def cases() -> list[Path]:
    """Every golden case folder, in a stable order."""
    return sorted(p.parent for p in GOLDEN.glob("*/*/request.json"))


def case_runs(case: Path) -> list[Run]:
    """The runs the current code makes of a case (its log records joined first)."""
    spans = decode_otlp_json((case / "request.json").read_bytes())
    logs = case / "logs.json"
    if logs.exists():
        left = attach_to_spans(spans, decode_logs_json(logs.read_bytes()))
        assert not left, f"{len(left)} log records of {case.name} joined no span"
    return spans_to_runs(spans)


def as_json(value: Any) -> Any:
    """A value as the expected files hold it (tuples become lists, and so on)."""
    return json.loads(json.dumps(value, ensure_ascii=False))


def expected(case: Path) -> dict[str, Any]:
    """Expected file name -> what the current code makes for it (feedback only for a
    case whose runs carry evaluations)."""
    runs = case_runs(case)
    out: dict[str, Any] = {"expected_runs.json": as_json([r.to_dict() for r in runs])}
    feedback = feedback_of_runs(runs)
    if feedback:
        out["expected_feedback.json"] = as_json(feedback)
    return out
