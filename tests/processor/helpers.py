"""Shared by the processor tests (and the redaction, sampling and exporter tests that
drive a processor): real SDK providers, spans shaped like each convention's output, and
tree checks."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from otel_llm.ids import ids_from_dotted_order, run_id_from_span_id
from otel_llm.model import Run, SpanRecord

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@dataclass
class Spec:
    """A span to make: name, attributes, children; events as (name, attributes)."""

    name: str
    attrs: dict[str, Any] = field(default_factory=dict)
    children: list[Spec] = field(default_factory=list)
    kind: SpanKind = SpanKind.INTERNAL
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    error: str | None = None


def provider_with(*processors: SpanProcessor) -> TracerProvider:
    provider = TracerProvider(shutdown_on_exit=False)
    for p in processors:
        provider.add_span_processor(p)
    return provider


def recording(provider: TracerProvider) -> InMemorySpanExporter:
    """An in-memory exporter on the provider: the same spans, for batch conversion."""
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def make(tracer: trace.Tracer, spec: Spec) -> None:
    """Make the spans of `spec` (nested, in the current context)."""
    with tracer.start_as_current_span(
        spec.name,
        kind=spec.kind,
        attributes=spec.attrs,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        for name, attrs in spec.events:
            span.add_event(name, attrs)
        for child in spec.children:
            make(tracer, child)
        if spec.error is not None:
            exc = RuntimeError(spec.error)
            span.record_exception(exc)
            span.set_status(trace.Status(trace.StatusCode.ERROR, spec.error))


@contextmanager
def remote_parent(trace_id: int, span_id: int) -> Iterator[None]:
    """Make spans under a parent that lives in another process (W3C traceparent)."""
    ctx = trace.set_span_in_context(
        NonRecordingSpan(
            SpanContext(
                trace_id, span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
            )
        )
    )
    from opentelemetry import context

    token = context.attach(ctx)
    try:
        yield
    finally:
        context.detach(token)


def by_name(runs: Sequence[Run]) -> dict[str, Run]:
    out = {r.name: r for r in runs}
    assert len(out) == len(runs), f"run names are not unique: {[r.name for r in runs]}"
    return out


def by_span_name(runs: Sequence[Run], exporter: InMemorySpanExporter) -> dict[str, Run]:
    """Runs keyed by the name of the SDK span each came from (run names may differ:
    convention readers name runs after agents, tools and models)."""
    ids = {r.id: r for r in runs}
    out = {}
    for span in exporter.get_finished_spans():
        run = ids.get(span_run_id(span))
        if run is not None:
            out[span.name] = run
    assert len(out) == len(runs), "a run that came from no recorded span"
    return out


def check_tree(runs: Sequence[Run]) -> None:
    """Every run's ids agree with its dotted order, its parent is in the set, and every
    run of a trace names the same trace: the root's id."""
    ids = {r.id: r for r in runs}
    for r in runs:
        assert r.dotted_order, r
        run_id, trace_id, parent_id = ids_from_dotted_order(r.dotted_order)
        assert run_id == r.id
        assert trace_id == r.trace_id
        assert parent_id == r.parent_run_id
        assert not (r.extra.get("otel") or {}).get("incomplete"), r.name
        if r.parent_run_id is not None:
            parent = ids[r.parent_run_id]
            assert r.dotted_order.startswith(parent.dotted_order + ".")
            assert parent.trace_id == r.trace_id
        else:
            assert r.trace_id == r.id


def span_run_id(span: Any) -> uuid.UUID:
    return run_id_from_span_id(span.context.span_id.to_bytes(8, "big"))


# --- spans shaped like each convention's real output (conventions.md) ---------------

MESSAGES_IN = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "2+2?"}]}])
MESSAGES_OUT = json.dumps(
    [{"role": "assistant", "parts": [{"type": "text", "content": "4"}], "finish_reason": "stop"}]
)

