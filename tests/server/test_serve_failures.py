"""What the server answers when the store fails or refuses, and that nothing acknowledged
is misfiled because of another client's failure.

Failures are real: a SQLite trigger refuses runs named "poison" (a failure that
retrying cannot fix) and a page limit fills the database (one that passes).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import grpc
import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otel_llm.model import Run, SpanRecord
from otel_llm.server import OtelLlmServer
from otel_llm.store import RunQuery
from otel_llm.store.sqlite import SQLiteStore
from tests.server.helpers import (
    PROTOBUF,
    grpc_export,
    protobuf_body,
    run_ids,
    trace_spans,
    wait_until,
)


def refuse_poison(store: SQLiteStore) -> None:
    with sqlite3.connect(store.path) as conn:
        conn.execute(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON runs WHEN NEW.name = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'poison run refused'); END"
        )


def poisoned(spans: list[SpanRecord]) -> list[SpanRecord]:
    return [replace(s, name="poison") for s in spans]


def post(server: OtelLlmServer, spans: list[SpanRecord], project: str) -> httpx.Response:
    return httpx.post(
        server.http_url + "/v1/traces",
        content=protobuf_body(spans),
        headers={**PROTOBUF, "Langsmith-Project": project},
        timeout=60,
    )


def status_message(response: httpx.Response) -> str:
    status = status_pb2.Status()
    status.ParseFromString(response.content)
    return str(status.message)


def listed_ids(store: SQLiteStore, project: str) -> set[str]:
    ids = {p["name"]: p["id"] for p in store.list_projects()}
    if project not in ids:
        return set()
    found: set[str] = set()
    cursor = None
    while True:
        page, cursor = store.query_runs(RunQuery(session=[ids[project]], limit=1000, cursor=cursor))
        found |= {str(r["id"]) for r in page}
        if cursor is None:
            return found


def test_a_request_the_store_refuses_is_400_not_retry_later(
    server: OtelLlmServer, store: SQLiteStore
) -> None:
    refuse_poison(store)
    response = post(server, poisoned(trace_spans(1)), "p")
    assert response.status_code == 400
    assert "Retry-After" not in response.headers
    assert "poison run refused" in status_message(response)
    assert "will not help" in status_message(response)
    with pytest.raises(grpc.RpcError) as failed:
        grpc_export(server.grpc_address, protobuf_body(poisoned(trace_spans(2))))
    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # The server keeps serving everyone else.
    assert post(server, trace_spans(3), "p").status_code == 200


def test_a_full_database_is_503_with_retry_after_and_then_ok(
    server: OtelLlmServer, store: SQLiteStore
) -> None:
    assert post(server, trace_spans(1), "p").status_code == 200
    pages = store._writer.execute("PRAGMA page_count").fetchone()[0]
    store._writer.execute(f"PRAGMA max_page_count = {pages}")
    big = [
        replace(s, attributes={**s.attributes, "input.value": "x" * 50_000})
        for s in trace_spans(2, children=20)
    ]
    response = post(server, big, "p")
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert "full" in status_message(response)
    store._writer.execute("PRAGMA max_page_count = 1073741823")
    assert post(server, big, "p").status_code == 200
    assert run_ids(big) <= listed_ids(store, "p")


def test_a_poison_sender_never_misfiles_other_clients_runs(
    make_server: Callable[..., OtelLlmServer], store: SQLiteStore
) -> None:
    """Four clients send valid traces while a fifth sends traces the store refuses, all
    held in one group commit; every acknowledged run is listed under its own project and
    no project appears that nobody named (the bug filed them under a project named after
    another project's id)."""
    refuse_poison(store)
    held = threading.Event()
    server = make_server(before_commit=lambda: held.wait(60), queue_size=64)
    senders = ["alpha", "beta", "gamma", "delta"]
    plan = [(p, trace_spans(100 * i + n)) for n in range(3) for i, p in enumerate(senders)]
    plan += [("poison-sender", poisoned(trace_spans(900 + n))) for n in range(3)]
    with ThreadPoolExecutor(max_workers=len(plan)) as pool:
        pending = [pool.submit(post, server, spans, project) for project, spans in plan]
        wait_until(lambda: server.pipeline is not None and server.pipeline.admitted == len(plan))
        held.set()
        answers = [p.result(timeout=60).status_code for p in pending]
    acknowledged: dict[str, set[str]] = {}
    for (project, spans), status in zip(plan, answers, strict=True):
        if project == "poison-sender":
            assert status == 400
        else:
            assert status == 200
            acknowledged.setdefault(project, set()).update(run_ids(spans))
    for project, ids in acknowledged.items():
        assert listed_ids(store, project) == ids
    assert {p["name"] for p in store.list_projects()} == set(senders)


@pytest.mark.parametrize(
    ("field", "value"),
    [("start_time_unix_nano", 2**63), ("end_time_unix_nano", 2**64 - 1)],
)
@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_a_span_time_the_store_cannot_hold_is_a_partial_success(
    server: OtelLlmServer, store: SQLiteStore, field: str, value: int, transport: str
) -> None:
    spans = trace_spans(7)
    spans[0] = replace(spans[0], **{field: value})
    body = protobuf_body(spans)
    if transport == "http":
        response = httpx.post(server.http_url + "/v1/traces", content=body, headers=PROTOBUF)
        assert response.status_code == 200
        answer = ExportTraceServiceResponse.FromString(response.content)
    else:
        answer = grpc_export(server.grpc_address, body)
    assert answer.partial_success.rejected_spans == 1
    assert field.removesuffix("_unix_nano") in answer.partial_success.error_message
    assert "1677 to 2262" in answer.partial_success.error_message
    valid = run_ids(spans[1:])
    assert all(store.get_run(run_id) is not None for run_id in valid)
    assert store.get_run(str(uuid.UUID(int=int.from_bytes(spans[0].span_id, "big")))) is None


def test_a_span_that_fails_conversion_is_counted_in_partial_success(
    make_server: Callable[..., OtelLlmServer],
    store: SQLiteStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No real span is known to break conversion (readers turn their failures into
    problem notes), so the converter is made to fail on one span by name; the server
    decodes on a thread (workers=0), where the patch applies."""
    from otel_llm.server import prepare

    real = prepare.spans_to_runs

    def failing(spans: list[SpanRecord]) -> list[Run]:
        if any(s.name == "explode" for s in spans):
            raise ValueError("converter exploded")
        return real(spans)

    monkeypatch.setattr(prepare, "spans_to_runs", failing)
    server = make_server(workers=0)
    spans = trace_spans(11)
    spans[0] = replace(spans[0], name="explode")
    response = post(server, spans, "p")
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    message = answer.partial_success.error_message
    assert message.startswith("rejected 1 of 4 spans: ")
    assert f"span {spans[0].span_id.hex()} ('explode') could not be converted" in message
    assert "converter exploded" in message
    assert run_ids(spans[1:]) <= listed_ids(store, "p")


def test_spans_sent_again_under_another_project_stay_where_they_were_first_stored(
    server: OtelLlmServer, store: SQLiteStore
) -> None:
    """The rule: a trace and all its runs are in the project its root was first stored
    in; sending them again under another project moves nothing, runs or totals."""
    spans = trace_spans(21)
    assert post(server, spans, "dup-A").status_code == 200
    assert post(server, spans, "dup-B").status_code == 200
    projects = {p["name"]: p for p in store.list_projects()}
    assert projects["dup-A"]["run_count"] == 4 and projects["dup-A"]["total_tokens"] == 360
    assert projects["dup-B"]["run_count"] == 0 and projects["dup-B"]["total_tokens"] == 0
    assert listed_ids(store, "dup-A") == run_ids(spans)
    assert listed_ids(store, "dup-B") == set()
    # Children first under one project, their root later under another: the children
    # wait in theirs until the root comes, then the whole trace is the root's.
    later = trace_spans(22)
    assert post(server, later[:-1], "kids").status_code == 200
    assert listed_ids(store, "kids") == run_ids(later[:-1])
    assert post(server, later[-1:], "root").status_code == 200
    projects = {p["name"]: p for p in store.list_projects()}
    assert listed_ids(store, "root") == run_ids(later)
    assert listed_ids(store, "kids") == set()
    assert projects["root"]["run_count"] == 4 and projects["kids"]["run_count"] == 0
