"""Log records per project and their deletion, against a real server: the real SDK's
OTLP log exporters send records of two projects (by header and by resource); each project
reads only its own unjoined records; deleting a trace deletes its records; retention
deletes unjoined records by age, per project."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from otel_llm.ids import run_id_from_span_id
from otel_llm.server import OtelLlmServer
from otel_llm.store.sqlite import SQLiteStore
from tests.logs.test_logs_server import _chat_telemetry, _check_joined, _exporters

HOUR_NS = 3600 * 10**9


def _records(service: str, *texts: str) -> list[ReadableLogRecord]:
    """Log records with no span context (so unjoined at once) from a `service`."""
    exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider(resource=Resource.create({"service.name": service}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("test")
    for text in texts:
        logger.emit(event_name="gen_ai.user.message", body={"content": text})
    return list(exporter.get_finished_logs())


def _export(server: OtelLlmServer, transport: str, records: Any, project: str | None) -> None:
    headers = {"langsmith-project": project} if project else None
    if transport == "http":
        exporter: Any = HttpLogs(endpoint=server.http_url + "/v1/logs", headers=headers)
    else:
        exporter = GrpcLogs(endpoint=server.grpc_address, insecure=True, headers=headers)
    assert exporter.export(records).name == "SUCCESS"


def _unjoined(server: OtelLlmServer, header: str | None = None, **params: str) -> Any:
    headers = {"Langsmith-Project": header} if header else {}
    response = httpx.get(server.http_url + "/logs/unjoined", params=params, headers=headers)
    assert response.status_code == 200
    return response.json()


def _texts(answer: Any) -> list[str]:
    return sorted(r["body"]["content"] for r in answer["records"])


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_each_project_reads_only_its_unjoined_records(
    server: OtelLlmServer, transport: str
) -> None:
    # "alpha" by the request's header (which wins over the resource), "beta" by resource.
    _export(server, transport, _records("ignored", "a1", "a2"), "alpha")
    _export(server, transport, _records("beta", "b1"), None)
    alpha = _unjoined(server, "alpha")
    assert alpha["project"] == "alpha"
    assert _texts(alpha) == ["a1", "a2"]
    assert alpha["counts"] == {"joined": 0, "waiting": 0, "unjoined": 2}
    beta = _unjoined(server, project="beta")
    assert _texts(beta) == ["b1"] and beta["counts"]["unjoined"] == 1
    # The header wins over the query parameter, as it does for writes.
    assert _texts(_unjoined(server, "alpha", project="beta")) == ["a1", "a2"]
    nobody = _unjoined(server)  # no project named: the default project, which has none
    assert nobody["project"] == "default" and nobody["records"] == []
    assert nobody["counts"] == {"joined": 0, "waiting": 0, "unjoined": 0}


def test_deleting_a_trace_deletes_its_log_records(
    server: OtelLlmServer, store: SQLiteStore
) -> None:
    spans, logs, span_id = _chat_telemetry()
    span_exporter, log_exporter = _exporters(server, "http")
    span_exporter.export(spans)
    log_exporter.export(logs)
    _check_joined(store, span_id)
    # A record of the same trace waiting for a span that never comes, and a record of
    # no trace (unjoined) that the deletion must leave alone.
    waiting = _chat_telemetry()[1][0]
    waiting.log_record.trace_id = logs[0].log_record.trace_id
    log_exporter.export([waiting])
    other = _records("keep", "unrelated")
    log_exporter.export(other)
    assert store.log_event_counts(600) == {"joined": 3, "waiting": 1, "unjoined": 1}

    trace_hex = f"{logs[0].log_record.trace_id:032x}"
    assert store.delete_traces([trace_hex]) == 1
    assert store.log_event_counts(600) == {"joined": 0, "waiting": 0, "unjoined": 1}
    assert [r["body"] for r in store.unjoined_log_events(600)] == [{"content": "unrelated"}]
    # The span sent again is a new run with its records gone: nothing joins it.
    span_exporter.export(spans)
    run = store.get_run(str(run_id_from_span_id(span_id.to_bytes(8, "big"))))
    assert run is not None and run["inputs"] == {}


def test_retention_deletes_unjoined_records_by_age_per_project(
    make_server: Any, store: SQLiteStore
) -> None:
    server = make_server()
    _export(server, "http", _records("short", "s1"), None)
    _export(server, "http", _records("long", "l1"), None)
    spans, logs, span_id = _chat_telemetry()
    span_exporter, log_exporter = _exporters(server, "http")
    span_exporter.export(spans)
    log_exporter.export(logs)
    store.set_retention("short", 3600)
    # Nothing received an hour before now is kept by the retention: both stay.
    store.apply_retention(time.time_ns())
    assert store.log_event_counts(600) == {"joined": 3, "waiting": 0, "unjoined": 2}
    # Two hours later, the short-lived project's records are past its hour.
    store.apply_retention(time.time_ns() + 2 * HOUR_NS)
    assert [r["body"] for r in store.unjoined_log_events(600)] == [{"content": "l1"}]
    assert store.log_event_counts(600, "short")["unjoined"] == 0
    # A prune of everything before a time also takes unjoined records; joined records
    # go with their trace only.
    store.prune(0)
    assert store.log_event_counts(600) == {"joined": 3, "waiting": 0, "unjoined": 1}
    store.prune(time.time_ns() + HOUR_NS, project="long")
    assert store.log_event_counts(600) == {"joined": 3, "waiting": 0, "unjoined": 0}
    _check_joined(store, span_id)
