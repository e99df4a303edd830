"""LangSmith's `langsmith.*` keys, as its SDK writes them and its server reads them."""

from __future__ import annotations

from typing import Any

from otel_llm.conventions.base import Extraction, dumps
from otel_llm.model import ObservationType, Run

NAMESPACES = frozenset({"langsmith"})

G, E, R, T, S = (
    ObservationType.GENERATION,
    ObservationType.EMBEDDING,
    ObservationType.RETRIEVER,
    ObservationType.TOOL,
    ObservationType.SPAN,
)
KIND_KEY = "langsmith.span.kind"
# langsmith.span.kind is the run_type itself.
KINDS: dict[str, tuple[ObservationType, str | None]] = {
    "llm": (G, "llm"),
    "embedding": (E, "embedding"),
    "retriever": (R, "retriever"),
    "tool": (T, "tool"),
    "chain": (S, "chain"),
    "prompt": (S, "prompt"),
    "parser": (S, "parser"),
}


def read(x: Extraction) -> None:
    """Fills run ids, dotted order, project, tags and metadata from `langsmith.*`."""
    # Filled in by the conventions work; see tests/golden/langsmith.


# --- writing -----------------------------------------------------------------------


def write(run: Run, facts: Any, out: dict[str, Any]) -> None:
    """Run ids and fields so LangSmith's OTLP endpoint keeps the run as it was."""
    out[KIND_KEY] = run.run_type
    out["langsmith.trace.name"] = run.name
    if run.trace_id is not None:
        out["langsmith.trace.id"] = str(run.trace_id)
    out["langsmith.span.id"] = str(run.id)
    if run.parent_run_id is not None:
        out["langsmith.span.parent_id"] = str(run.parent_run_id)
    if run.dotted_order:
        out["langsmith.span.dotted_order"] = run.dotted_order
    if run.session_name:
        out["langsmith.trace.session_name"] = run.session_name
    if run.tags:
        out["langsmith.span.tags"] = ",".join(run.tags)
    for key, value in (run.extra.get("metadata") or {}).items():
        if value is not None:
            out[f"langsmith.metadata.{key}"] = value if isinstance(value, str) else dumps(value)
