"""OpenInference (Arize Phoenix and its instrumentors): `openinference.span.kind`,
`input.value` / `output.value`, flattened `llm.*`, `retrieval.documents.*`, `tool.*`,
`embedding.*`, `reranker.*`, `session.id`, `user.id`, `metadata`, `tag.tags`.
"""

from __future__ import annotations

from typing import Any

from otel_llm.conventions.base import Extraction, dumps
from otel_llm.model import ObservationType, Run

NAMESPACES = frozenset(
    {"openinference", "input", "output", "llm", "retrieval", "reranker", "embedding",
     "tool", "session", "user", "metadata", "tag", "agent", "graph"}
)

G, E, R, T, A, S = (
    ObservationType.GENERATION,
    ObservationType.EMBEDDING,
    ObservationType.RETRIEVER,
    ObservationType.TOOL,
    ObservationType.AGENT,
    ObservationType.SPAN,
)
KIND_KEY = "openinference.span.kind"
# UNKNOWN is no evidence: it is left out, so classification goes on.
KINDS: dict[str, tuple[ObservationType, str | None]] = {
    "LLM": (G, "llm"),
    "EMBEDDING": (E, "embedding"),
    "RETRIEVER": (R, "retriever"),
    "RERANKER": (R, "retriever"),
    "TOOL": (T, "tool"),
    "AGENT": (A, "chain"),
    "CHAIN": (S, "chain"),
    "PROMPT": (S, "prompt"),
    "GUARDRAIL": (S, "chain"),
    "EVALUATOR": (S, "chain"),
    "DECISION": (S, "chain"),
}

# The kind written for each observation type (and run_type, for spans).
KIND_OF: dict[ObservationType, str] = {G: "LLM", E: "EMBEDDING", R: "RETRIEVER", T: "TOOL",
                                       A: "AGENT", S: "CHAIN"}


def read(x: Extraction) -> None:
    """Fills what OpenInference attributes say; flattened lists are re-nested."""
    # Filled in by the conventions work; see tests/golden/openinference.


# --- writing -----------------------------------------------------------------------


def write(run: Run, facts: Any, out: dict[str, Any]) -> None:
    """Kind, model, provider and token counts so Phoenix classifies and shows the span.

    Content is carried by `input.value` / `output.value`, which the writer in
    `otel_llm.convert` always adds when this family is emitted.
    """
    obs: ObservationType = facts.observation
    out[KIND_KEY] = "PROMPT" if run.run_type == "prompt" else KIND_OF[obs]
    if obs in (G, E):
        if facts.model:
            out["llm.model_name" if obs is G else "embedding.model_name"] = facts.model
        if facts.provider and obs is G:
            out["llm.provider"] = facts.provider
        usage = facts.usage or {}
        for src, key in (("input_tokens", "llm.token_count.prompt"),
                         ("output_tokens", "llm.token_count.completion"),
                         ("total_tokens", "llm.token_count.total")):
            value = usage.get(src)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = int(value)
        if facts.invocation_params:
            out["llm.invocation_parameters"] = dumps(facts.invocation_params)
    elif obs is T:
        out["tool.name"] = run.name
    if run.tags:
        out["tag.tags"] = list(run.tags)
