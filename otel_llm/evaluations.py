"""`gen_ai.evaluation.result` events -> LangSmith feedback on the run they judge.

An evaluation event (on a span, or an OTLP log record joined to its span) carries
`gen_ai.evaluation.name`, `gen_ai.evaluation.score.value`, `gen_ai.evaluation.score.label`
and `gen_ai.evaluation.explanation`; it becomes feedback with key = name, score = value,
value = label and comment = explanation. Its id is derived from the run, the event time
and the name, so the same event sent again updates the same feedback.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from otel_llm.model import Run, iso_to_ns

EVALUATION_EVENT = "gen_ai.evaluation.result"
EVALUATION_NAME = "gen_ai.evaluation.name"
EVALUATION_SCORE = "gen_ai.evaluation.score.value"
EVALUATION_LABEL = "gen_ai.evaluation.score.label"
EVALUATION_EXPLANATION = "gen_ai.evaluation.explanation"
_NAMESPACE = uuid.UUID("6f1c2d9e-5b1a-4e8e-9a57-0e2f3d6c7b10")


def evaluation_feedback(
    run_id: str, trace_id: str | None, attributes: Mapping[str, Any], time_ns: int
) -> dict[str, Any] | None:
    """One evaluation event's feedback (LangSmith's create shape), or None when it names
    no evaluation."""
    name = attributes.get(EVALUATION_NAME)
    if not isinstance(name, str) or not name:
        return None
    score = attributes.get(EVALUATION_SCORE)
    if isinstance(score, bool):
        score = float(score)
    elif isinstance(score, str):
        try:
            score = float(score)
        except ValueError:
            score = None
    elif not isinstance(score, (int, float)):
        score = None
    label = attributes.get(EVALUATION_LABEL)
    explanation = attributes.get(EVALUATION_EXPLANATION)
    extra = {k: v for k, v in attributes.items() if k not in _KNOWN}
    return {
        "id": str(uuid.uuid5(_NAMESPACE, f"{run_id}/{time_ns}/{name}")),
        "run_id": run_id,
        "trace_id": trace_id,
        "key": name,
        "score": score,
        "value": label,
        "comment": None if explanation is None else str(explanation),
        "feedback_source": {"type": "model", "metadata": {"source": EVALUATION_EVENT}},
        "extra": extra or None,
    }


_KNOWN = frozenset((EVALUATION_NAME, EVALUATION_SCORE, EVALUATION_LABEL, EVALUATION_EXPLANATION))


def feedback_of_runs(runs: Iterable[Run]) -> list[dict[str, Any]]:
    """Feedback of every `gen_ai.evaluation.result` event among the runs' events."""
    out: list[dict[str, Any]] = []
    for run in runs:
        for event in run.events:
            if event.get("name") != EVALUATION_EVENT:
                continue
            kwargs = event.get("kwargs")
            if not isinstance(kwargs, Mapping):
                continue
            time_ns = _event_ns(event, run.start_time_ns)
            trace = str(run.trace_id) if run.trace_id is not None else str(run.id)
            found = evaluation_feedback(str(run.id), trace, kwargs, time_ns)
            if found is not None:
                out.append(found)
    return out


def _event_ns(event: Mapping[str, Any], default: int) -> int:
    """A run event's time to the nanosecond (its ISO `time` holds microseconds), so an
    evaluation gets the same feedback id as a span event and as a joined log record."""
    exact = event.get("time_unix_nano")
    if isinstance(exact, int) and not isinstance(exact, bool):
        return exact
    time = event.get("time")
    try:
        return iso_to_ns(time) if isinstance(time, str) else default
    except ValueError:
        return default
