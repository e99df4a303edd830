"""The v2 reads (`client.runs.query` / `.retrieve`), run stats and `/info`, through the
real `langsmith` client: its generated models validate every v2 answer."""

from __future__ import annotations

import asyncio
import logging
import uuid
import warnings
from typing import Any, get_args

import httpx
import langsmith
import pytest
from langsmith import BadRequestError, NotFoundError
from langsmith.types.run import Run as V2Run
from langsmith.types.run_select_field import RunSelectField

from otel_llm.server import OtelLlmServer
from tests.server.helpers import (
    READ_START,
    root_id,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

START = READ_START
EVER = "2000-01-01T00:00:00Z"


def project_id(client: langsmith.Client, name: str = "alpha") -> str:
    return str(client.read_project(project_name=name).id)


async def _closing(client: langsmith.Client, call: Any) -> Any:
    """`call()` with the client's async v2 API, which is bound to this event loop: closed
    and dropped afterwards, so the next asyncio.run makes a new one."""
    try:
        return await call()
    finally:
        await client._get_langsmith_api().close()
        client._langsmith_api = None


def query(client: langsmith.Client, **params: Any) -> list[V2Run]:
    async def collect() -> list[V2Run]:
        return [run async for run in client.runs.query(**params)]

    result: list[V2Run] = asyncio.run(_closing(client, collect))
    return result


def retrieve(client: langsmith.Client, run_id: str, **params: Any) -> V2Run:
    async def one() -> V2Run:
        run: V2Run = await client.runs.retrieve(run_id, **params)
        return run

    result: V2Run = asyncio.run(_closing(client, one))
    return result


def test_info_gives_the_sdk_nothing_to_warn_about(
    client: langsmith.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning of the SDK's, deprecations aside
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        info = client.info
        _ = client.runs
        list(client.list_runs(project_name="alpha", limit=1))
    assert caplog.records == []
    assert info.instance_flags is not None
    # Run compression is advertised only when the run-ingest endpoint decodes it.
    assert info.instance_flags["zstd_compression_enabled"] is True  # run ingest decodes it
    assert info.batch_ingest_config is not None


def test_v2_query_every_select_validates(client: langsmith.Client) -> None:
    every = list(get_args(RunSelectField))
    runs = query(
        client,
        project_ids=[project_id(client)],
        min_start_time=EVER,
        selects=every,
        trace_id=root_id(2),
        include_subtree_usage=True,
    )
    assert len(runs) == 4
    by_name: dict[str, list[V2Run]] = {}
    for run in runs:
        by_name.setdefault(run.name or "", []).append(run)
    (root,) = by_name["support agent"]
    assert root.id == root_id(2) and root.is_root and root.parent_run_ids == []
    assert root.run_type == "CHAIN" and root.status == "SUCCESS"
    assert root.total_tokens == 360 and root.latency_seconds == pytest.approx(0.05)
    generations = by_name["chat gpt-4o-mini"]
    assert {g.status for g in generations} == {"SUCCESS", "ERROR"}
    failed = next(g for g in generations if g.status == "ERROR")
    assert failed.error and failed.error_preview and "boom" in failed.error_preview
    for g in generations:
        assert g.run_type == "LLM" and g.parent_run_ids == [root_id(2)]
        assert g.project_id == project_id(client) and g.trace_id == root_id(2)
        assert g.total_tokens == 120 and g.prompt_tokens == 100
        assert g.metadata is not None and g.metadata["ls_model_name"] == "gpt-4o-mini"
        assert g.is_root is False and g.is_in_dataset is False


def test_v2_query_selects_only_what_is_asked(client: langsmith.Client) -> None:
    (run,) = query(client, project_ids=[project_id(client)], min_start_time=EVER, ids=[root_id(0)])
    assert run.model_dump(exclude_none=True) == {"id": root_id(0)}
    (run,) = query(
        client,
        project_ids=[project_id(client)],
        min_start_time=EVER,
        ids=[root_id(0)],
        selects=["NAME", "TAGS"],
    )
    assert run.model_dump(exclude_none=True) == {
        "id": root_id(0),
        "name": "support agent",
        "tags": [],
    }


def test_v2_usage_is_the_runs_own_unless_subtree_is_asked(client: langsmith.Client) -> None:
    params: dict[str, Any] = {
        "project_ids": [project_id(client)],
        "min_start_time": EVER,
        "is_root": True,
        "selects": ["TOTAL_TOKENS", "TOTAL_COST"],
    }
    own = query(client, **params)
    subtree = query(client, **params, include_subtree_usage=True)
    assert [r.total_tokens for r in own] == [None] * 3
    assert [r.total_tokens for r in subtree] == [360] * 3
    generations = query(client, **{**params, "is_root": False})
    assert {r.total_tokens for r in generations} == {120}


def test_v2_filters_pages_and_window(client: langsmith.Client) -> None:
    pid = project_id(client)
    everything = query(client, project_ids=[pid], min_start_time=EVER, page_size=5)
    assert len(everything) == len({r.id for r in everything}) == 12
    # The default window is the last day, as LangSmith's: these runs are older.
    assert query(client, project_ids=[pid]) == []
    later = query(
        client,
        project_ids=[pid],
        min_start_time=EVER,
        is_root=True,
        max_start_time="2025-10-09T08:53:21Z",
    )
    assert [r.id for r in later] == [root_id(1), root_id(0)]
    llm = query(client, project_ids=[pid], min_start_time=EVER, run_type="LLM")
    assert len(llm) == 9
    errors = query(client, project_ids=[pid], min_start_time=EVER, has_error=True)
    assert len(errors) == 1
    named = query(
        client,
        project_ids=[pid],
        min_start_time=EVER,
        filter='eq(name, "support agent")',
        selects=["NAME"],
    )
    assert {r.name for r in named} == {"support agent"} and len(named) == 3
    in_failed_traces = query(
        client, project_ids=[pid], min_start_time=EVER, tree_filter='eq(status, "error")'
    )
    assert len(in_failed_traces) == 4


def test_v2_retrieve(client: langsmith.Client) -> None:
    pid = project_id(client)
    run = retrieve(
        client,
        root_id(1),
        project_id=pid,
        selects=["NAME", "START_TIME", "PROJECT_ID", "DOTTED_ORDER"],
    )
    assert run.name == "support agent" and run.project_id == pid
    assert run.dotted_order is not None and run.dotted_order.endswith(root_id(1))
    assert run.start_time is not None
    with pytest.raises(NotFoundError):
        retrieve(client, root_id(1), project_id=project_id(client, "beta"))
    with pytest.raises(NotFoundError):
        retrieve(client, str(uuid.uuid4()), project_id=pid)


def test_v2_refusals_say_why(client: langsmith.Client, loaded: OtelLlmServer) -> None:
    pid = project_id(client)
    with pytest.raises(BadRequestError, match="bad filter at column 4"):
        query(client, project_ids=[pid], filter="eq(")
    url = loaded.http_url + "/api/v2/runs/query"
    cases = [
        ({}, {}, 400, "project_ids is required"),
        ({"project_ids": [pid], "selects": ["NAMES"]}, {}, 400, "unknown selects ['NAMES']"),
        ({"project_ids": [pid], "page_size": 0}, {}, 400, "page_size"),
        ({"project_ids": ["nope"]}, {}, 400, "project_ids: not a UUID"),
        ({"project_ids": [pid], "ai_search": "slow calls"}, {}, 501, "no AI or semantic"),
        ({"project_ids": [pid]}, {"accept": "text/event-stream"}, 406, "does not stream"),
        ({"project_ids": [pid], "reference_dataset_id": pid}, {}, 400, "no datasets"),
    ]
    for body, headers, status, detail in cases:
        response = httpx.post(url, json=body, headers=headers)
        assert (response.status_code, detail in response.json()["detail"]) == (status, True), (
            body,
            response.text,
        )
    missing = httpx.get(f"{loaded.http_url}/api/v2/runs/{root_id(0)}")
    assert missing.status_code == 400 and "project_id is required" in missing.json()["detail"]


def test_run_stats(client: langsmith.Client) -> None:
    roots = client.get_run_stats(project_names=["alpha"], is_root=True)
    assert roots["run_count"] == 3 and roots["error_rate"] == 0
    assert roots["total_tokens"] == 1080 and roots["prompt_tokens"] == 900
    assert roots["latency_p50"] == pytest.approx(0.05)
    assert roots["total_cost"] > 0
    # Every run: each generation's tokens counted once, in its root.
    every = client.get_run_stats(project_names=["alpha"])
    assert every["run_count"] == 12 and every["total_tokens"] == 1080
    assert every["error_rate"] == pytest.approx(1 / 12)
    assert every["latency_p50"] == pytest.approx(0.005)
    assert every["latency_p99"] == pytest.approx(0.05)
    llm = client.get_run_stats(project_names=["alpha"], run_type="llm")
    assert llm["run_count"] == 9 and llm["total_tokens"] == 1080
    assert llm["median_tokens"] == 120 and llm["error_rate"] == pytest.approx(1 / 9)
    both = client.get_run_stats(project_names=["alpha", "beta"], run_type="llm")
    assert both["run_count"] == 10 and both["total_tokens"] == 1200
    failed = client.get_run_stats(project_names=["alpha"], filter='eq(status, "error")')
    assert failed["run_count"] == 1 and failed["error_rate"] == 1
    early = client.get_run_stats(
        project_names=["alpha"], is_root=True, end_time="2025-10-09T08:53:21Z"
    )
    assert early["run_count"] == 2
    nothing = client.get_run_stats(project_names=["alpha"], filter='eq(name, "none")')
    assert nothing["run_count"] == 0 and nothing["error_rate"] is None
    assert nothing["latency_p50"] is None and nothing["total_tokens"] == 0
    with pytest.raises(langsmith.utils.LangSmithError, match="bad filter at column 3"):
        client.get_run_stats(project_names=["alpha"], filter="eq")
