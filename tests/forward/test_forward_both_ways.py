"""Both ways in one chain: runs posted as the LangSmith SDK posts them reach an OTel
backend (a second otel-llm serve over OTLP/gRPC) as spans, and a LangSmith-compatible
endpoint (a third otel-llm serve's run ingest) as runs, with their tree and tokens."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import httpx

from otel_llm.ids import dotted_order
from otel_llm.model import iso_to_ns
from tests.forward.test_forward_delivery import serving
from tests.server.helpers import wait_until

T0 = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.timezone.utc)


def sdk_trace() -> list[dict[str, object]]:
    root_id, llm_id = uuid.uuid4(), uuid.uuid4()
    start = T0.isoformat()
    root_dotted = dotted_order(None, iso_to_ns(start), root_id)
    llm_start = (T0 + dt.timedelta(milliseconds=5)).isoformat()
    return [
        {
            "id": str(root_id),
            "trace_id": str(root_id),
            "name": "agent",
            "run_type": "chain",
            "start_time": start,
            "end_time": (T0 + dt.timedelta(seconds=2)).isoformat(),
            "dotted_order": root_dotted,
            "session_name": "sdk-app",
            "inputs": {"q": "hi"},
            "outputs": {"a": "hello"},
        },
        {
            "id": str(llm_id),
            "trace_id": str(root_id),
            "parent_run_id": str(root_id),
            "name": "ChatOpenAI",
            "run_type": "llm",
            "start_time": llm_start,
            "end_time": (T0 + dt.timedelta(seconds=1)).isoformat(),
            "dotted_order": dotted_order(root_dotted, iso_to_ns(llm_start), llm_id),
            "session_name": "sdk-app",
            "inputs": {"messages": [{"role": "user", "content": "hi"}]},
            "outputs": {
                "generations": "hello",
                "usage_metadata": {"input_tokens": 9, "output_tokens": 2, "total_tokens": 11},
            },
            "extra": {"metadata": {"ls_provider": "openai", "ls_model_name": "gpt-4o-mini"}},
        },
    ]


def test_sdk_runs_are_forwarded_as_spans_and_as_runs(tmp_path: Path) -> None:
    with (
        serving(tmp_path / "otel.db") as otel_backend,
        serving(tmp_path / "ls.db") as langsmith_endpoint,
    ):
        forward = (
            f"grpc://{otel_backend.grpc_address}",
            f"langsmith+{langsmith_endpoint.http_url}?api_key=k",
        )
        with serving(tmp_path / "source.db", forward=forward) as source:
            runs = sdk_trace()
            response = httpx.post(source.http_url + "/runs/batch", json={"post": runs})
            assert response.status_code == 202
            ids = [str(r["id"]) for r in runs]
            for receiver in (otel_backend, langsmith_endpoint):
                wait_until(
                    lambda r=receiver: all(  # type: ignore[misc]
                        r.store.get_run(i) is not None for i in ids
                    )
                )
                root, llm = (receiver.store.get_run(i) for i in ids)
                assert root is not None and llm is not None
                assert (root["name"], llm["name"]) == ("agent", "ChatOpenAI")
                assert llm["run_type"] == "llm" and llm["parent_run_id"] == ids[0]
                assert llm["trace_id"] == ids[0] and root["trace_id"] == ids[0]
                assert llm["total_tokens"] == 11 and root["total_tokens"] == 11
                assert root["session_name"] == "sdk-app"
                assert root["outputs"] == {"a": "hello"}
