"""Which session (a conversation of many traces) a run belongs to: the one place that
decides.

Every convention names sessions its own way; its reader files the id in the run's
metadata under the key its producer uses, and this table picks one:

- `session_id`: OpenInference `session.id`, Langfuse `langfuse.session.id`, Traceloop
  association property `session_id`, LangSmith metadata `session_id`;
- `thread_id`, `conversation_id`: LangSmith metadata (its thread keys);
- `conversation_id`: OpenTelemetry GenAI `gen_ai.conversation.id`;
- `sessionId`: Vercel AI SDK `ai.telemetry.metadata.sessionId`.

First match wins, in the order of `SESSION_KEYS` (LangSmith's own order for threads,
then the others).
"""

from __future__ import annotations

from typing import Any

SESSION_KEYS = ("session_id", "thread_id", "conversation_id", "sessionId")
_KEYS = frozenset(SESSION_KEYS)


def session_of(metadata: Any) -> str | None:
    """The session id a run's metadata names, or None."""
    if not isinstance(metadata, dict) or _KEYS.isdisjoint(metadata):  # most runs: none
        return None
    for key in SESSION_KEYS:
        value = metadata.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
    return None
