"""The `store` sink files runs under the project `otel-llm serve` would: the same spans,
once through RunSpanProcessor + StoreRunSink and once over OTLP to a real server, end
up in projects of the same names."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_llm import RunSpanProcessor
from otel_llm.ids import dotted_segment
from otel_llm.model import Run
from otel_llm.otlp import encode_otlp_protobuf, span_from_readable
from otel_llm.server import OtelLlmServer, ServerSettings
from otel_llm.sinks import StoreRunSink
from otel_llm.store import RunQuery, SQLiteStore


def projects_by_run(store: SQLiteStore) -> dict[str, str]:
    runs, _ = store.query_runs(RunQuery(limit=1000))
    return {r["id"]: r["session_name"] for r in runs}


@pytest.mark.parametrize(
    ("resource", "explicit", "expected"),
    [
        ({"service.name": "weather-app"}, None, "weather-app"),
        (
            {"service.name": "svc", "openinference.project.name": "phoenix-proj"},
            None,
            "phoenix-proj",
        ),
        ({"service.name": "svc", "langsmith.project": "ls-proj"}, None, "ls-proj"),
        ({"service.name": "svc"}, "configured", "configured"),  # LANGSMITH_PROJECT / header
    ],
)
def test_sink_and_server_file_the_same_spans_alike(
    tmp_path: Path, resource: dict[str, Any], explicit: str | None, expected: str
) -> None:
    recorded = InMemorySpanExporter()
    sink_db = tmp_path / "sink.db"
    sink = StoreRunSink(sink_db, project=explicit)
    processor = RunSpanProcessor(sink=sink, shutdown_on_exit=False, schedule_delay_millis=10)
    provider = TracerProvider(resource=Resource.create(resource), shutdown_on_exit=False)
    provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(recorded))
    tracer = provider.get_tracer("app")
    with (
        tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}),
        tracer.start_as_current_span(
            "chat gpt-4o",
            attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"},
        ),
    ):
        pass
    provider.shutdown()

    server_store = SQLiteStore(tmp_path / "server.db")
    try:
        with OtelLlmServer(server_store, ServerSettings(grpc_port=None, http_port=0)) as server:
            body = encode_otlp_protobuf(
                [span_from_readable(s) for s in recorded.get_finished_spans()]
            )
            headers = {"content-type": "application/x-protobuf"}
            if explicit:
                headers["Langsmith-Project"] = explicit
            assert (
                httpx.post(
                    server.http_url + "/v1/traces", content=body, headers=headers
                ).status_code
                == 200
            )
        served = projects_by_run(server_store)
    finally:
        server_store.close()
    with SQLiteStore(sink_db) as store:
        sunk = projects_by_run(store)
    assert len(sunk) == 2
    assert sunk == served
    assert set(sunk.values()) == {expected}


def test_a_run_without_a_resource_goes_to_default_and_a_named_one_keeps_its_project(
    tmp_path: Path,
) -> None:
    sink = StoreRunSink(tmp_path / "s.db")
    start = 1_760_000_000_000_000_000
    plain = Run(id=uuid.uuid4(), name="made by hand", start_time_ns=start)
    named = Run(id=uuid.uuid4(), name="named", start_time_ns=start, session_name="mine")
    for run in (plain, named):
        run.trace_id = run.id
        run.dotted_order = dotted_segment(start, run.id)
    assert sink.export([plain, named]).name == "SUCCESS"
    sink.shutdown()
    with SQLiteStore(tmp_path / "s.db") as store:
        assert sorted(projects_by_run(store).values()) == ["default", "mine"]
