"""OpenTelemetry GenAI semantic conventions (`gen_ai.*`), every version in the wild.

Reads: v1.37+ message attributes, v1.28-1.36 message events, v1.26-1.27
`gen_ai.content.*` events, legacy `gen_ai.prompt` / `gen_ai.completion` and their
flattened `gen_ai.prompt.{i}.*` form, tools, retrieval, and usage in every spelling.
Writes: the latest official keys.
"""

from __future__ import annotations

from typing import Any

from otel_llm.conventions import messages as msgs
from otel_llm.conventions.base import Extraction, dumps
from otel_llm.model import ObservationType, Run

NAMESPACES = frozenset({"gen_ai", "error"})

KIND_KEY = "gen_ai.operation.name"
G, E, R, T, A, S = (
    ObservationType.GENERATION,
    ObservationType.EMBEDDING,
    ObservationType.RETRIEVER,
    ObservationType.TOOL,
    ObservationType.AGENT,
    ObservationType.SPAN,
)
# Official operation names only: non-standard values written by other SDKs
# (`chain`, `execute_task`, ...) are not evidence of a type.
KINDS: dict[str, tuple[ObservationType, str | None]] = {
    "chat": (G, None),
    "text_completion": (G, None),
    "generate_content": (G, None),
    "embeddings": (E, None),
    "retrieval": (R, None),
    "execute_tool": (T, None),
    "create_agent": (A, None),
    "invoke_agent": (A, None),
    "invoke_workflow": (S, None),
    "plan": (S, None),
}

# The operation name written for each observation type (none for plain spans).
OPERATION_OF: dict[ObservationType, str] = {
    G: "chat",
    E: "embeddings",
    R: "retrieval",
    T: "execute_tool",
    A: "invoke_agent",
}

# LangSmith's ls_provider <-> official gen_ai.provider.name.
PROVIDER_TO_GEN_AI: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "google_vertexai": "gcp.vertex_ai",
    "google_genai": "gcp.gemini",
    "bedrock": "aws.bedrock",
    "amazon_bedrock": "aws.bedrock",
    "mistralai": "mistral_ai",
    "groq": "groq",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "ibm": "ibm.watsonx.ai",
}
# Official and legacy (`gen_ai.system`) spellings -> ls_provider.
PROVIDER_FROM_GEN_AI: dict[str, str] = {
    **{v: k for k, v in PROVIDER_TO_GEN_AI.items() if k not in ("azure_openai", "amazon_bedrock")},
    "vertex_ai": "google_vertexai",
    "gemini": "google_genai",
    "az.ai.openai": "azure",
    "az.ai.inference": "azure",
    "azure.ai.inference": "azure",
    "aws_bedrock": "bedrock",
}

# invocation_params key -> gen_ai.request.* key (one table serves both directions).
REQUEST_PARAMS: dict[str, str] = {
    "temperature": "gen_ai.request.temperature",
    "max_tokens": "gen_ai.request.max_tokens",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "stop": "gen_ai.request.stop_sequences",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
    "n": "gen_ai.request.choice.count",
    "stream": "gen_ai.request.stream",
}

# usage_metadata path -> gen_ai.usage.* key, as written.
USAGE_KEYS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("input_tokens",), "gen_ai.usage.input_tokens"),
    (("output_tokens",), "gen_ai.usage.output_tokens"),
    (("input_token_details", "cache_read"), "gen_ai.usage.cache_read.input_tokens"),
    (("input_token_details", "cache_creation"), "gen_ai.usage.cache_creation.input_tokens"),
    (("output_token_details", "reasoning"), "gen_ai.usage.reasoning.output_tokens"),
)


def read(x: Extraction) -> None:
    """Fills what `gen_ai.*` attributes and events say (see the module docstring)."""
    # Filled in by the conventions work; see tests/golden/gen_ai.


# --- writing -----------------------------------------------------------------------


def write(run: Run, facts: Any, out: dict[str, Any]) -> None:
    """The latest official GenAI keys for a run (content as JSON text)."""
    obs: ObservationType = facts.observation
    op = OPERATION_OF.get(obs)
    if op is not None:
        out[KIND_KEY] = "text_completion" if _is_completion(run) and obs is G else op
    if facts.provider:
        out["gen_ai.provider.name"] = PROVIDER_TO_GEN_AI.get(facts.provider, facts.provider)
    if facts.model and obs in (G, E):
        out["gen_ai.request.model"] = facts.model
    if obs in (G, E):
        for param, key in REQUEST_PARAMS.items():
            value = facts.invocation_params.get(param)
            if value is not None and _is_attr_value(value):
                out[key] = list(value) if isinstance(value, (list, tuple)) else value
        usage = facts.usage
        if usage:
            for path, key in USAGE_KEYS:
                value = _dig(usage, path)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    out[key] = int(value)
    if facts.input_messages is not None:
        out["gen_ai.input.messages"] = dumps(facts.input_messages)
    if facts.output_messages is not None:
        out["gen_ai.output.messages"] = dumps(facts.output_messages)
    if obs is T:
        out["gen_ai.tool.name"] = run.name
        call_id = run.extra.get("metadata", {}).get("tool_call_id")
        if call_id is not None:
            out["gen_ai.tool.call.id"] = str(call_id)
        if facts.tool_arguments is not None:
            out["gen_ai.tool.call.arguments"] = facts.tool_arguments
        if facts.tool_result is not None:
            out["gen_ai.tool.call.result"] = facts.tool_result
    elif obs is R:
        if facts.retrieval_query is not None:
            out["gen_ai.retrieval.query.text"] = facts.retrieval_query
        if facts.retrieval_documents is not None:
            out["gen_ai.retrieval.documents"] = dumps(facts.retrieval_documents)
    elif obs is A:
        out["gen_ai.agent.name"] = run.name
    if run.error:
        out["error.type"] = run.error.split(":", 1)[0].split("(", 1)[0].strip()[:128] or "error"


def to_input_messages(inputs: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Official input messages for a run's inputs, or None when they hold no messages."""
    messages = inputs.get("messages")
    if isinstance(messages, list) and len(messages) == 1 and isinstance(messages[0], list):
        messages = messages[0]  # LangChain chat models batch: [[msg, ...]]
    return msgs.to_gen_ai(messages)


def _is_completion(run: Run) -> bool:
    return "prompt" in run.inputs and "messages" not in run.inputs


def _is_attr_value(value: Any) -> bool:
    if isinstance(value, (str, bool, int, float)):
        return True
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def _dig(d: dict[str, Any], path: tuple[str, ...]) -> Any:
    cur: Any = d
    for p in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur
