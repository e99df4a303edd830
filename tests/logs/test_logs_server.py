"""OTLP logs against a real server: the real SDK's OTLP log and span exporters over both
transports, log records and spans in every order, unjoined records, evaluations."""

from __future__ import annotations

import gzip
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_llm.convert import run_to_span
from otel_llm.ids import run_id_from_span_id
from otel_llm.model import Run
from otel_llm.server import OtelLlmServer, ServerSettings
from otel_llm.store.base import RunQuery
from otel_llm.store.sqlite import SQLiteStore

TRANSPORTS = ("http", "grpc")


def _exporters(server: OtelLlmServer, transport: str) -> tuple[Any, Any]:
    if transport == "http":
        return (
            HttpSpans(endpoint=server.http_url + "/v1/traces"),
            HttpLogs(endpoint=server.http_url + "/v1/logs"),
        )
    return (
        GrpcSpans(endpoint=server.grpc_address, insecure=True),
        GrpcLogs(endpoint=server.grpc_address, insecure=True),
    )


def _chat_telemetry(
    evaluation: bool = False,
) -> tuple[list[ReadableSpan], list[ReadableLogRecord], int]:
    """One chat span (no content on it) and its GenAI event records, made by the SDK."""
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(spans))
    lp = LoggerProvider()
    lp.add_log_record_processor(SimpleLogRecordProcessor(logs))
    tracer, logger = tp.get_tracer("test"), lp.get_logger("test")
    with tracer.start_as_current_span("chat gpt-4o", kind=trace.SpanKind.CLIENT) as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o",
            }
        )
        attrs = {"gen_ai.system": "openai"}
        logger.emit(
            event_name="gen_ai.system.message", attributes=attrs, body={"content": "be brief"}
        )
        logger.emit(
            event_name="gen_ai.user.message",
            attributes=attrs,
            body={"content": "weather in Paris?"},
        )
        logger.emit(
            event_name="gen_ai.choice",
            attributes=attrs,
            body={
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        }
                    ],
                },
            },
        )
        if evaluation:
            logger.emit(
                event_name="gen_ai.evaluation.result",
                attributes={
                    "gen_ai.evaluation.name": "relevance",
                    "gen_ai.evaluation.score.value": 0.75,
                    "gen_ai.evaluation.score.label": "relevant",
                    "gen_ai.evaluation.explanation": "asks for the tool it needs",
                },
            )
        span_id = span.get_span_context().span_id
    return list(spans.get_finished_spans()), list(logs.get_finished_logs()), span_id


def _check_joined(store: SQLiteStore, span_id: int) -> dict[str, Any]:
    run = store.get_run(str(run_id_from_span_id(span_id.to_bytes(8, "big"))))
    assert run is not None
    assert run["inputs"] == {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "weather in Paris?"},
        ]
    }
    (choice,) = run["outputs"]["messages"]
    assert choice["tool_calls"][0]["function"]["name"] == "get_weather"
    assert choice["finish_reason"] == "tool_calls"
    return run


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("order", ["logs_first", "span_first", "one_by_one", "interleaved"])
def test_events_join_their_span_in_any_order(
    make_server: Callable[..., OtelLlmServer], store: SQLiteStore, transport: str, order: str
) -> None:
    spans, logs, span_id = _chat_telemetry()
    server = make_server()
    span_exporter, log_exporter = _exporters(server, transport)
    if order == "logs_first":
        assert log_exporter.export(logs).name == "SUCCESS"
        assert store.log_event_counts(600)["waiting"] == 3
        span_exporter.export(spans)
    elif order == "span_first":
        span_exporter.export(spans)
        log_exporter.export(logs)
    elif order == "one_by_one":  # every record in its own request, the span last
        for record in reversed(logs):
            log_exporter.export([record])
        span_exporter.export(spans)
    else:
        log_exporter.export(logs[1:2])
        span_exporter.export(spans)
        log_exporter.export([logs[2], logs[0]])
        log_exporter.export(logs)  # a retry changes nothing
        span_exporter.export(spans)
    _check_joined(store, span_id)
    assert store.log_event_counts(600) == {"joined": 3, "waiting": 0, "unjoined": 0}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_events_join_a_span_that_arrives_after_a_restart(tmp_path: Path, transport: str) -> None:
    spans, logs, span_id = _chat_telemetry()
    path = tmp_path / "restart.db"
    for step in ("logs", "span"):
        store = SQLiteStore(path)
        server = OtelLlmServer(store, ServerSettings(grpc_port=0, http_port=0))
        server.start()
        try:
            span_exporter, log_exporter = _exporters(server, transport)
            if step == "logs":
                log_exporter.export(logs)
            else:
                span_exporter.export(spans)
                _check_joined(store, span_id)
        finally:
            server.stop()
            store.close()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _json_logs(records: Sequence[dict[str, Any]]) -> bytes:
    return orjson.dumps(
        {
            "resourceLogs": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": "t"}}]
                    },
                    "scopeLogs": [{"scope": {"name": "test"}, "logRecords": list(records)}],
                }
            ]
        }
    )


