"""Which project a span is stored in: the one place that decides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_PROJECT = "default"

# HTTP header / gRPC metadata key (gRPC keys are lower case; HTTP headers are not
# case-sensitive).
PROJECT_HEADER = "langsmith-project"

# Resource attributes that name a project, first match wins.
PROJECT_RESOURCE_KEYS = ("langsmith.project", "openinference.project.name", "service.name")


def project_for(resource: Mapping[str, Any], header: str | None = None) -> str:
    """The project of a span: the request's header, else its resource, else `default`.

    Args:
        resource: the resource attributes of the span's producer.
        header: the `Langsmith-Project` header or `langsmith-project` gRPC metadata.
    """
    if header and header.strip():
        return header.strip()
    for key in PROJECT_RESOURCE_KEYS:
        value = resource.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return DEFAULT_PROJECT
