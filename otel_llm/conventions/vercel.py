"""Vercel AI SDK: `ai.*` keys; the inner `*.doGenerate` / `*.doStream` span is the
generation, outer `ai.generateText`-style spans are orchestration with aggregated usage.
"""

from __future__ import annotations

from otel_llm.conventions.base import Extraction
from otel_llm.model import ObservationType

NAMESPACES = frozenset({"ai"})

G, E, T, S = (
    ObservationType.GENERATION,
    ObservationType.EMBEDDING,
    ObservationType.TOOL,
    ObservationType.SPAN,
)
KIND_KEY = "ai.operationId"
KINDS: dict[str, tuple[ObservationType, str | None]] = {
    "ai.generateText.doGenerate": (G, "llm"),
    "ai.streamText.doStream": (G, "llm"),
    "ai.generateObject.doGenerate": (G, "llm"),
    "ai.streamObject.doStream": (G, "llm"),
    "ai.embed.doEmbed": (E, "embedding"),
    "ai.embedMany.doEmbed": (E, "embedding"),
    "ai.toolCall": (T, "tool"),
    "ai.generateText": (S, "chain"),
    "ai.streamText": (S, "chain"),
    "ai.generateObject": (S, "chain"),
    "ai.streamObject": (S, "chain"),
    "ai.embed": (S, "chain"),
    "ai.embedMany": (S, "chain"),
}


def read(x: Extraction) -> None:
    """Fills what `ai.*` attributes say (usage only from the inner generation span)."""
    # Filled in by the conventions work; see tests/golden/vercel.
