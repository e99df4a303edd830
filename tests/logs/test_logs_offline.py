"""Log records joined without a server: `RunLogProcessor` in the SDK's pipelines, and
`otel-llm convert --logs` / an OTLP/JSON file holding spans and logs."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from otel_llm import InMemoryRunSink, RunLogProcessor, RunSpanProcessor
from otel_llm.cli import main
from otel_llm.otlp import decode_otlp_protobuf, encode_otlp_json
from otel_llm.otlp.logs import decode_logs_json, decode_logs_protobuf
from tests.logs.test_logs_server import _chat_telemetry

INPUTS = {
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "weather in Paris?"},
    ]
}


def _check(run: dict[str, object]) -> None:
    assert run["inputs"] == INPUTS
    (choice,) = run["outputs"]["messages"]  # type: ignore[index]
    assert choice["tool_calls"][0]["function"]["name"] == "get_weather"


def test_run_log_processor_joins_records_in_process() -> None:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.trace import TracerProvider

    sink = InMemoryRunSink()
    runs = RunSpanProcessor(sink=sink)
    tp = TracerProvider()
    tp.add_span_processor(runs)
    lp = LoggerProvider()
    lp.add_log_record_processor(RunLogProcessor(runs))
    tracer, logger = tp.get_tracer("t"), lp.get_logger("t")
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.system": "openai"})
        logger.emit(
            event_name="gen_ai.system.message",
            body={"content": "be brief"},
            attributes={"gen_ai.system": "openai"},
        )
        logger.emit(event_name="gen_ai.user.message", body={"content": "weather in Paris?"})
        logger.emit(
            event_name="gen_ai.choice",
            body={
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{}"},
                        }
                    ]
                },
            },
        )
        logger.emit(body="an ordinary log line")  # not GenAI: ignored
    logger.emit(event_name="gen_ai.user.message", body={"content": "late"})  # no span
    tp.force_flush()
    (run,) = sink.get_finished_runs()
    _check(run.to_dict())
    assert runs.stats.log_events_joined == 3
    tp.shutdown()


def _files(tmp_path: Path) -> tuple[Path, Path]:
    spans, logs, _ = _chat_telemetry(evaluation=True)
    spans_file, logs_file = tmp_path / "spans.pb", tmp_path / "logs.pb"
    spans_file.write_bytes(encode_spans(spans).SerializeToString())
    logs_file.write_bytes(encode_logs(logs).SerializeToString())
    return spans_file, logs_file


def test_convert_with_a_logs_file(tmp_path: Path) -> None:
    spans_file, logs_file = _files(tmp_path)
    out = tmp_path / "runs.jsonl"
    result = CliRunner().invoke(
        main, ["convert", str(spans_file), "--logs", str(logs_file), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    (run,) = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    _check(run)
    assert [e["name"] for e in run["events"]] == ["gen_ai.evaluation.result"]


def test_convert_one_json_file_with_spans_and_logs(tmp_path: Path) -> None:
    spans_file, logs_file = _files(tmp_path)
    records = decode_logs_protobuf(logs_file.read_bytes())
    doc = orjson.loads(encode_otlp_json(decode_otlp_protobuf(spans_file.read_bytes())))
    doc["resourceLogs"] = [
        {
            "scopeLogs": [
                {
                    "logRecords": [
                        {
                            "timeUnixNano": str(r.time_unix_nano),
                            "traceId": r.trace_id.hex(),
                            "spanId": r.span_id.hex(),
                            "eventName": r.event_name,
                            "attributes": [
                                {"key": k, "value": {"stringValue": str(v)}}
                                for k, v in r.attributes.items()
                            ],
                            "body": _any(r.body),
                        }
                        for r in records
                    ]
                }
            ]
        }
    ]
    both = tmp_path / "both.json"
    both.write_bytes(orjson.dumps(doc))
    assert len(decode_logs_json(both.read_bytes())) == len(records)
    out = tmp_path / "runs.jsonl"
    result = CliRunner().invoke(main, ["convert", str(both), "-o", str(out)])
    assert result.exit_code == 0, result.output
    (run,) = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    _check(run)


def _any(value: object) -> dict[str, object]:
    if isinstance(value, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": _any(v)} for k, v in value.items()]}}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_any(v) for v in value]}}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def test_openai_v2_event_mode_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """openai-v2 in its default event mode, the processor pair in the SDK's pipelines."""
    import openai
    import opentelemetry.instrumentation.openai_v2 as oai  # in the test extra: never skipped
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.trace import TracerProvider

    from tests.golden.fake_llm import serve

    # openai-v2 2.4 (opentelemetry-util-genai 1.x): content in the operation-details log
    # event, the current GenAI semconv; 2.3 took "true" and wrote one event per message.
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "EVENT_ONLY")
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    wrap = oai.wrap_function_wrapper  # wrapt 2 names openai-v2 2.3b0's `module=` `target`
    monkeypatch.setattr(
        oai, "wrap_function_wrapper", lambda module, name, wrapper: wrap(module, name, wrapper)
    )
    sink = InMemoryRunSink()
    runs = RunSpanProcessor(sink=sink)
    tp = TracerProvider()
    tp.add_span_processor(runs)
    lp = LoggerProvider()
    lp.add_log_record_processor(RunLogProcessor(runs))
    instrumentor = oai.OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tp, logger_provider=lp)
    try:
        with serve() as url:
            openai.OpenAI(base_url=url + "/v1", api_key="t").chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        instrumentor.uninstrument()
    tp.force_flush()
    (run,) = sink.get_finished_runs()
    assert run.inputs == {"messages": [{"role": "user", "content": "hi"}]}
    assert run.outputs is not None and run.outputs["messages"][0]["content"]
    tp.shutdown()


