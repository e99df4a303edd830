"""Langfuse's `langfuse.*` keys (observation type, input/output, metadata, usage, cost)."""

from __future__ import annotations

from typing import Any

from otel_llm.conventions.base import Extraction
from otel_llm.model import ObservationType, Run

NAMESPACES = frozenset({"langfuse", "user", "session"})

G, E, R, T, A, S = (
    ObservationType.GENERATION,
    ObservationType.EMBEDDING,
    ObservationType.RETRIEVER,
    ObservationType.TOOL,
    ObservationType.AGENT,
    ObservationType.SPAN,
)
KIND_KEY = "langfuse.observation.type"
KINDS: dict[str, tuple[ObservationType, str | None]] = {
    "generation": (G, "llm"),
    "embedding": (E, "embedding"),
    "retriever": (R, "retriever"),
    "tool": (T, "tool"),
    "agent": (A, "chain"),
    "chain": (S, "chain"),
    "span": (S, "chain"),
    "event": (S, "chain"),
    "evaluator": (S, "chain"),
    "guardrail": (S, "chain"),
}


def read(x: Extraction) -> None:
    """Fills what `langfuse.*` attributes say."""
    # Filled in by the conventions work; see tests/golden/langfuse.


# --- writing -----------------------------------------------------------------------


def write(run: Run, facts: Any, out: dict[str, Any]) -> None:
    """The observation type, so Langfuse classifies the span without guessing."""
    obs: ObservationType = facts.observation
    out[KIND_KEY] = obs.value