def test_json_gzip_partial_success_and_unjoined(server: OtelLlmServer, store: SQLiteStore) -> None:
    trace_hex, span_hex = os.urandom(16).hex(), os.urandom(8).hex()
    body = _json_logs(
        [
            {
                "timeUnixNano": "1700000000000000000",
                "traceId": trace_hex,
                "spanId": span_hex,
                "attributes": [
                    {"key": "event.name", "value": {"stringValue": "gen_ai.user.message"}},
                    {"key": "gen_ai.system", "value": {"stringValue": "openai"}},
                ],
                "body": {
                    "kvlistValue": {"values": [{"key": "content", "value": {"stringValue": "hi"}}]}
                },
            },
            {
                "timeUnixNano": "1700000000000000001",
                "eventName": "gen_ai.user.message",
                "body": {
                    "kvlistValue": {
                        "values": [{"key": "content", "value": {"stringValue": "no span"}}]
                    }
                },
            },
            {
                "timeUnixNano": 1700000000000000002,
                "traceId": trace_hex,
                "spanId": "abcd",
                "eventName": "gen_ai.choice",
            },
        ]
    )
    status, answer = _post(
        server.http_url + "/v1/logs",
        gzip.compress(body),
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert status == 200
    partial = orjson.loads(answer)["partialSuccess"]
    assert partial["rejectedLogRecords"] == "1"
    assert "span_id has 2 bytes" in partial["errorMessage"]
    # The records' resource names project "t".
    with urllib.request.urlopen(server.http_url + "/logs/unjoined?limit=10&project=t") as response:
        unjoined = orjson.loads(response.read())
    # The record with no span context is unjoined at once; the other waits for its span.
    assert unjoined["counts"] == {"joined": 0, "waiting": 1, "unjoined": 1}
    (record,) = unjoined["records"]
    assert record["body"] == {"content": "no span"} and record["trace_id"] == ""
    # Past the join wait, the waiting record counts as unjoined too (and stays listed).
    assert store.log_event_counts(0) == {"joined": 0, "waiting": 0, "unjoined": 2}


def test_bad_logs_bodies(server: OtelLlmServer) -> None:
    status, answer = _post(
        server.http_url + "/v1/logs", b"{not json", {"Content-Type": "application/json"}
    )
    assert status == 400 and b"ExportLogsServiceRequest" in answer
    status, _ = _post(server.http_url + "/v1/logs", b"x", {"Content-Type": "text/plain"})
    assert status == 415


def test_api_key_guards_logs(make_server: Callable[..., OtelLlmServer]) -> None:
    server = make_server(api_key="secret")
    _, logs, _ = _chat_telemetry()
    assert HttpLogs(endpoint=server.http_url + "/v1/logs").export(logs).name == "FAILURE"
    good = HttpLogs(endpoint=server.http_url + "/v1/logs", headers={"x-api-key": "secret"})
    assert good.export(logs).name == "SUCCESS"
    grpc_bad = GrpcLogs(endpoint=server.grpc_address, insecure=True, timeout=5)
    assert grpc_bad.export(logs).name == "FAILURE"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_evaluation_records_become_feedback(
    make_server: Callable[..., OtelLlmServer], store: SQLiteStore, transport: str
) -> None:
    from langsmith import Client

    spans, logs, span_id = _chat_telemetry(evaluation=True)
    server = make_server()
    span_exporter, log_exporter = _exporters(server, transport)
    log_exporter.export(logs)
    span_exporter.export(spans)
    log_exporter.export(logs)  # sent again: still one feedback
    run = _check_joined(store, span_id)
    client = Client(api_url=server.http_url, api_key="unused")
    (feedback,) = list(client.list_feedback(run_ids=[run["id"]]))
    assert feedback.key == "relevance" and feedback.score == 0.75
    assert feedback.value == "relevant" and feedback.comment == "asks for the tool it needs"
    assert store.get_run(run["id"])["feedback_stats"]["relevance"]["n"] == 1  # type: ignore[index]
    # Written back as a span, the evaluation is a gen_ai.evaluation.result event again.
    span = run_to_span(Run.from_dict(store.get_run(run["id"])))  # type: ignore[arg-type]
    (event,) = [e for e in span.events if e.name == "gen_ai.evaluation.result"]
    assert event.attributes["gen_ai.evaluation.name"] == "relevance"


def test_evaluation_span_events_become_feedback(server: OtelLlmServer, store: SQLiteStore) -> None:
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(HttpSpans(endpoint=server.http_url + "/v1/traces")))
    with tp.get_tracer("t").start_as_current_span("chat gpt-4o") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.add_event(
            "gen_ai.evaluation.result",
            {
                "gen_ai.evaluation.name": "toxicity",
                "gen_ai.evaluation.score.value": 0.0,
                "gen_ai.evaluation.score.label": "clean",
            },
        )
        span_id = span.get_span_context().span_id
    run_id = str(run_id_from_span_id(span_id.to_bytes(8, "big")))
    (feedback,) = store.list_feedback([run_id])
    assert (feedback["key"], feedback["score"], feedback["value"]) == ("toxicity", 0.0, "clean")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_openai_v2_event_mode(
    make_server: Callable[..., OtelLlmServer],
    store: SQLiteStore,
    transport: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real opentelemetry-instrumentation-openai-v2 in its default event mode, with
    the SDK's OTLP log and span exporters, against the fake OpenAI API."""
    import openai
    import opentelemetry.instrumentation.openai_v2 as oai  # in the test extra: never skipped

    from tests.golden.fake_llm import serve

    # openai-v2 2.4 (opentelemetry-util-genai 1.x): content in the operation-details log
    # event, the current GenAI semconv; 2.3 took "true" and wrote one event per message.
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "EVENT_ONLY")
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    # openai-v2 2.3b0 calls wrapt 1's `wrap_function_wrapper(module=...)`; wrapt 2 named
    # that argument `target`: pass it by position.
    wrap = oai.wrap_function_wrapper
    monkeypatch.setattr(
        oai, "wrap_function_wrapper", lambda module, name, wrapper: wrap(module, name, wrapper)
    )
    server = make_server()
    span_exporter, log_exporter = _exporters(server, transport)
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(span_exporter))
    lp = LoggerProvider()
    lp.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    instrumentor = oai.OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tp, logger_provider=lp)
    try:
        with serve() as url:
            client = openai.OpenAI(base_url=url + "/v1", api_key="test")
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "capital of France?"},
                ],
            )
    finally:
        instrumentor.uninstrument()
    tp.force_flush()
    lp.force_flush()
    (run,), _ = store.query_runs(RunQuery())
    assert run["run_type"] == "llm"
    assert run["inputs"] == {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "capital of France?"},
        ]
    }
    assert run["outputs"]["messages"][0]["content"]
    assert run["total_tokens"]
    assert store.log_event_counts(600)["joined"] == 1  # one operation-details event
