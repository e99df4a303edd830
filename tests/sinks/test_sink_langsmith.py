"""LangSmithRunSink against a loopback server that checks every request, and against
what the real LangSmith SDK sends for the same runs."""

from __future__ import annotations

import email.utils
import re
import threading
import time
import uuid
from typing import Any

import langsmith
import pytest

from otel_llm.ids import dotted_order
from otel_llm.model import Run, ns_to_iso
from otel_llm.sinks.base import SinkResult
from otel_llm.sinks.langsmith import LangSmithRunSink, retry_after_seconds
from tests.sinks.helpers import INFO, IngestServer, Reply, Request, parse_multipart

T0 = 1_795_000_000_123_456_000


def _tree() -> list[Run]:
    root_id, llm_id, tool_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    root_do = dotted_order(None, T0, root_id)
    llm_do = dotted_order(root_do, T0 + 1_000, llm_id)
    return [
        Run(
            id=llm_id,
            name="chat",
            run_type="llm",
            trace_id=root_id,
            parent_run_id=root_id,
            dotted_order=llm_do,
            start_time_ns=T0 + 1_000,
            end_time_ns=T0 + 9_000,
            inputs={"messages": [{"role": "user", "content": "hi"}]},
            outputs={
                "generations": [{"text": "yo"}],
                "usage_metadata": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
            },
            extra={
                "metadata": {"ls_provider": "openai", "ls_model_name": "gpt-4o"},
                "invocation_params": {"temperature": 0.2},
            },
            events=[{"name": "new_token", "time": "2026-11-18T20:53:20.123457+00:00"}],
            serialized={"name": "ChatOpenAI"},
            tags=["a", "b"],
            attachments={
                "image": ("image/png", b"\x89PNG\r\n\x1a\n..."),
                "described": {"mime_type": "text/plain", "size": 3},
            },
        ),
        Run(
            id=tool_id,
            name="calc",
            run_type="tool",
            trace_id=root_id,
            parent_run_id=root_id,
            dotted_order=dotted_order(root_do, T0 + 10_000, tool_id),
            start_time_ns=T0 + 10_000,
            end_time_ns=T0 + 20_000,
            inputs={"x": 1},
            error="ZeroDivisionError: division by zero",
            serialized={"dropped": "not an llm run"},
            session_name="other-project",
        ),
        Run(
            id=root_id,
            name="agent",
            run_type="chain",
            trace_id=root_id,
            dotted_order=root_do,
            start_time_ns=T0,
            end_time_ns=T0 + 30_000,
            inputs={"q": "?"},
            outputs={"a": "!"},
        ),
    ]


def _sink(url: str, **kw: Any) -> LangSmithRunSink:
    kw.setdefault("backoff_initial", 0.01)
    return LangSmithRunSink(url, "test-key", "my-project", **kw)


def test_multipart_format_part_by_part() -> None:
    runs = _tree()
    with IngestServer() as server:
        sink = _sink(server.url)
        assert sink.export(runs) is SinkResult.SUCCESS
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "/info"),
        ("POST", "/runs/multipart"),
    ]
    req = server.requests[1]
    assert req.headers["x-api-key"] == "test-key"
    assert req.headers["Content-Encoding"] == "gzip"
    assert req.headers["User-Agent"].startswith("otel-llm/")
    parts = parse_multipart(req.body, req.headers["Content-Type"])
    llm, tool, root = runs
    assert [p.name for p in parts] == [
        f"post.{llm.id}",
        *(f"post.{llm.id}.{k}" for k in ("inputs", "outputs", "events", "extra", "serialized")),
        f"attachment.{llm.id}.image",
        f"post.{tool.id}",
        *(f"post.{tool.id}.{k}" for k in ("inputs", "events", "extra", "error")),
        f"post.{root.id}",
        *(f"post.{root.id}.{k}" for k in ("inputs", "outputs", "events", "extra")),
    ]
    for p in parts:
        assert p.headers["content-length"] == str(len(p.data))
        if not p.name.startswith("attachment."):
            assert p.content_type == "application/json"
    by = {p.name: p for p in parts}
    head = by[f"post.{llm.id}"].json
    assert head == {
        "id": str(llm.id),
        "name": "chat",
        "run_type": "llm",
        "trace_id": str(root.id),
        "parent_run_id": str(root.id),
        "dotted_order": llm.dotted_order,
        "start_time": ns_to_iso(T0 + 1_000),
        "end_time": ns_to_iso(T0 + 9_000),
        "tags": ["a", "b"],
        "session_name": "my-project",
    }
    assert by[f"post.{llm.id}.inputs"].json == llm.inputs
    assert by[f"post.{llm.id}.outputs"].json == llm.outputs
    assert by[f"post.{llm.id}.extra"].json == llm.extra
    assert by[f"post.{llm.id}.serialized"].json == {"name": "ChatOpenAI"}
    image = by[f"attachment.{llm.id}.image"]
    assert (image.content_type, image.data) == ("image/png", b"\x89PNG\r\n\x1a\n...")
    assert by[f"post.{tool.id}"].json["session_name"] == "other-project"
    assert by[f"post.{tool.id}.error"].json == "ZeroDivisionError: division by zero"
    assert "parent_run_id" not in by[f"post.{root.id}"].json


