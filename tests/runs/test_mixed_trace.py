"""A trace that mixes runs posted by the LangSmith SDK and OTel spans started inside them
(the SDK's rule: OTel trace id = the trace UUID's bytes, parent span id = the first 8
bytes of the run's UUID) is one tree, whichever arrives first."""

from __future__ import annotations

import uuid

import httpx
import pytest

from otel_llm.ids import dotted_order
from otel_llm.model import SpanKind, SpanRecord
from otel_llm.otlp import encode_otlp_protobuf
from otel_llm.server import OtelLlmServer
from otel_llm.store import SQLiteStore

T0 = 1_796_000_000_000_000_000


def sdk_runs() -> tuple[dict[str, object], dict[str, object]]:
    root_id, child_id = uuid.uuid4(), uuid.uuid4()
    root_dotted = dotted_order(None, T0, root_id)
    root = {
        "id": str(root_id),
        "trace_id": str(root_id),
        "name": "agent",
        "run_type": "chain",
        "start_time": "2026-11-29T20:53:20+00:00",
        "dotted_order": root_dotted,
        "session_name": "mixed",
    }
    child = {
        "id": str(child_id),
        "trace_id": str(root_id),
        "parent_run_id": str(root_id),
        "name": "plan",
        "run_type": "chain",
        "start_time": "2026-11-29T20:53:20.001+00:00",
        "dotted_order": dotted_order(root_dotted, T0 + 1_000_000, child_id),
        "session_name": "mixed",
    }
    return root, child


def otel_span(parent_run: dict[str, object]) -> SpanRecord:
    run_id = uuid.UUID(str(parent_run["id"]))
    trace = uuid.UUID(str(parent_run["trace_id"]))
    return SpanRecord(
        trace_id=trace.bytes,
        span_id=uuid.uuid4().bytes[:8],
        parent_span_id=run_id.bytes[:8],
        name="chat gpt-4o-mini",
        kind=SpanKind.CLIENT,
        start_time_unix_nano=T0 + 2_000_000,
        end_time_unix_nano=T0 + 9_000_000,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 30,
            "gen_ai.usage.output_tokens": 5,
        },
        resource={"service.name": "mixed"},
    )


@pytest.mark.parametrize("first", ["runs", "span"])
def test_an_otel_span_inside_an_sdk_run_joins_its_tree(
    server: OtelLlmServer, store: SQLiteStore, first: str
) -> None:
    root, child = sdk_runs()
    span = otel_span(child)

    def post_runs() -> None:
        response = httpx.post(server.http_url + "/runs/batch", json={"post": [root, child]})
        assert response.status_code == 202

    def post_span() -> None:
        response = httpx.post(
            server.http_url + "/v1/traces",
            content=encode_otlp_protobuf([span]),
            headers={"content-type": "application/x-protobuf"},
        )
        assert response.status_code == 200

    for step in (post_runs, post_span) if first == "runs" else (post_span, post_runs):
        step()
    tree = store.trace_runs(str(root["id"]))
    assert [r["name"] for r in tree] == ["agent", "plan", "chat gpt-4o-mini"]
    chat = tree[2]
    assert chat["parent_run_id"] == child["id"] and chat["trace_id"] == root["id"]
    assert chat["dotted_order"].startswith(str(child["dotted_order"]) + ".")
    assert tree[1]["child_run_ids"] == [chat["id"]]
    assert tree[0]["total_tokens"] == 35  # the generation's usage reaches the SDK root
    assert not chat["extra"]["otel"].get("incomplete")