CONVENTIONS: dict[str, Spec] = {
    "gen_ai": Spec(
        "invoke_agent math",
        {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "math"},
        [
            Spec(
                "chat gpt-4o",
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.response.model": "gpt-4o-2024-08-06",
                    "gen_ai.request.temperature": 0.2,
                    "gen_ai.usage.input_tokens": 12,
                    "gen_ai.usage.output_tokens": 3,
                    "gen_ai.input.messages": MESSAGES_IN,
                    "gen_ai.output.messages": MESSAGES_OUT,
                    "gen_ai.response.finish_reasons": ("stop",),
                },
                kind=SpanKind.CLIENT,
            ),
            Spec(
                "execute_tool add",
                {
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "add",
                    "gen_ai.tool.call.id": "call_1",
                    "gen_ai.tool.call.arguments": '{"a":2,"b":2}',
                    "gen_ai.tool.call.result": "4",
                },
            ),
        ],
    ),
    "openinference": Spec(
        "RAG",
        {"openinference.span.kind": "CHAIN", "input.value": "what is otel?"},
        [
            Spec(
                "retrieve",
                {
                    "openinference.span.kind": "RETRIEVER",
                    "input.value": "what is otel?",
                    "retrieval.documents.0.document.id": "d1",
                    "retrieval.documents.0.document.content": "OpenTelemetry is ...",
                    "retrieval.documents.0.document.score": 0.9,
                },
            ),
            Spec(
                "ChatOpenAI",
                {
                    "openinference.span.kind": "LLM",
                    "llm.model_name": "gpt-4o-mini",
                    "llm.provider": "openai",
                    "llm.token_count.prompt": 30,
                    "llm.token_count.completion": 8,
                    "llm.token_count.total": 38,
                    "llm.input_messages.0.message.role": "user",
                    "llm.input_messages.0.message.content": "what is otel?",
                    "llm.output_messages.0.message.role": "assistant",
                    "llm.output_messages.0.message.content": "A telemetry standard.",
                    "input.value": '{"q": "what is otel?"}',
                    "input.mime_type": "application/json",
                    "output.value": "A telemetry standard.",
                    "output.mime_type": "text/plain",
                },
                kind=SpanKind.CLIENT,
            ),
        ],
    ),
    "traceloop": Spec(
        "joke.workflow",
        {
            "traceloop.span.kind": "workflow",
            "traceloop.entity.name": "joke",
            "traceloop.entity.input": '{"args": [], "kwargs": {"topic": "otel"}}',
        },
        [
            Spec(
                "openai.chat",
                {
                    "llm.request.type": "chat",
                    "gen_ai.system": "openai",
                    "gen_ai.request.model": "gpt-3.5-turbo",
                    "gen_ai.prompt.0.role": "user",
                    "gen_ai.prompt.0.content": "tell a joke",
                    "gen_ai.completion.0.role": "assistant",
                    "gen_ai.completion.0.content": "...",
                    "gen_ai.usage.prompt_tokens": 5,
                    "gen_ai.usage.completion_tokens": 7,
                    "llm.usage.total_tokens": 12,
                },
                kind=SpanKind.CLIENT,
            ),
        ],
    ),
    "langsmith": Spec(
        "pipeline",
        {"langsmith.span.kind": "chain", "langsmith.trace.name": "pipeline"},
        [
            Spec(
                "llm step",
                {
                    "langsmith.span.kind": "llm",
                    "gen_ai.request.model": "claude-3",
                    "gen_ai.usage.input_tokens": 4,
                    "gen_ai.usage.output_tokens": 1,
                },
            )
        ],
    ),
    "langfuse": Spec(
        "trace",
        {"langfuse.observation.type": "span"},
        [
            Spec(
                "generation",
                {
                    "langfuse.observation.type": "generation",
                    "langfuse.observation.model.name": "gpt-4o",
                    "langfuse.observation.input": '"hi"',
                    "langfuse.observation.output": '"hello"',
                },
            )
        ],
    ),
    "mlflow": Spec(
        "agent",
        {"mlflow.spanType": '"AGENT"', "mlflow.spanInputs": '{"q": 1}'},
        [
            Spec(
                "llm",
                {
                    "mlflow.spanType": '"LLM"',
                    "mlflow.spanInputs": '{"p": "x"}',
                    "mlflow.spanOutputs": '{"c": "y"}',
                    "mlflow.chat.tokenUsage": '{"input_tokens": 3, "output_tokens": 4, '
                    '"total_tokens": 7}',
                },
            )
        ],
    ),
    "vercel": Spec(
        "ai.generateText",
        {
            "ai.operationId": "ai.generateText",
            "ai.model.id": "gpt-4o",
            "ai.usage.inputTokens": 9,
            "ai.usage.outputTokens": 2,
        },
        [
            Spec(
                "ai.generateText.doGenerate",
                {
                    "ai.operationId": "ai.generateText.doGenerate",
                    "ai.model.id": "gpt-4o",
                    "ai.model.provider": "openai.chat",
                    "ai.prompt.messages": MESSAGES_IN,
                    "ai.response.text": "4",
                    "ai.usage.inputTokens": 9,
                    "ai.usage.outputTokens": 2,
                },
                kind=SpanKind.CLIENT,
            )
        ],
    ),
}


