"""Pydantic Logfire and Pydantic AI: `logfire.*`, `pydantic_ai.*`, `request_data` /
`response_data`, `tool_arguments` / `tool_response`. Pending spans are skipped.
"""

from __future__ import annotations

from otel_llm.conventions.base import Extraction

NAMESPACES = frozenset(
    {"logfire", "pydantic_ai", "request_data", "response_data", "tool_arguments",
     "tool_response", "all_messages_events", "final_result", "model_request_parameters"}
)


def read(x: Extraction) -> None:
    """Fills what Logfire / Pydantic AI attributes say; marks pending spans to skip."""
    # Filled in by the conventions work; see tests/golden/logfire.