def _normalised(parts: list[Any]) -> list[tuple[str, str, Any]]:
    out = []
    for p in parts:
        value = p.json if p.content_type == "application/json" else p.data
        if p.name.endswith(".extra"):  # the SDK adds its runtime and git revision
            value = dict(value)
            value.pop("runtime", None)
            value["metadata"] = {
                k: v for k, v in value.get("metadata", {}).items() if k != "revision_id"
            }
        if isinstance(value, dict) and p.name.count(".") == 1 and p.name.startswith("post."):
            value = {k: v for k, v in value.items() if v is not None}  # null == absent
        out.append((p.name, p.content_type, value))
    return out


def test_the_same_runs_make_the_same_multipart_request_as_the_langsmith_sdk() -> None:
    runs = _tree()
    with IngestServer() as ours:
        assert _sink(ours.url, compression="none").export(runs) is SinkResult.SUCCESS
    with IngestServer() as theirs:
        client = langsmith.Client(api_url=theirs.url, api_key="test-key", auto_batch_tracing=False)
        dicts = []
        for r in runs:
            d = r.to_dict()
            d["session_name"] = d["session_name"] or "my-project"
            d["attachments"] = {k: v for k, v in r.attachments.items() if isinstance(v, tuple)}
            dicts.append(d)
        client.multipart_ingest(create=dicts)
        client.flush()
    (mine,) = ours.posts("/runs/multipart")
    (sdk,) = theirs.posts("/runs/multipart")
    assert sdk.headers["x-api-key"] == mine.headers["x-api-key"]
    assert _normalised(parse_multipart(mine.body, mine.headers["Content-Type"])) == _normalised(
        parse_multipart(sdk.body, sdk.headers["Content-Type"])
    )


def test_a_404_on_multipart_falls_back_to_runs_batch_for_good() -> None:
    def respond(req: Request) -> Reply:
        return Reply(404) if req.path == "/runs/multipart" else Reply(200)

    runs = _tree()
    with IngestServer(respond) as server:
        sink = _sink(server.url)
        assert sink.export(runs[:2]) is SinkResult.SUCCESS
        assert sink.export(runs[2:]) is SinkResult.SUCCESS
    assert [r.path for r in server.posts()] == ["/runs/multipart", "/runs/batch", "/runs/batch"]
    first = server.posts("/runs/batch")[0].json
    assert list(first) == ["post"]
    assert [p["id"] for p in first["post"]] == [str(r.id) for r in runs[:2]]
    llm = first["post"][0]
    assert llm["inputs"] == runs[0].inputs and llm["outputs"] == runs[0].outputs
    assert llm["serialized"] == {"name": "ChatOpenAI"} and "serialized" not in first["post"][1]


def test_info_can_ask_for_runs_batch_and_limit_the_batch_size() -> None:
    info = {"batch_ingest_config": {"use_multipart_endpoint": False, "size_limit": 2}}
    with IngestServer(info=info) as server:
        assert _sink(server.url).export(_tree()) is SinkResult.SUCCESS
    assert [len(r.json["post"]) for r in server.posts("/runs/batch")] == [2, 1]


def test_retries_on_429_5xx_and_dropped_connections_honouring_retry_after() -> None:
    replies = iter(
        [
            Reply(503),
            Reply(429, {"Retry-After": "0"}),
            Reply(drop_connection=True),
            Reply(502),
            Reply(202),
        ]
    )
    with IngestServer(lambda req: next(replies)) as server:
        assert _sink(server.url).export(_tree()) is SinkResult.SUCCESS
    assert len(server.posts("/runs/multipart")) == 5


def test_409_is_success_and_other_4xx_fail_without_retrying() -> None:
    with IngestServer(lambda req: Reply(409)) as server:
        assert _sink(server.url).export(_tree()) is SinkResult.SUCCESS
    with IngestServer(lambda req: Reply(401, body=b'{"detail":"bad key"}')) as server:
        assert _sink(server.url, compression="none").export(_tree()) is SinkResult.FAILURE
    assert len(server.posts()) == 1


def test_the_retry_budget_bounds_a_server_that_stays_down() -> None:
    with IngestServer(lambda req: Reply(503)) as server:
        sink = _sink(server.url, max_attempts=4)
        assert sink.export(_tree()) is SinkResult.FAILURE
    assert len(server.posts()) == 4


