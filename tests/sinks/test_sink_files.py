"""JSONL (with rotation), the local run store, the in-memory sink, the spill directory
and `otel-llm replay`."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from otel_llm.cli import main
from otel_llm.ids import dotted_order
from otel_llm.model import Run
from otel_llm.sinks.base import SinkResult
from otel_llm.sinks.jsonl import JsonlRunSink, read_runs, run_line
from otel_llm.sinks.memory import InMemoryRunSink
from otel_llm.sinks.spill import SpillDirectory, replay
from otel_llm.sinks.store import StoreRunSink
from otel_llm.store import SQLiteStore
from tests.sinks.helpers import IngestServer, Reply, parse_multipart

T0 = 1_795_000_000_000_000_000


def _trace(n: int = 3, name: str = "r") -> list[Run]:
    root = uuid.uuid4()
    root_do = dotted_order(None, T0, root)
    runs = [
        Run(
            id=root,
            name=f"{name}0",
            trace_id=root,
            dotted_order=root_do,
            start_time_ns=T0,
            end_time_ns=T0 + 10_000,
            inputs={"i": 0},
            outputs={"o": 0},
        )
    ]
    for i in range(1, n):
        rid = uuid.uuid4()
        runs.append(
            Run(
                id=rid,
                name=f"{name}{i}",
                run_type="llm",
                trace_id=root,
                parent_run_id=root,
                dotted_order=dotted_order(root_do, T0 + i * 1000, rid),
                start_time_ns=T0 + i * 1000,
                end_time_ns=T0 + i * 1000 + 2000,
                inputs={"i": i},
                outputs={
                    "o": i,
                    "usage_metadata": {
                        "input_tokens": i,
                        "output_tokens": 1,
                        "total_tokens": i + 1,
                    },
                },
            )
        )
    return runs


def test_jsonl_writes_one_run_per_line_in_the_sdk_shape(tmp_path: Path) -> None:
    runs = _trace()
    sink = JsonlRunSink(tmp_path / "out" / "runs.jsonl")
    assert sink.export(runs) is SinkResult.SUCCESS
    sink.shutdown()
    lines = (tmp_path / "out" / "runs.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [r.to_dict() for r in runs]
    assert list(read_runs(tmp_path / "out" / "runs.jsonl")) == runs


def test_jsonl_rotates_by_size_and_keeps_the_newest_backups(tmp_path: Path) -> None:
    runs = _trace(40)
    line = max(len(run_line(r)) for r in runs)
    path = tmp_path / "runs.jsonl"
    sink = JsonlRunSink(path, max_bytes=line * 5, backup_count=2)
    for r in runs:
        assert sink.export([r]) is SinkResult.SUCCESS
    sink.shutdown()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["runs.jsonl", "runs.jsonl.1", "runs.jsonl.2"]
    for p in tmp_path.iterdir():
        assert p.stat().st_size <= line * 5
    kept = [
        r.name
        for f in ("runs.jsonl.2", "runs.jsonl.1", "runs.jsonl")
        for r in read_runs(tmp_path / f)
    ]
    assert kept == [r.name for r in runs][-len(kept) :]  # the newest, in order


def test_a_bad_jsonl_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    path.write_bytes(run_line(_trace(1)[0]) + b'{"name": "no id"}\n')
    with pytest.raises(ValueError, match=r"runs.jsonl:2: not a run: run has no 'id'"):
        list(read_runs(path))


def test_in_memory_sink_keeps_clears_and_refuses_after_shutdown() -> None:
    sink = InMemoryRunSink()
    runs = _trace()
    sink.export(runs)
    assert sink.get_finished_runs() == runs
    sink.clear()
    assert sink.get_finished_runs() == []
    sink.shutdown()
    assert sink.export(runs) is SinkResult.FAILURE


def test_store_sink_writes_trees_into_the_run_store(tmp_path: Path) -> None:
    db = tmp_path / "otel-llm.db"
    runs = _trace()
    runs[1].session_name = "named"
    sink = StoreRunSink(db, project="fallback")
    assert sink.export(runs) is SinkResult.SUCCESS
    sink.shutdown()
    with SQLiteStore(db) as store:
        stored = store.trace_runs(runs[0].id)
        assert [r["id"] for r in stored] == [str(r.id) for r in runs]
        assert stored[0]["child_run_ids"] == [str(r.id) for r in runs[1:]]
        assert stored[1]["outputs"] == runs[1].outputs
        names = {p["name"] for p in store.list_projects()}
    assert names == {"named", "fallback"}


def test_spill_directory_is_bounded(tmp_path: Path) -> None:
    runs = _trace()
    size = sum(len(run_line(r)) for r in runs)
    spill = SpillDirectory(tmp_path, max_bytes=size * 2)
    assert spill.write(runs) and spill.write(runs)
    assert not spill.write(runs)  # would pass the limit: refused, caller counts it
    assert len(list(tmp_path.glob("runs-*.jsonl"))) == 2
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_replay_stops_at_a_refusing_sink_and_keeps_the_files(tmp_path: Path) -> None:
    spill = SpillDirectory(tmp_path)
    spill.write(_trace(name="a"))
    spill.write(_trace(name="b"))
    (tmp_path / "runs-99999999999999999999-0-000000.jsonl").write_text("not json\n")

    class Refusing(InMemoryRunSink):
        def export(self, runs: object) -> SinkResult:  # type: ignore[override]
            return SinkResult.FAILURE

    report = replay(tmp_path, Refusing())
    assert (report.files_sent, report.files_left) == (0, 3)
    ok = InMemoryRunSink()
    report = replay(tmp_path, ok)
    assert (report.files_sent, report.runs_sent, report.files_left) == (2, 6, 1)
    assert "not a run" in report.errors[0]
    assert [r.name for r in ok.get_finished_runs()] == ["a0", "a1", "a2", "b0", "b1", "b2"]


def test_otel_llm_replay_sends_a_spill_directory_to_an_endpoint(tmp_path: Path) -> None:
    spill = SpillDirectory(tmp_path / "spill")
    runs = _trace()
    spill.write(runs)
    with IngestServer() as server:
        result = CliRunner().invoke(
            main,
            [
                "replay",
                str(tmp_path / "spill"),
                "--sink",
                "langsmith",
                "--endpoint",
                server.url,
                "--api-key",
                "k",
                "--project",
                "replayed",
            ],
        )
    assert result.exit_code == 0, result.output
    assert "sent 3 runs from 1 files" in result.output
    (req,) = server.posts("/runs/multipart")
    heads = [
        p.json
        for p in parse_multipart(req.body, req.headers["Content-Type"])
        if p.name.count(".") == 1
    ]
    assert [h["id"] for h in heads] == [str(r.id) for r in runs]
    assert {h["session_name"] for h in heads} == {"replayed"}
    assert not list((tmp_path / "spill").glob("runs-*.jsonl"))


def test_otel_llm_replay_exits_1_and_keeps_files_when_the_endpoint_refuses(
    tmp_path: Path,
) -> None:
    SpillDirectory(tmp_path).write(_trace())
    with IngestServer(lambda req: Reply(400)) as server:
        result = CliRunner().invoke(main, ["replay", str(tmp_path), "--endpoint", server.url])
    assert result.exit_code == 1
    assert "1 files left" in result.output
    assert len(list(tmp_path.glob("runs-*.jsonl"))) == 1


def test_otel_llm_replay_into_the_store_and_a_jsonl_file(tmp_path: Path) -> None:
    runs = _trace()
    SpillDirectory(tmp_path / "a").write(runs)
    SpillDirectory(tmp_path / "b").write(runs)
    db, out = tmp_path / "x.db", tmp_path / "x.jsonl"
    r1 = CliRunner().invoke(
        main, ["replay", str(tmp_path / "a"), "--sink", "store", "--db", str(db)]
    )
    r2 = CliRunner().invoke(
        main, ["replay", str(tmp_path / "b"), "--sink", "jsonl", "--jsonl", str(out)]
    )
    assert r1.exit_code == 0 and r2.exit_code == 0, (r1.output, r2.output)
    with SQLiteStore(db) as store:
        assert len(store.trace_runs(runs[0].id)) == 3
    assert list(read_runs(out)) == runs