def test_an_older_database_gets_the_log_tables(tmp_path: Path) -> None:
    import sqlite3

    from otel_llm.store.sqlite import SCHEMA_VERSION, SQLiteStore

    path = tmp_path / "old.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.executescript("DROP TABLE log_events; DROP TABLE log_joins; PRAGMA user_version = 2;")
    conn.close()
    with SQLiteStore(path) as store:
        assert store.log_event_counts(600) == {"joined": 0, "waiting": 0, "unjoined": 0}
        version = store._reader().execute("PRAGMA user_version").fetchone()[0]
    assert version == SCHEMA_VERSION


def test_an_inference_details_record_gives_its_messages_and_usage() -> None:
    """semconv 1.37+: `gen_ai.client.inference.operation.details` carries messages and
    usage as attributes; joined to a span without them, they are read as the span's."""
    import os

    from otel_llm.convert import span_to_run
    from otel_llm.model import SpanRecord
    from otel_llm.otlp.logs import LogRecord, attach_to_spans

    tid, sid = os.urandom(16), os.urandom(8)
    span = SpanRecord(
        tid,
        sid,
        "chat gpt-4o",
        kind=3,
        start_time_unix_nano=10**18,
        end_time_unix_nano=10**18 + 10**9,
        attributes={"gen_ai.operation.name": "chat"},
    )
    record = LogRecord(
        10**18 + 5,
        tid,
        sid,
        "gen_ai.client.inference.operation.details",
        {
            "gen_ai.input.messages": orjson.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
            ).decode(),
            "gen_ai.output.messages": orjson.dumps(
                [
                    {
                        "role": "assistant",
                        "finish_reason": "stop",
                        "parts": [{"type": "text", "content": "hello"}],
                    }
                ]
            ).decode(),
            "gen_ai.usage.input_tokens": 3,
            "gen_ai.usage.output_tokens": 2,
            "gen_ai.response.model": "gpt-4o-2024-08-06",
        },
    )
    assert attach_to_spans([span], [record]) == []
    run = span_to_run(span)
    assert run is not None
    assert run.inputs == {"messages": [{"role": "user", "content": "hi"}]}
    assert run.outputs is not None and run.outputs["messages"][0]["content"] == "hello"
    assert run.usage is not None and run.usage["input_tokens"] == 3


def test_an_evaluation_has_one_feedback_id_as_a_span_event_or_a_log_record() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otel_llm.convert import spans_to_runs
    from otel_llm.evaluations import evaluation_feedback, feedback_of_runs

    attrs = {"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.5}
    at_ns = 1_760_000_000_123_456_789  # below the microsecond an ISO time keeps
    spans = InMemorySpanExporter()  # type: ignore[no-untyped-call]
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(spans))
    with tp.get_tracer("t").start_as_current_span("chat gpt-4o", start_time=at_ns - 10) as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.add_event("gen_ai.evaluation.result", attrs, timestamp=at_ns)
    records = decode_otlp_protobuf(encode_spans(spans.get_finished_spans()).SerializeToString())
    (run,) = spans_to_runs(records)
    (from_span,) = feedback_of_runs([run])
    from_log = evaluation_feedback(str(run.id), str(run.trace_id), attrs, at_ns)
    assert from_log is not None and from_span["id"] == from_log["id"]