def test_shutdown_cuts_a_waiting_retry_short() -> None:
    with IngestServer(lambda req: Reply(503, {"Retry-After": "3600"})) as server:
        sink = _sink(server.url, retry_seconds=7200)
        results: list[SinkResult] = []
        worker = threading.Thread(target=lambda: results.append(sink.export(_tree())))
        worker.start()
        deadline = time.monotonic() + 30
        while not server.posts():
            assert time.monotonic() < deadline, "the sink never sent its first request"
            time.sleep(0.01)
        sink.shutdown()
        worker.join(30)
    assert not worker.is_alive() and results == [SinkResult.FAILURE]
    assert sink.export(_tree()) is SinkResult.FAILURE  # stays shut


def test_a_server_that_refuses_gzip_gets_plain_bodies_from_then_on() -> None:
    def respond(req: Request) -> Reply:
        return Reply(415) if req.headers.get("Content-Encoding") == "gzip" else Reply(202)

    with IngestServer(respond) as server:
        sink = _sink(server.url)
        assert sink.export(_tree()) is SinkResult.SUCCESS
        assert sink.export(_tree()) is SinkResult.SUCCESS
    assert [r.headers.get("Content-Encoding") for r in server.posts()] == ["gzip", None, None]


def test_a_batch_too_large_for_the_server_is_split() -> None:
    def runs_in(req: Request) -> int:
        return len(re.findall(rb'name="post\.[0-9a-f-]{36}"', req.body))

    with IngestServer(lambda req: Reply(413) if runs_in(req) > 1 else Reply(202)) as server:
        assert _sink(server.url).export(_tree()) is SinkResult.SUCCESS
    assert [runs_in(r) for r in server.posts()] == [3, 1, 2, 1, 1]


def test_without_info_the_sink_assumes_multipart() -> None:
    with IngestServer(info=None) as server:
        assert _sink(server.url).export(_tree()) is SinkResult.SUCCESS
    assert [r.path for r in server.posts()] == ["/runs/multipart"]


def test_endpoint_key_and_project_default_to_the_langsmith_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with IngestServer() as server:
        monkeypatch.setenv("LANGCHAIN_ENDPOINT", server.url)
        monkeypatch.setenv("LANGSMITH_API_KEY", "env-key")
        monkeypatch.setenv("LANGCHAIN_PROJECT", "env-project")
        sink = LangSmithRunSink()
        assert sink.export(_tree()[2:]) is SinkResult.SUCCESS
    (req,) = server.posts()
    parts = parse_multipart(req.body, req.headers["Content-Type"])
    assert req.headers["x-api-key"] == "env-key"
    assert parts[0].json["session_name"] == "env-project"


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds("7") == 7.0
    now = time.time()
    assert retry_after_seconds(email.utils.formatdate(now + 30, usegmt=True), now) == pytest.approx(
        30, abs=1
    )
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_bad_settings_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="endpoint must be an http:// or https:// URL"):
        LangSmithRunSink("ftp://x", "k", "p")
    with pytest.raises(ValueError, match="compression must be 'gzip' or 'none'"):
        LangSmithRunSink("http://127.0.0.1:1", "k", "p", compression="zstd")


def test_info_is_read_once() -> None:
    with IngestServer() as server:
        sink = _sink(server.url)
        sink.export(_tree())
        sink.export(_tree())
        assert sink.info["version"] == INFO["version"]
    assert [r.path for r in server.requests if r.method == "GET"] == ["/info"]


def test_a_processor_spills_what_a_down_endpoint_refuses_and_replay_sends_it(
    tmp_path: Any,
) -> None:
    from click.testing import CliRunner
    from opentelemetry.sdk.trace import TracerProvider

    from otel_llm.cli import main
    from otel_llm.processor import RunSpanProcessor

    with IngestServer(lambda req: Reply(503)) as down:
        sink = _sink(down.url, retry_seconds=0.2, max_attempts=3)
        processor = RunSpanProcessor(sink, spill_dir=tmp_path / "spill")
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(processor)
        tracer = provider.get_tracer("t")
        with (
            tracer.start_as_current_span(
                "agent", attributes={"gen_ai.operation.name": "invoke_agent"}
            ),
            tracer.start_as_current_span("chat", attributes={"gen_ai.operation.name": "chat"}),
        ):
            pass
        provider.shutdown()
    stats = processor.stats
    assert stats.spilled == 2 and stats.emitted == 0 and stats.delivery_failures == 1
    assert len(down.posts()) == 3  # the retry budget, then the spill

    with IngestServer() as up:
        result = CliRunner().invoke(main, ["replay", str(tmp_path / "spill"), "--endpoint", up.url])
    assert result.exit_code == 0, result.output
    (req,) = up.posts("/runs/multipart")
    heads = [
        p.json
        for p in parse_multipart(req.body, req.headers["Content-Type"])
        if p.name.count(".") == 1
    ]
    agent = next(h for h in heads if "parent_run_id" not in h)
    child = next(h for h in heads if h is not agent)
    assert child["parent_run_id"] == agent["id"] == child["trace_id"]
