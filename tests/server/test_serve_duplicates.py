"""Double instrumentation through `otel-llm serve`: the spans of one chat call recorded by
both OpenInference and openai-v2 (real instrumentations, real openai client, fake API)
sent by the real OTLP exporters over HTTP and gRPC, in both orders, in one request or
separate ones, and across a kill -9 of a real `otel-llm serve` process: the trace, its
root and its project count the call's tokens once; both LLM runs are readable."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk.trace import ReadableSpan

from otel_llm.duplicates import DUPLICATE_OF_KEY
from otel_llm.server import OtelLlmServer
from tests.server.helpers import ServeProcess
from tests.store.double_instrumentation import CALL_TOKENS, ORDERS, double_call
from tests.store.test_store_duplicates import AGENT, INNER, OUTER, run_id

ARRIVALS = {
    "inner first, own requests": [(INNER,), (OUTER,), (AGENT,)],
    "outer first, own requests": [(AGENT,), (OUTER,), (INNER,)],
    "one request": [(INNER, OUTER, AGENT)],
}


def export(url_or_address: str, transport: str, spans: Sequence[ReadableSpan]) -> None:
    if transport == "http":
        exporter: Any = HttpSpans(endpoint=url_or_address + "/v1/traces")
    else:
        exporter = GrpcSpans(endpoint=url_or_address, insecure=True)
    assert exporter.export(spans).name == "SUCCESS"
    exporter.shutdown()


def check_over_http(url: str, spans: Sequence[ReadableSpan]) -> None:
    """What a client reads: both LLM runs with the call's usage, the inner one marked;
    the trace's stats, its root and the project with the call's tokens once."""
    inner, outer, agent = (httpx.get(f"{url}/runs/{run_id(s)}").json() for s in spans)
    assert inner["total_tokens"] == outer["total_tokens"] == CALL_TOKENS["total"]
    assert inner["extra"]["metadata"][DUPLICATE_OF_KEY] == outer["id"]
    assert DUPLICATE_OF_KEY not in (outer["extra"].get("metadata") or {})
    assert agent["total_tokens"] == CALL_TOKENS["total"]
    stats = httpx.post(f"{url}/runs/stats", json={"trace": agent["trace_id"]}).json()
    assert (stats["run_count"], stats["prompt_tokens"], stats["total_tokens"]) == (
        3,
        CALL_TOKENS["prompt"],
        CALL_TOKENS["total"],
    )
    (project,) = httpx.get(f"{url}/sessions", params={"name": agent["session_name"]}).json()
    assert project["total_tokens"] == CALL_TOKENS["total"]


@pytest.mark.parametrize("arrival", list(ARRIVALS))
@pytest.mark.parametrize("transport", ["http", "grpc"])
@pytest.mark.parametrize("order", list(ORDERS))
def test_one_call_counts_once(
    make_server: Callable[..., OtelLlmServer], order: str, transport: str, arrival: str
) -> None:
    spans = double_call(order)
    server = make_server()
    target = server.http_url if transport == "http" else server.grpc_address
    for request in ARRIVALS[arrival]:
        export(target, transport, [spans[i] for i in request])
    check_over_http(server.http_url, spans)


def test_one_call_counts_once_across_a_kill(tmp_path: Path) -> None:
    spans = double_call("openinference inside")
    db = tmp_path / "runs.db"
    first = ServeProcess(db)
    try:
        export(first.http_url, "http", [spans[INNER]])
    finally:
        first.kill()  # SIGKILL: the answered export is committed
    second = ServeProcess(db)
    try:
        export(second.grpc_address, "grpc", [spans[OUTER], spans[AGENT]])
        check_over_http(second.http_url, spans)
    finally:
        second.kill()
