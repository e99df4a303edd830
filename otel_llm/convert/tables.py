"""The conversion's tables: which conventions read, classify and write, in what
precedence, and the keys and defaults they imply. One place to change the order."""

from __future__ import annotations

from otel_llm.conventions import (
    gen_ai,
    langfuse,
    langsmith,
    logfire,
    mlflow,
    native,
    openinference,
    traceloop,
    vercel,
)
from otel_llm.conventions.base import (
    A,
    Convention,
    E,
    G,
    KindTable,
    R,
    S,
    T,
    Writer,
)
from otel_llm.model import (
    ObservationType,
    SpanKind,
)

# Readers in precedence order: each fills only what the ones before it left empty.
READERS: tuple[Convention, ...] = (
    native.CONVENTION,
    langsmith.CONVENTION,
    langfuse.CONVENTION,
    mlflow.CONVENTION,
    openinference.CONVENTION,
    # Before gen_ai: the Vercel AI SDK also writes gen_ai.* copies, some in its own
    # spelling (gen_ai.system = "openai.chat"); its ai.* keys are the precise ones.
    vercel.CONVENTION,
    gen_ai.CONVENTION,
    traceloop.CONVENTION,
    logfire.CONVENTION,
)

# Classification precedence, by the conventions' kind tables: the project's own key,
# then producers' native kinds, then the official operation name (official values
# only), then hints. First match wins.
CLASSIFICATION: tuple[Convention, ...] = (
    native.CONVENTION,
    langfuse.CONVENTION,
    langsmith.CONVENTION,
    mlflow.CONVENTION,
    openinference.CONVENTION,
    gen_ai.CONVENTION,
    traceloop.CONVENTION,  # its own kinds, then gen_ai.operation.name values of its own
    vercel.CONVENTION,
)

# Families a writer can emit, in writing order; `otel_llm.*` (exact run fields) is
# always written, first.
EMITTED: tuple[Convention, ...] = (
    gen_ai.CONVENTION,
    openinference.CONVENTION,
    langsmith.CONVENTION,
    langfuse.CONVENTION,
)

# What the tables above imply.
CLASSIFIERS: tuple[tuple[str, KindTable], ...] = tuple(
    table for c in CLASSIFICATION for table in c.kinds
)
# After the classifiers: keys whose presence marks a kind, for producers that write no
# kind key; and as the last resort, a model plus token usage means a generation.
MARKERS: KindTable = {key: kind for c in READERS for key, kind in c.markers.items()}
MODEL_KEYS: frozenset[str] = frozenset().union(*(c.model_keys for c in READERS))
USAGE_KEYS: frozenset[str] = frozenset().union(*(c.usage_keys for c in READERS))
# Keys through which a span names its own run ids, and its whole dotted order.
ID_KEYS: frozenset[str] = frozenset().union(*(c.id_keys for c in READERS))
DOTTED_ORDER_KEYS: frozenset[str] = frozenset(
    c.dotted_order_key for c in READERS if c.dotted_order_key is not None
)
EMIT_FAMILIES: dict[str, Writer] = {c.name: c.write for c in EMITTED if c.write is not None}
DEFAULT_EMIT: frozenset[str] = frozenset(EMIT_FAMILIES)

# The span kind each observation type gets when nothing else is known.
DEFAULT_KIND: dict[ObservationType, int] = {
    G: SpanKind.CLIENT,
    E: SpanKind.CLIENT,
    R: SpanKind.CLIENT,
    T: SpanKind.INTERNAL,
    A: SpanKind.INTERNAL,
    S: SpanKind.INTERNAL,
}

WRITER_SCOPE = "otel-llm"
PROBLEMS_KEY = "otel_llm_problems"  # extra.metadata key listing malformed values
OBSERVATION_KEY = "observation_type"  # extra.metadata key, set only where run_type can't say

# Invocation params a generation's metadata repeats as LangSmith's ls_* keys, with the
# types those keys hold: a placeholder such as Langfuse's max_tokens "Infinity" (no
# limit set) stays in the params only.
LS_PARAMS: dict[str, tuple[str, tuple[type, ...]]] = {
    "temperature": ("ls_temperature", (int, float)),
    "max_tokens": ("ls_max_tokens", (int,)),
    "stop": ("ls_stop", (str, list, tuple)),
}
