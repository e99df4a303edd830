"""OpenLLMetry / Traceloop: `traceloop.*` decorator spans and `llm.*` legacy keys."""

from __future__ import annotations

from otel_llm.conventions.base import Extraction
from otel_llm.model import ObservationType

NAMESPACES = frozenset({"traceloop", "llm", "gen_ai"})

G, E, R, T, A, S = (
    ObservationType.GENERATION,
    ObservationType.EMBEDDING,
    ObservationType.RETRIEVER,
    ObservationType.TOOL,
    ObservationType.AGENT,
    ObservationType.SPAN,
)
KIND_KEY = "traceloop.span.kind"
KINDS: dict[str, tuple[ObservationType, str | None]] = {
    "workflow": (S, "chain"),
    "task": (S, "chain"),
    "agent": (A, "chain"),
    "tool": (T, "tool"),
}
REQUEST_TYPE_KEY = "llm.request.type"
REQUEST_KINDS: dict[str, tuple[ObservationType, str | None]] = {
    "chat": (G, "llm"),
    "completion": (G, "llm"),
    "embedding": (E, "embedding"),
    "rerank": (R, "retriever"),
}
# Non-standard gen_ai.operation.name values its LangChain instrumentor writes; they rank
# below the official values and the producers' own kind keys.
OPERATION_KINDS: dict[str, tuple[ObservationType, str | None]] = {
    "vector_db_retrieve": (R, "retriever"),
    "execute_task": (S, "chain"),
}


def read(x: Extraction) -> None:
    """Fills what Traceloop attributes say (entity input/output, association properties)."""
    # Filled in by the conventions work; see tests/golden/traceloop.
