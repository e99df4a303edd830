"""What a golden case folder holds, and how it becomes runs: the one place that reads a
case, for tests/test_golden.py and regen.py alike.

- `request.json`: the spans, an OTLP/JSON ExportTraceServiceRequest as recorded;
- `logs.json` (optional): the producer's OTLP log records (an ExportLogsServiceRequest),
  joined to their spans before conversion, as `otel-llm convert --logs` joins them;
- `expected_runs.json`: the runs, checked by hand;
- `expected_feedback.json` (optional): the feedback the server files for the case's
  `gen_ai.evaluation.result` events, checked by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from otel_llm.convert import spans_to_runs
from otel_llm.evaluations import EVALUATION_EVENT, evaluation_feedback, feedback_of_runs
from otel_llm.ids import run_id_from_span_id
from otel_llm.model import Run, SpanRecord
from otel_llm.otlp import decode_otlp_json
from otel_llm.otlp.logs import LogRecord, attach_to_spans, decode_logs_json

GOLDEN = Path(__file__).resolve().parent


def cases() -> list[Path]:
    """Every golden case folder, in a stable order."""
    return sorted(p.parent for p in GOLDEN.glob("*/*/request.json"))


def _spans(case: Path) -> list[SpanRecord]:
    return decode_otlp_json((case / "request.json").read_bytes())


def _logs(case: Path) -> list[LogRecord]:
    logs = case / "logs.json"
    return decode_logs_json(logs.read_bytes()) if logs.exists() else []


def case_runs(case: Path) -> list[Run]:
    """The runs the current code makes of a case (its log records joined first)."""
    spans = _spans(case)
    left = attach_to_spans(spans, _logs(case))
    assert not left, f"{len(left)} log records of {case.name} joined no span"
    return spans_to_runs(spans)


def case_feedback(case: Path) -> list[dict[str, Any]]:
    """The feedback the server files for a case: of the evaluation events its spans carry
    (server/prepare.py), then of each evaluation log record, on its span's run
    (store/sqlite/log_events.py)."""
    feedback = feedback_of_runs(spans_to_runs(_spans(case)))
    runs = {r.id: r for r in case_runs(case)}
    for record in _logs(case):
        run = runs.get(run_id_from_span_id(record.span_id))
        if record.event_name == EVALUATION_EVENT and run is not None:
            found = evaluation_feedback(
                str(run.id), str(run.trace_id), record.attributes, record.time_unix_nano
            )
            if found is not None:
                feedback.append(found)
    return feedback


def as_json(value: Any) -> Any:
    """A value as the expected files hold it (tuples become lists, and so on)."""
    return json.loads(json.dumps(value, ensure_ascii=False))


def expected(case: Path) -> dict[str, Any]:
    """Expected file name -> what the current code makes for it (feedback only for a
    case whose runs carry evaluations)."""
    runs = case_runs(case)
    out: dict[str, Any] = {"expected_runs.json": as_json([r.to_dict() for r in runs])}
    feedback = case_feedback(case)
    if feedback:
        out["expected_feedback.json"] = as_json(feedback)
    return out