def golden_traces() -> list[tuple[str, list[SpanRecord]]]:
    """Traces from the core's golden OTLP/JSON inputs (`tests/golden/<convention>/`)."""
    from otel_llm.otlp import OTLPDecodeError, decode_otlp_json

    out: list[tuple[str, list[SpanRecord]]] = []
    for path in sorted(GOLDEN.rglob("*.json")):
        try:
            spans = decode_otlp_json(path.read_bytes())
        except OTLPDecodeError:
            continue  # an expected-runs file, not OTLP input
        traces: dict[bytes, list[SpanRecord]] = {}
        for s in spans:
            traces.setdefault(s.trace_id, []).append(s)
        label = str(path.parent.relative_to(GOLDEN))
        out.extend((label, t) for t in traces.values())
    return out


def replay_on_sdk(tracer: trace.Tracer, spans: Sequence[SpanRecord]) -> None:
    """Make real SDK spans with the structure, names, kinds, times, attributes, events
    and status of recorded spans (the SDK gives them new ids)."""
    from opentelemetry.trace import Status, StatusCode

    ids = {s.span_id for s in spans}
    kids: dict[bytes, list[SpanRecord]] = {}
    roots = []
    for s in spans:
        if s.parent_span_id in ids:
            kids.setdefault(s.parent_span_id, []).append(s)
        else:
            roots.append(s)

    def sdk_value(v: Any) -> Any:
        if isinstance(v, (str, bool, int, float)):
            return v
        if isinstance(v, list) and v and all(isinstance(i, (str, bool, int, float)) for i in v):
            return v
        return json.dumps(v, default=str)

    def run(s: SpanRecord, parent: Any) -> int:
        ctx = trace.set_span_in_context(parent) if parent is not None else None
        span = tracer.start_span(
            s.name,
            context=ctx,
            kind=SpanKind(max(0, s.kind - 1)),
            attributes={k: sdk_value(v) for k, v in s.attributes.items()},
            start_time=s.start_time_unix_nano,
        )
        for e in s.events:
            span.add_event(
                e.name, {k: sdk_value(v) for k, v in e.attributes.items()}, e.time_unix_nano
            )
        end = s.end_time_unix_nano
        for child in sorted(kids.get(s.span_id, []), key=lambda c: c.start_time_unix_nano):
            end = max(end, run(child, span) + 1)  # children end before their parent
        if s.status_code == 2:
            span.set_status(Status(StatusCode.ERROR, s.status_message or None))
        span.end(end_time=end)
        return end

    for root in roots:
        run(root, None)
