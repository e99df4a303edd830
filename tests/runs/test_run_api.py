"""The run-ingest API's semantics, through the real `langsmith.Client` where it has a call
for it and raw HTTP where a hostile or out-of-order client is needed."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import langsmith
import orjson
import pytest

from otel_llm.ids import dotted_order
from otel_llm.model import iso_to_ns
from otel_llm.server import OtelLlmServer, ServerSettings
from otel_llm.store import RunQuery, SQLiteStore

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def server_settings() -> ServerSettings:
    return ServerSettings(grpc_port=0, http_port=0, max_attachment_bytes=1000)


@pytest.fixture
def client(server: OtelLlmServer) -> langsmith.Client:
    return langsmith.Client(api_url=server.http_url, api_key="k", auto_batch_tracing=False)


def sdk_run(
    name: str, parent: dict[str, Any] | None = None, ms: int = 0, **fields: Any
) -> dict[str, Any]:
    """A run as the SDK posts it: full ids and dotted order."""
    run_id = uuid.uuid4()
    start = T0 + dt.timedelta(milliseconds=ms)
    parent_dotted = parent["dotted_order"] if parent else None
    return {
        "id": str(run_id),
        "name": name,
        "run_type": fields.pop("run_type", "chain"),
        "start_time": start.isoformat(),
        "session_name": fields.pop("project", "api"),
        "trace_id": parent["trace_id"] if parent else str(run_id),
        "parent_run_id": parent["id"] if parent else None,
        "dotted_order": dotted_order(parent_dotted, iso_to_ns(start.isoformat()), run_id),
        "inputs": {"q": name},
        **fields,
    }


def end(run: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "id": run["id"],
        "trace_id": run["trace_id"],
        "dotted_order": run["dotted_order"],
        "end_time": (T0 + dt.timedelta(seconds=1)).isoformat(),
        **fields,
    }


def stored(store: SQLiteStore, run: dict[str, Any]) -> dict[str, Any]:
    found = store.get_run(run["id"])
    assert found is not None, run["name"]
    return found


def test_create_and_update_run_with_batching_off(
    client: langsmith.Client, store: SQLiteStore
) -> None:
    root = sdk_run("root")
    child = sdk_run("llm", root, ms=5, run_type="llm")
    client.create_run(**{k: v for k, v in root.items() if k != "session_name"}, project_name="api")
    client.create_run(**{k: v for k, v in child.items() if k != "session_name"}, project_name="api")
    client.update_run(
        child["id"],
        end_time=T0 + dt.timedelta(seconds=1),
        outputs={
            "text": "hi",
            "usage_metadata": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
        },
    )
    client.update_run(root["id"], end_time=T0 + dt.timedelta(seconds=2), error="boom")
    llm = stored(store, child)
    assert llm["outputs"]["text"] == "hi" and llm["total_tokens"] == 7
    top = stored(store, root)
    assert top["error"] == "boom" and top["total_tokens"] == 7
    assert top["end_time"].startswith("2026-12-01T12:00:02")
    (trace_totals,) = [p for p in store.list_projects() if p["name"] == "api"]
    assert trace_totals["total_tokens"] == 7 and trace_totals["run_count"] == 2


def test_batch_endpoint_posts_and_patches(client: langsmith.Client, store: SQLiteStore) -> None:
    root = sdk_run("batch-root")
    child = sdk_run("batch-child", root, ms=1, run_type="tool")
    client.batch_ingest_runs(create=[root, child], update=[end(child, outputs={"r": 1})])
    assert stored(store, child)["outputs"] == {"r": 1}
    assert stored(store, root)["end_time"] is None
    client.batch_ingest_runs(update=[end(root, outputs={"done": True})])
    assert stored(store, root)["outputs"] == {"done": True}


@pytest.mark.parametrize("order", ["patch-first", "post-first", "one-request"])
def test_post_and_patch_in_any_order_merge(
    server: OtelLlmServer, store: SQLiteStore, order: str
) -> None:
    run = sdk_run("ordered", run_type="llm", extra={"metadata": {"k": "v"}})
    patch = end(
        run,
        outputs={
            "text": "late",
            "usage_metadata": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
        },
    )
    url = server.http_url + "/runs/batch"
    if order == "one-request":
        # A patch part before its post part in one body: the post is applied first.
        assert httpx.post(url, json={"patch": [patch], "post": [run]}).status_code == 202
    else:
        first, second = (
            ({"patch": [patch]}, {"post": [run]})
            if order == "patch-first"
            else ({"post": [run]}, {"patch": [patch]})
        )
        assert httpx.post(url, json=first).status_code == 202
        assert httpx.post(url, json=second).status_code == 202
    merged = stored(store, run)
    assert merged["outputs"]["text"] == "late" and merged["inputs"] == {"q": "ordered"}
    assert merged["extra"]["metadata"]["k"] == "v"
    assert merged["total_tokens"] == 4 and merged["end_time"] is not None
    # A retry of everything changes nothing and counts nothing twice.
    assert httpx.post(url, json={"post": [run], "patch": [patch]}).status_code == 202
    (project,) = store.list_projects()
    assert project["run_count"] == 1 and project["total_tokens"] == 4


def test_a_patch_whose_post_never_came_waits_and_is_not_listed(
    server: OtelLlmServer, store: SQLiteStore
) -> None:
    run = sdk_run("never-posted")
    assert (
        httpx.post(server.http_url + "/runs/batch", json={"patch": [end(run)]}).status_code == 202
    )
    assert store.get_run(run["id"]) is None
    assert store.query_runs(RunQuery())[0] == []


def test_feedback_through_the_client(client: langsmith.Client, store: SQLiteStore) -> None:
    run = sdk_run("judged")
    client.batch_ingest_runs(create=[run])
    with pytest.warns(Warning):  # the SDK warns when feedback has no session_id
        client.create_feedback(run["id"], key="correctness", score=0.5, comment="close")
    client.create_feedback(
        run["id"],
        key="helpfulness",
        score=1,
        value="yes",
        session_id=stored(store, run)["session_id"],
    )
    found = {f.key: f for f in client.list_feedback(run_ids=[run["id"]])}
    assert set(found) == {"correctness", "helpfulness"}
    assert found["correctness"].score == 0.5 and found["correctness"].comment == "close"
    assert found["helpfulness"].value == "yes"
    assert str(client.read_feedback(found["helpfulness"].id).run_id) == str(run["id"])
    stats = stored(store, run)["feedback_stats"]
    assert stats["correctness"]["avg"] == 0.5 and stats["helpfulness"]["n"] == 1


def multipart(parts: list[tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = "test-boundary-x"
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
            f"Content-Type: {ctype}\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data
            + b"\r\n"
            for name, data, ctype in parts
        )
        + f"--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_attachments_are_stored_and_read_back_by_the_sdk(
    server: OtelLlmServer, client: langsmith.Client
) -> None:
    run = sdk_run("with-files")
    inputs = run.pop("inputs")
    body, ctype = multipart(
        [
            (f"post.{run['id']}", orjson.dumps(run), "application/json"),
            (f"post.{run['id']}.inputs", orjson.dumps(inputs), "application/json"),
            (f"attachment.{run['id']}.image", b"\x89PNG\r\n\x00\xff", "image/png"),
            (f"attachment.{run['id']}.big", b"x" * 1001, "text/plain"),
        ]
    )
    response = httpx.post(
        server.http_url + "/runs/multipart", content=body, headers={"content-type": ctype}
    )
    assert response.status_code == 413
    assert (
        f"attachment.{run['id']}.big: 1001 bytes, over the 1000-byte limit"
        in response.json()["detail"]
    )
    read = client.read_run(run["id"])
    assert read.inputs == inputs
    assert read.attachments["image"]["reader"].read() == b"\x89PNG\r\n\x00\xff"
    assert read.attachments["image"]["mime_type"] == "image/png"
    assert "big" not in read.attachments


BAD_PARTS = [
    ("post.not-a-uuid", b"{}", "not a UUID"),
    ("bogus.123", b"{}", "unknown part name"),
    ("post.{id}.colour", b"{}", "unknown run field 'colour'"),
    ("post.{id}", b"{not json", "not JSON"),
    ("feedback.{id}", b'{"score": 1}', "key must be a non-empty string"),
    ("attachment.{id}.a.b", b"x", "a name without '.'"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD_PARTS)
def test_a_bad_part_is_named_and_the_good_runs_are_stored(
    server: OtelLlmServer, store: SQLiteStore, name: str, data: bytes, message: str
) -> None:
    good = sdk_run("good")
    body, ctype = multipart(
        [
            (name.format(id=uuid.uuid4()), data, "application/json"),
            (f"post.{good['id']}", orjson.dumps(good), "application/json"),
        ]
    )
    response = httpx.post(
        server.http_url + "/runs/multipart", content=body, headers={"content-type": ctype}
    )
    assert 400 <= response.status_code < 500
    assert message in response.json()["detail"]
    assert "stored the rest: 1 runs" in response.json()["detail"]
    assert store.get_run(good["id"]) is not None
    assert httpx.get(server.http_url + "/info").status_code == 200  # still serving


def test_a_dotted_order_that_contradicts_the_parent_is_refused(
    server: OtelLlmServer, store: SQLiteStore
) -> None:
    root = sdk_run("root")
    child = sdk_run("child", root, ms=1)
    child["parent_run_id"] = str(uuid.uuid4())
    response = httpx.post(server.http_url + "/runs/batch", json={"post": [root, child]})
    assert response.status_code == 422
    assert f"post '{child['id']}': dotted_order says parent_run_id" in response.json()["detail"]
    assert store.get_run(root["id"]) is not None and store.get_run(child["id"]) is None


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"--x\r\nbroken", {"content-type": "multipart/form-data; boundary=x"}, 400, "multipart"),
        (b"{}", {"content-type": "application/json"}, 400, "multipart/form-data"),
        (
            b"\x28\xb5\x2f\xfd garbage",
            {"content-type": "multipart/form-data; boundary=x", "content-encoding": "zstd"},
            400,
            "not valid zstd",
        ),
        (
            b"x",
            {"content-type": "multipart/form-data; boundary=x", "content-encoding": "br"},
            415,
            "not supported",
        ),
    ],
)
def test_bodies_that_are_not_multipart(
    server: OtelLlmServer, body: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    response = httpx.post(server.http_url + "/runs/multipart", content=body, headers=headers)
    assert response.status_code == status
    assert message in response.json()["detail"]
