"""The server's project rule lives in `otel_llm.projects`, shared with the store sink."""

from otel_llm.projects import DEFAULT_PROJECT, PROJECT_HEADER, PROJECT_RESOURCE_KEYS, project_for

__all__ = ["DEFAULT_PROJECT", "PROJECT_HEADER", "PROJECT_RESOURCE_KEYS", "project_for"]
