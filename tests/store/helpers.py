"""Spans and traces for the store tests, built the way instrumented apps send them.

Spans use the project's own `otel_llm.*` keys for run type and usage (a stable,
complete path through `otel_llm.convert.spans_to_runs`); ids, parents and times are
plain OTel span fields, so trees are assembled by the converter exactly as for any
other convention.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any

import orjson

from otel_llm.model import SpanEvent, SpanRecord, StatusCode

T0 = 1_790_000_000_000_000_000  # 2026-09-21, epoch ns
MS = 1_000_000

OBSERVATION_OF_TYPE = {
    "llm": "generation",
    "embedding": "embedding",
    "chain": "span",
    "tool": "tool",
    "retriever": "retriever",
}


def make_span(
    trace_id: bytes,
    span_id: bytes,
    parent: bytes = b"",
    *,
    name: str = "step",
    run_type: str = "chain",
    start_ms: float = 0,
    duration_ms: float = 10,
    usage: dict[str, Any] | None = None,
    model: str | None = None,
    metadata: dict[str, Any] | None = None,
    error: str | None = None,
    tags: list[str] | None = None,
    inputs: Any = None,
    outputs: Any = None,
    first_token_ms: float | None = None,
    agent: bool = False,
) -> SpanRecord:
    """One span as an app would export it."""
    md: dict[str, Any] = dict(metadata or {})
    if model is not None:
        md["ls_model_name"] = model
    if usage is not None:
        md["usage_metadata"] = usage
    if agent:  # the project's own keys carry the run's exact extra, agent marker included
        md["observation_type"] = "agent"
    attrs: dict[str, Any] = {
        "otel_llm.observation.type": "agent" if agent else OBSERVATION_OF_TYPE[run_type],
        "otel_llm.run.type": run_type,
    }
    if md:
        attrs["otel_llm.run.extra"] = orjson.dumps({"metadata": md}).decode()
    if tags:
        attrs["otel_llm.run.tags"] = tags
    if inputs is not None:
        attrs["input.value"] = orjson.dumps(inputs).decode()
        attrs["input.mime_type"] = "application/json"
    if outputs is not None:
        attrs["output.value"] = orjson.dumps(outputs).decode()
        attrs["output.mime_type"] = "application/json"
    if inputs is not None or outputs is not None:
        attrs["otel_llm.io.verbatim"] = True
    events = []
    if first_token_ms is not None:
        events.append(SpanEvent("new_token", T0 + int(first_token_ms * MS), {}))
    start = T0 + int(start_ms * MS)
    span = SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        start_time_unix_nano=start,
        end_time_unix_nano=start + int(duration_ms * MS),
        attributes=attrs,
        events=events,
    )
    if error is not None:
        span.status_code = StatusCode.ERROR
        span.status_message = error
    return span


@dataclass
class Node:
    span_id: bytes
    parent: bytes
    run_type: str
    depth: int
    usage: dict[str, Any] | None = None
    children: list[Node] = field(default_factory=list)


def random_trace(rng: random.Random, size: int, model: str = "gpt-4o-mini") -> list[SpanRecord]:
    """A random tree of `size` spans: chains and agents inside, generations, tools and
    retrievers anywhere; some generations nested under others' parents, some errors."""
    trace_id = rng.randbytes(16)
    nodes: list[Node] = [Node(rng.randbytes(8), b"", "chain", 0)]
    for _ in range(size - 1):
        parents = [n for n in nodes if n.run_type == "chain"]
        parent = rng.choice(parents)
        run_type = rng.choice(["llm", "llm", "chain", "tool", "retriever", "embedding"])
        node = Node(rng.randbytes(8), parent.span_id, run_type, parent.depth + 1)
        if run_type in ("llm", "embedding"):
            node.usage = {
                "input_tokens": rng.randint(1, 5000),
                "output_tokens": rng.randint(0, 800),
                "input_token_details": {"cache_read": rng.randint(0, 1)},
            }
            node.usage["total_tokens"] = node.usage["input_tokens"] + node.usage["output_tokens"]
        parent.children.append(node)
        nodes.append(node)
    spans = []
    for i, node in enumerate(nodes):
        spans.append(
            make_span(
                trace_id,
                node.span_id,
                node.parent,
                name=f"{node.run_type}-{i}",
                run_type=node.run_type,
                start_ms=node.depth * 5 + i * 0.01,
                duration_ms=100 - node.depth * 5,
                usage=node.usage,
                model=model if node.usage else None,
                # Aggregating spans (agents) repeat their children's usage: never counted.
                metadata=None,
                error="TimeoutError: slow" if rng.random() < 0.1 else None,
                agent=node.run_type == "chain" and node.depth > 0 and rng.random() < 0.5,
            )
        )
    # An agent span carrying its own (aggregated) usage attributes must not count.
    root = spans[0]
    root.attributes["otel_llm.run.extra"] = orjson.dumps(
        {"metadata": {"usage_metadata": {"input_tokens": 99999, "output_tokens": 99999}}}
    ).decode()
    return spans


def new_trace_id() -> bytes:
    return os.urandom(16)


def new_span_id() -> bytes:
    return os.urandom(8)
