"""MLflow tracing: `mlflow.*` keys, every value JSON-encoded."""

from __future__ import annotations

from otel_llm.conventions.base import Extraction
from otel_llm.model import ObservationType

NAMESPACES = frozenset({"mlflow"})

G, E, R, T, A, S = (
    ObservationType.GENERATION,
    ObservationType.EMBEDDING,
    ObservationType.RETRIEVER,
    ObservationType.TOOL,
    ObservationType.AGENT,
    ObservationType.SPAN,
)
KIND_KEY = "mlflow.spanType"
_BARE: dict[str, tuple[ObservationType, str | None]] = {
    "LLM": (G, "llm"),
    "CHAT_MODEL": (G, "llm"),
    "EMBEDDING": (E, "embedding"),
    "RETRIEVER": (R, "retriever"),
    "RERANKER": (R, "retriever"),
    "TOOL": (T, "tool"),
    "AGENT": (A, "chain"),
    "CHAIN": (S, "chain"),
    "PARSER": (S, "parser"),
    "MEMORY": (S, "chain"),
    "WORKFLOW": (S, "chain"),
    "TASK": (S, "chain"),
    "GUARDRAIL": (S, "chain"),
    "EVALUATOR": (S, "chain"),
}
# MLflow JSON-encodes every value ("\"LLM\""); accept both spellings. UNKNOWN is absent.
KINDS: dict[str, tuple[ObservationType, str | None]] = {
    **_BARE,
    **{f'"{k}"': v for k, v in _BARE.items()},
}


def read(x: Extraction) -> None:
    """Fills what `mlflow.*` attributes say (values are JSON text)."""
    # Filled in by the conventions work; see tests/golden/mlflow.
