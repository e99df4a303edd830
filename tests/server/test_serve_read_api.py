"""The read API, through the real `langsmith.Client` (its pydantic models validate every answer)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import httpx
import langsmith
import pytest
from langsmith.schemas import LangSmithInfo
from langsmith.utils import LangSmithError, LangSmithNotFoundError
from starlette.routing import Route

from otel_llm.server import OtelLlmServer
from otel_llm.server.app import create_app
from otel_llm.server.openapi import OPENAPI
from tests.server.helpers import (
    READ_START,
    root_id,
    run_ids,
    trace_spans,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

START = READ_START
START_2 = datetime.fromtimestamp((START + 2 * 10**9) / 1e9, tz=timezone.utc)  # trace 2's start


def test_info_passes_the_clients_model(loaded: OtelLlmServer) -> None:
    body = httpx.get(loaded.http_url + "/info").json()
    info = LangSmithInfo(**body)
    assert info.instance_flags == {  # run ingest decodes zstd
        "zstd_compression_enabled": True,
        "ch_query_enabled": True,
        "sdb_query_enabled": True,
    }
    assert info.batch_ingest_config is not None
    assert info.batch_ingest_config["size_limit"] > 0
    assert info.version


def test_list_and_read_projects(client: langsmith.Client) -> None:
    projects = {p.name: p for p in client.list_projects()}
    assert set(projects) == {"alpha", "beta"}
    assert projects["alpha"].run_count == 12
    by_name = client.read_project(project_name="beta")
    assert by_name.id == projects["beta"].id
    by_id = client.read_project(project_id=str(projects["alpha"].id))
    assert by_id.name == "alpha"
    assert [p.name for p in client.list_projects(name="beta")] == ["beta"]
    assert len(list(client.list_projects(limit=1))) == 1
    assert [p.name for p in client.list_projects(project_ids=[projects["beta"].id])] == ["beta"]
    with pytest.raises(LangSmithNotFoundError):
        client.read_project(project_name="nope")
    with pytest.raises(LangSmithNotFoundError):
        client.read_project(project_id=str(uuid.uuid4()))


def test_sessions_pagination(loaded: OtelLlmServer) -> None:
    first = httpx.get(loaded.http_url + "/sessions", params={"limit": 1, "offset": 0}).json()
    second = httpx.get(loaded.http_url + "/sessions", params={"limit": 1, "offset": 1}).json()
    third = httpx.get(loaded.http_url + "/sessions", params={"limit": 1, "offset": 2}).json()
    assert len(first) == len(second) == 1 and third == []
    assert {first[0]["name"], second[0]["name"]} == {"alpha", "beta"}
    bad = httpx.get(loaded.http_url + "/sessions", params={"limit": "many"})
    assert bad.status_code == 400 and "limit must be an integer" in bad.json()["detail"]


def test_list_runs_with_filters(client: langsmith.Client) -> None:
    alpha = list(client.list_runs(project_name="alpha"))
    assert len(alpha) == 12
    roots = list(client.list_runs(project_name="alpha", is_root=True))
    assert {str(r.id) for r in roots} == {root_id(s) for s in range(3)}
    llm = list(client.list_runs(project_name="alpha", run_type="llm"))
    assert len(llm) == 9 and all(r.run_type == "llm" for r in llm)
    errors = list(client.list_runs(project_name="alpha", error=True))
    assert len(errors) == 1 and errors[0].error
    by_filter = list(
        client.list_runs(
            project_name="alpha", filter='and(eq(run_type, "chain"), eq(name, "support agent"))'
        )
    )
    assert len(by_filter) == 3
    by_trace = list(client.list_runs(trace_id=root_id(1)))
    assert len(by_trace) == 4
    limited = list(client.list_runs(project_name="alpha", limit=5))
    assert len(limited) == 5
    children = list(client.list_runs(parent_run_id=root_id(1)))
    assert {str(r.id) for r in children} == run_ids(trace_spans(1)[:-1])
    later = list(client.list_runs(project_name="alpha", start_time=START_2, is_root=True))
    assert [str(r.id) for r in later] == [root_id(2)]
    slow = list(client.list_runs(project_name="alpha", filter='gt(latency, "30ms")'))
    assert {r.name for r in slow} == {"support agent"}


def test_pagination_with_cursors(loaded: OtelLlmServer) -> None:
    seen: list[str] = []
    body: dict[str, object] = {"limit": 5}
    while True:
        page = httpx.post(loaded.http_url + "/runs/query", json=body).json()
        seen += [r["id"] for r in page["runs"]]
        if not page["cursors"]["next"]:
            break
        body["cursor"] = page["cursors"]["next"]
    assert len(seen) == len(set(seen)) == 14


def test_read_run_and_rebuild_the_tree(client: langsmith.Client) -> None:
    rid = root_id(0)
    root = client.read_run(rid)
    assert root.name == "support agent" and root.parent_run_id is None
    assert str(root.trace_id) == rid
    runs = list(client.list_runs(trace_id=rid))
    children: dict[str | None, list[str]] = {}
    for run in runs:
        assert str(run.trace_id) == rid
        assert run.dotted_order.startswith(root.dotted_order)
        children.setdefault(str(run.parent_run_id) if run.parent_run_id else None, []).append(
            str(run.id)
        )
    assert children[None] == [rid]
    assert sorted(children[rid]) == sorted(run_ids(trace_spans(0)[:-1]))
    with pytest.raises(LangSmithNotFoundError):
        client.read_run(str(uuid.uuid4()))


def test_bad_filter_is_400_with_the_parsers_message(
    client: langsmith.Client, loaded: OtelLlmServer
) -> None:
    response = httpx.post(loaded.http_url + "/runs/query", json={"filter": "and(eq(name, "})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("bad filter at column 14: expected a value")
    with pytest.raises(LangSmithError) as info:
        list(client.list_runs(project_name="alpha", filter="gt(latency"))
    assert "400" in str(info.value) and "bad filter at column 11" in str(info.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "body is not JSON"),
        (b'{"limit": 0}', "limit"),
        (b'{"trace": "not-a-uuid"}', "trace"),
        (b'{"is_root": "yes"}', "is_root"),
    ],
)
def test_bad_query_bodies_are_400(loaded: OtelLlmServer, body: bytes, expected: str) -> None:
    response = httpx.post(loaded.http_url + "/runs/query", content=body)
    assert response.status_code == 400
    assert expected in response.json()["detail"]


def test_bad_ids_are_400(loaded: OtelLlmServer) -> None:
    for path in ("/runs/not-a-uuid", "/sessions/not-a-uuid"):
        response = httpx.get(loaded.http_url + path)
        assert response.status_code == 400
        assert "not a UUID" in response.json()["detail"]


def test_openapi_describes_every_route(loaded: OtelLlmServer) -> None:
    served = httpx.get(loaded.http_url + "/openapi.json").json()
    assert served == OPENAPI
    expected = {
        ("/v1/traces", "post"),
        ("/otel/v1/traces", "post"),
        ("/v1/logs", "post"),
        ("/otel/v1/logs", "post"),
        ("/logs/unjoined", "get"),
        ("/info", "get"),
        ("/sessions", "get"),
        ("/sessions/{session_id}", "get"),
        ("/runs/query", "post"),
        ("/runs/{run_id}", "get"),
        ("/runs/stats", "post"),
        ("/api/v2/runs/query", "post"),
        ("/api/v2/runs/{run_id}", "get"),
        ("/openapi.json", "get"),
    }
    described = {(path, method) for path, ops in served["paths"].items() for method in ops}
    assert described == expected
    app = create_app(
        pipeline=loaded.pipeline, store=loaded.store, api_key=None, max_body_bytes=1024
    )  # type: ignore[arg-type]
    mounted = {
        (route.path, method.lower())
        for route in app.routes
        if isinstance(route, Route)
        for method in (route.methods or ())
        if method != "HEAD"
    }
    assert mounted == expected
