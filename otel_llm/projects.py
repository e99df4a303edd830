"""Which project a span or run is filed under: the one rule of `otel-llm serve` (for the
spans it receives) and of the `store` run sink (for the runs it writes).

`project_for`: the explicit project (the request's `Langsmith-Project` header; the
sink's `project`, i.e. LANGSMITH_PROJECT), else the producer's resource attributes
`langsmith.project`, `openinference.project.name`, `service.name`, first match, else
`default`. `run_project` applies it to a run, whose resource is kept in
`extra.otel.resource`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_llm.model import Run

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


def run_project(run: Run, explicit: str | None = None) -> str:
    """The project of a run, by `project_for` over the resource of the span it came from.

    Args:
        run: the run; its OTel resource is `run.extra["otel"]["resource"]` (none for a
            run that was not made from a span).
        explicit: the project configured for it (a header, a sink's project).
    """
    otel = run.extra.get("otel") if isinstance(run.extra, dict) else None
    resource = otel.get("resource") if isinstance(otel, dict) else None
    return project_for(resource if isinstance(resource, Mapping) else {}, explicit)
