"""`GET /status` (JSON) and `GET /metrics` (Prometheus text): the forward destinations'
outbox depth and lag, and what was sent, retried and spilled. Behind the API key like
every route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from otel_llm.server.read_api import JSON

StatusSource = Callable[[], list[dict[str, Any]]]

# (field of a destination's status, metric name, type, help)
_METRICS = (
    (
        "outbox_runs",
        "otel_llm_forward_outbox_runs",
        "gauge",
        "Runs waiting in the outbox for the destination.",
    ),
    (
        "outbox_bytes",
        "otel_llm_forward_outbox_bytes",
        "gauge",
        "Stored bytes of the runs waiting for the destination (the outbox bound's measure).",
    ),
    (
        "lag_seconds",
        "otel_llm_forward_lag_seconds",
        "gauge",
        "Age of the oldest change not yet delivered.",
    ),
    (
        "sent_runs",
        "otel_llm_forward_sent_runs_total",
        "counter",
        "Runs delivered since the server started.",
    ),
    (
        "sent_batches",
        "otel_llm_forward_sent_batches_total",
        "counter",
        "Requests delivered since the server started.",
    ),
    ("retries", "otel_llm_forward_retries_total", "counter", "Failed sends that were retried."),
    (
        "spilled_runs",
        "otel_llm_forward_spilled_runs_total",
        "counter",
        "Runs moved to the spill directory (outbox bound reached, or refused for good).",
    ),
    (
        "refused_runs",
        "otel_llm_forward_refused_runs_total",
        "counter",
        "Runs the destination refused for good (spilled too).",
    ),
    (
        "gone_runs",
        "otel_llm_forward_gone_runs_total",
        "counter",
        "Runs deleted from the store (retention) before they were sent.",
    ),
)


def metrics_text(destinations: list[dict[str, Any]]) -> str:
    """The figures of every destination in the Prometheus text format."""
    lines: list[str] = []
    for key, name, kind, help_text in _METRICS:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for d in destinations:
            label = d["destination"].replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{name}{{destination="{label}"}} {d[key]}')
    return "\n".join(lines) + "\n"


def status_routes(source: StatusSource) -> list[BaseRoute]:
    """The two routes, reading the figures from `source` at each request."""

    async def status(request: Request) -> Response:
        return JSON({"forward": source()})

    async def metrics(request: Request) -> Response:
        return Response(
            metrics_text(source()), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return [Route("/status", status, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]
