"""A realistic batch of LLM spans for benchmarks: mixed conventions, nested traces.

`make_request_spans()` builds what an OTLP exporter of a busy LLM app would send: traces
of ~10 spans (an HTTP or workflow root, agents, chat generations, retrievers, tools,
embeddings and outgoing HTTP calls), written in the official gen_ai.* conventions,
OpenInference (flattened messages and documents), Traceloop and LangSmith, each span
padded with ordinary attributes to the requested count. Deterministic for a seed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from otel_llm.model import SpanEvent, SpanKind, SpanRecord, StatusCode

_BASE_NS = 1_760_000_000_000_000_000  # 2025-10-09, a fixed start for repeatable output

_QUESTIONS = [
    "What is the refund policy for annual plans?",
    "Summarise the attached incident report in three bullet points.",
    "Which regions does the service run in, and what are their latencies?",
    "Translate 'the build is green' into French, German and Japanese — 緑です.",
    "Write a SQL query counting orders per customer for the last 30 days.",
]
_ANSWERS = [
    "Annual plans can be refunded pro rata within 30 days of purchase.",
    "- The cache expired early\n- Retries amplified load\n- A config flag fixed it",
    "eu-west-1 (12 ms), us-east-1 (9 ms) and ap-northeast-1 (31 ms).",
    "Le build est vert. Der Build ist grün. ビルドは緑です。",
    "SELECT customer_id, count(*) FROM orders WHERE created_at > now() - interval '30 days' "
    "GROUP BY customer_id;",
]
_MODELS = [("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"), ("openai", "gpt-4.1")]
_DOCS = [
    "Refunds are issued to the original payment method within 5-10 business days.",
    "Annual subscriptions renew automatically unless cancelled 7 days before renewal.",
    "Enterprise customers may negotiate custom refund terms in their MSA.",
    "Support is available 24/7 through chat and email for paid plans.",
]

_Attrs = dict[str, Any]
# A template: (rng, index) -> (name, kind, attributes, scope name)
_Template = Callable[[random.Random, int], tuple[str, int, _Attrs, str]]


def _pick(rng: random.Random, items: list[Any]) -> Any:
    return items[rng.randrange(len(items))]


def _gen_ai_chat(rng: random.Random, i: int) -> tuple[str, int, _Attrs, str]:
    provider, model = _pick(rng, _MODELS)
    question, answer = _pick(rng, _QUESTIONS), _pick(rng, _ANSWERS)
    inputs = [
        {"role": "system", "parts": [{"type": "text", "content": "You are a support agent."}]},
        {"role": "user", "parts": [{"type": "text", "content": question}]},
    ]
    outputs = [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": answer}],
            "finish_reason": "stop",
        }
    ]
    attrs: _Attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "gen_ai.response.model": f"{model}-2025-08-07",
        "gen_ai.response.id": f"chatcmpl-{rng.getrandbits(64):016x}",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 1024,
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.input_tokens": rng.randrange(50, 4000),
        "gen_ai.usage.output_tokens": rng.randrange(10, 800),
        "gen_ai.input.messages": json.dumps(inputs, ensure_ascii=False),
        "gen_ai.output.messages": json.dumps(outputs, ensure_ascii=False),
        "server.address": "api.openai.com" if provider == "openai" else "api.anthropic.com",
        "server.port": 443,
    }
    return f"chat {model}", SpanKind.CLIENT, attrs, "opentelemetry.instrumentation.openai_v2"


def _gen_ai_tool(rng: random.Random, i: int) -> tuple[str, int, _Attrs, str]:
    tool = _pick(rng, ["get_weather", "search_orders", "create_ticket"])
    attrs: _Attrs = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
        "gen_ai.tool.call.id": f"call_{rng.getrandbits(48):012x}",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.arguments": json.dumps({"query": _pick(rng, _QUESTIONS), "limit": 5}),
        "gen_ai.tool.call.result": json.dumps({"ok": True, "items": rng.randrange(0, 20)}),
    }
    return f"execute_tool {tool}", SpanKind.INTERNAL, attrs, "pydantic-ai"


def _gen_ai_agent(rng: random.Random, i: int) -> tuple[str, int, _Attrs, str]:
    attrs: _Attrs = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "support-agent",
        "gen_ai.agent.id": f"agent-{i % 7}",
        "gen_ai.conversation.id": f"conv-{i // 10:06d}",
        "gen_ai.provider.name": "openai",
    }
    return "invoke_agent support-agent", SpanKind.INTERNAL, attrs, "pydantic-ai"


def _oi_llm(rng: random.Random, i: int) -> tuple[str, int, _Attrs, str]:
    provider, model = _pick(rng, _MODELS)
    prompt, completion = rng.randrange(50, 4000), rng.randrange(10, 800)
    attrs: _Attrs = {
        "openinference.span.kind": "LLM",
        "llm.model_name": model,
        "llm.provider": provider,
        "llm.system": provider,
        "llm.invocation_parameters": json.dumps({"temperature": 0.0, "max_tokens": 512}),
        "llm.input_messages.0.message.role": "system",
        "llm.input_messages.0.message.content": "Answer from the context only.",
        "llm.input_messages.1.message.role": "user",
        "llm.input_messages.1.message.content": _pick(rng, _QUESTIONS),
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": _pick(rng, _ANSWERS),
        "llm.token_count.prompt": prompt,
        "llm.token_count.completion": completion,
        "llm.token_count.total": prompt + completion,
        "input.mime_type": "application/json",
        "output.mime_type": "text/plain",
    }
    return "ChatOpenAI", SpanKind.INTERNAL, attrs, "openinference.instrumentation.langchain"


def _oi_retriever(rng: random.Random, i: int) -> tuple[str, int, _Attrs, str]:
    attrs: _Attrs = {
        "openinference.span.kind": "RETRIEVER",
        "input.value": _pick(rng, _QUESTIONS),
        "input.mime_type": "text/plain",
    }
    for d in range(3):
        prefix = f"retrieval.documents.{d}.document"
        attrs[f"{prefix}.id"] = f"doc-{rng.randrange(10_000)}"
        attrs[f"{prefix}.content"] = _pick(rng, _DOCS)
        attrs[f"{prefix}.score"] = round(rng.random(), 4)
        attrs[f"{prefix}.metadata"] = json.dumps({"source": "kb", "page": rng.randrange(1, 90)})
    return (
        "VectorStoreRetriever",
        SpanKind.INTERNAL,
        attrs,
        "openinference.instrumentation.langchain",
    )


def _oi_embedding(rng: random.Random, i: int) -> tuple[str, int, _Attrs, str]:
    attrs: _Attrs = {
        "openinference.span.kind": "EMBEDDING",
        "embedding.model_name": "text-embedding-3-small",
        "embedding.embeddings.0.embedding.text": _pick(rng, _QUESTIONS),
        "llm.token_count.prompt": rng.randrange(5, 60),
        "llm.token_count.total": rng.randrange(5, 60),
    }
    return "OpenAIEmbeddings", SpanKind.INTERNAL, attrs, "openinference.instrumentation.langchain"


def _traceloop_workflow(rng: random.Random, i: int) -> tuple[str, int, _Attrs, str]:
    attrs: _Attrs = {
        "traceloop.span.kind": "workflow",
        "traceloop.entity.name": "answer_ticket",
        "traceloop.workflow.name": "answer_ticket",
        "traceloop.entity.path": "",
        "traceloop.entity.input": json.dumps(
            {"args": [_pick(rng, _QUESTIONS)], "kwargs": {"ticket_id": i}}
        ),
        "traceloop.entity.output": json.dumps(_pick(rng, _ANSWERS)),
        "traceloop.association.properties.customer_id": f"cus_{rng.randrange(10_000):05d}",
        "traceloop.association.properties.session_id": f"sess-{i // 10}",
    }
    return "answer_ticket.workflow", SpanKind.INTERNAL, attrs, "traceloop.sdk"


def _traceloop_task(rng: random.Random, i: int) -> tuple[str, int, _Attrs, str]:
    attrs: _Attrs = {
        "traceloop.span.kind": "task",
        "traceloop.entity.name": "rank_documents",
        "traceloop.workflow.name": "answer_ticket",
        "traceloop.entity.path": "answer_ticket",
        "traceloop.entity.input": json.dumps({"args": [], "kwargs": {"k": 3}}),
        "traceloop.entity.output": json.dumps([_pick(rng, _DOCS) for _ in range(2)]),
    }
    return "rank_documents.task", SpanKind.INTERNAL, attrs, "traceloop.sdk"


def _langsmith_chain(rng: random.Random, i: int) -> tuple[str, int, _Attrs, str]:
    attrs: _Attrs = {
        "langsmith.span.kind": "chain",
        "langsmith.trace.name": "support_pipeline",
        "langsmith.trace.session_name": "support-prod",
        "langsmith.metadata.user_tier": _pick(rng, ["free", "pro", "enterprise"]),
        "langsmith.metadata.release": "2025.10.1",
        "langsmith.span.tags": "prod,support",
        "gen_ai.prompt": json.dumps({"question": _pick(rng, _QUESTIONS)}),
        "gen_ai.completion": json.dumps({"answer": _pick(rng, _ANSWERS)}),
    }
    return "support_pipeline", SpanKind.INTERNAL, attrs, "langsmith"


def _http_server(rng: random.Random, i: int) -> tuple[str, int, _Attrs, str]:
    attrs: _Attrs = {
        "http.request.method": "POST",
        "http.route": "/v1/tickets/{id}/answer",
        "url.path": f"/v1/tickets/{i}/answer",
        "url.scheme": "https",
        "http.response.status_code": 200,
        "server.address": "support.example.com",
        "client.address": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
        "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64)",
    }
    return (
        "POST /v1/tickets/{id}/answer",
        SpanKind.SERVER,
        attrs,
        "opentelemetry.instrumentation.fastapi",
    )


def _http_client(rng: random.Random, i: int) -> tuple[str, int, _Attrs, str]:
    attrs: _Attrs = {
        "http.request.method": "POST",
        "url.full": "https://api.openai.com/v1/chat/completions",
        "server.address": "api.openai.com",
        "server.port": 443,
        "http.response.status_code": _pick(rng, [200, 200, 200, 429]),
        "network.protocol.version": "1.1",
    }
    return "POST", SpanKind.CLIENT, attrs, "opentelemetry.instrumentation.httpx"


# One trace: (template, index of the parent in this list or -1). Roots rotate between an
# HTTP server span, a Traceloop workflow and a LangSmith chain.
_TRACE: list[tuple[_Template | None, int]] = [
    (None, -1),  # the root, chosen per trace
    (_gen_ai_agent, 0),
    (_oi_retriever, 1),
    (_oi_embedding, 2),
    (_traceloop_task, 1),
    (_gen_ai_chat, 1),
    (_http_client, 5),
    (_gen_ai_tool, 1),
    (_oi_llm, 1),
    (_http_client, 8),
]
_ROOTS: list[_Template] = [_http_server, _traceloop_workflow, _langsmith_chain]

_SERVICES = [
    {"service.name": "support-api", "service.version": "2.3.1", "deployment.environment": "prod"},
    {"service.name": "rag-worker", "service.version": "0.9.0", "deployment.environment": "prod"},
]
_SDK_RESOURCE = {
    "telemetry.sdk.language": "python",
    "telemetry.sdk.name": "opentelemetry",
    "telemetry.sdk.version": "1.45.2",
}


def _pad(rng: random.Random, attrs: _Attrs, count: int) -> None:
    """Ordinary app attributes, up to `count` in all: strings mostly, some numbers."""
    n = 0
    while len(attrs) < count:
        slot = n % 5
        if slot == 3:
            attrs[f"app.metric.{n}"] = rng.randrange(1_000_000)
        elif slot == 4:
            attrs[f"app.ratio.{n}"] = rng.random()
        else:
            attrs[f"app.context.{n}"] = f"value-{rng.getrandbits(40):010x}"
        n += 1


def make_request_spans(
    n_spans: int = 1000, attrs_per_span: int = 20, seed: int = 0
) -> list[SpanRecord]:
    """A deterministic batch of `n_spans` realistic LLM-app spans.

    Args:
        n_spans: how many spans (the last trace is cut short when it does not divide).
        attrs_per_span: attributes per span; convention attributes first, then padding
            (spans whose convention needs more keep them all).
        seed: the random seed; equal arguments give equal spans.
    """
    rng = random.Random(seed)
    spans: list[SpanRecord] = []
    trace_no = 0
    while len(spans) < n_spans:
        trace_id = rng.randbytes(16)
        resource = {**_SERVICES[trace_no % len(_SERVICES)], **_SDK_RESOURCE}
        start = _BASE_NS + trace_no * 1_500_000_000
        ids: list[bytes] = []
        for pos, (template, parent_pos) in enumerate(_TRACE):
            if len(spans) >= n_spans:
                break
            make = template or _ROOTS[trace_no % len(_ROOTS)]
            name, kind, attrs, scope = make(rng, len(spans))
            _pad(rng, attrs, attrs_per_span)
            span_id = rng.randbytes(8)
            ids.append(span_id)
            begin = start + pos * 40_000_000 + rng.randrange(1_000_000)
            end = begin + rng.randrange(5_000_000, 900_000_000)
            failed = rng.random() < 0.03
            events = (
                [
                    SpanEvent(
                        "exception",
                        end - 1000,
                        {
                            "exception.type": "openai.RateLimitError",
                            "exception.message": "Rate limit reached for requests",
                            "exception.stacktrace": "Traceback (most recent call last):\n  ...",
                        },
                    )
                ]
                if failed
                else []
            )
            spans.append(
                SpanRecord(
                    trace_id=trace_id,
                    span_id=span_id,
                    name=name,
                    parent_span_id=ids[parent_pos] if parent_pos >= 0 else b"",
                    kind=int(kind),
                    start_time_unix_nano=begin,
                    end_time_unix_nano=end,
                    attributes=attrs,
                    events=events,
                    status_code=int(StatusCode.ERROR if failed else StatusCode.UNSET),
                    status_message="Rate limit reached for requests" if failed else "",
                    flags=0x101,
                    resource=dict(resource),
                    scope_name=scope,
                    scope_version="0.1.0",
                )
            )
        trace_no += 1
    return spans


# --- the yardstick -------------------------------------------------------------------
# This machine's speed drifts (~2x between days for the same commit), so every script
# also measures, in the same run and on the same kind of payload, one core's plain
# `orjson.loads` of the OTLP/JSON request plus a walk that touches every span and value,
# and prints each figure as a ratio to it. Targets are ratios; the absolute figures are
# for the day's context only.


def _walk_value(value: Any) -> int:
    """Touch every leaf of an OTLP/JSON AnyValue; the count keeps the walk honest."""
    if isinstance(value, dict):
        n = 0
        for item in value.values():
            n += _walk_value(item)
        return n
    if isinstance(value, list):
        n = 0
        for item in value:
            n += _walk_value(item)
        return n
    return 1


def walk_otlp_json(body: bytes) -> int:
    """`orjson.loads` the body and walk every span's fields, attributes and events: the
    least a decoder must do. Returns the number of spans."""
    import orjson

    spans = 0
    for resource_spans in orjson.loads(body).get("resourceSpans", ()):
        _walk_value(resource_spans.get("resource", {}))
        for scope_spans in resource_spans.get("scopeSpans", ()):
            _walk_value(scope_spans.get("scope", {}))
            for span in scope_spans.get("spans", ()):
                _walk_value(span)
                spans += 1
    return spans


class Yardstick:
    """spans/s of `walk_otlp_json` over the standard request (1,000 spans x 20 attributes
    unless told), best of `repeat` passes, on the calling thread (one core)."""

    def __init__(self, n_spans: int = 1000, attrs: int = 20, repeat: int = 7) -> None:
        import gc
        import time

        from otel_llm.otlp import encode_otlp_json

        body = encode_otlp_json(make_request_spans(n_spans, attrs))
        walk_otlp_json(body)  # warm up
        best = float("inf")
        for _ in range(repeat):
            gc.collect()
            start = time.perf_counter()
            counted = walk_otlp_json(body)
            best = min(best, time.perf_counter() - start)
        assert counted == n_spans
        self.rate = n_spans / best  # spans/s
        self.span_us = best / n_spans * 1e6  # µs per span
        self.request_ms = best * 1000  # ms per 1,000-span request (at the default size)

    def remeasure(self, n_spans: int = 1000, attrs: int = 20) -> None:
        """Measure again (e.g. at the end of a long run) and keep the faster: a busy
        moment on a shared machine should not make every ratio look better."""
        again = Yardstick(n_spans, attrs)
        if again.rate > self.rate:
            self.rate, self.span_us, self.request_ms = again.rate, again.span_us, again.request_ms

    def describe(self) -> str:
        return (
            f"yardstick: orjson.loads + walk of OTLP/JSON, one core = {self.rate:,.0f} "
            f"spans/s ({self.span_us:.2f} µs/span, {self.request_ms:.1f} ms per 1,000)"
        )

    def rate_ratio(self, rate: float) -> float:
        """A throughput as a multiple of the yardstick's (higher is faster)."""
        return rate / self.rate

    def time_ratio(self, seconds: float, spans: int = 1000) -> float:
        """A time as a multiple of the yardstick's time for `spans` spans (lower is faster)."""
        return seconds / (spans / self.rate)
