"""`otel-llm convert`: OTLP JSON / protobuf <-> runs JSONL, files and stdin/stdout."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import orjson
from click.testing import CliRunner

from otel_llm import Run, spans_to_runs
from otel_llm.cli import main
from otel_llm.model import SpanRecord
from otel_llm.otlp import decode_otlp_json, decode_otlp_protobuf, encode_otlp_json

T0 = 1_763_000_000_000_000_000


def _spans() -> list[SpanRecord]:
    trace = bytes(range(16))
    root = SpanRecord(
        trace_id=trace,
        span_id=b"\x01" * 8,
        name="agent",
        start_time_unix_nano=T0,
        end_time_unix_nano=T0 + 5_000_000,
        attributes={"gen_ai.operation.name": "invoke_agent"},
    )
    chat = SpanRecord(
        trace_id=trace,
        span_id=b"\x02" * 8,
        parent_span_id=b"\x01" * 8,
        name="chat gpt-4o",
        kind=3,
        start_time_unix_nano=T0 + 1000,
        end_time_unix_nano=T0 + 4_000_000,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 12,
        },
    )
    return [chat, root]  # child first, as SDKs export them


def test_json_to_runs_and_back(tmp_path: Path) -> None:
    src = tmp_path / "trace.json"
    src.write_bytes(encode_otlp_json(_spans()))
    runs_file = tmp_path / "runs.jsonl"
    result = CliRunner().invoke(main, ["convert", str(src), "-o", str(runs_file)])
    assert result.exit_code == 0, result.output
    runs = [Run.from_dict(orjson.loads(line)) for line in runs_file.read_bytes().splitlines()]
    assert {r.name for r in runs} == {"agent", "chat gpt-4o"}
    root = next(r for r in runs if r.name == "agent")
    chat = next(r for r in runs if r.name != "agent")
    assert chat.parent_run_id == root.id and chat.trace_id == root.id
    # Segments are the start time to the microsecond, then the run id.
    assert root.dotted_order == f"20251113T021320000000Z{root.id}"
    assert chat.dotted_order == f"{root.dotted_order}.20251113T021320000001Z{chat.id}"
    assert chat.run_type == "llm" and root.run_type == "chain"

    back = tmp_path / "back.pb"
    result = CliRunner().invoke(main, ["convert", str(runs_file), "-o", str(back)])
    assert result.exit_code == 0, result.output
    spans = decode_otlp_protobuf(back.read_bytes())
    assert sorted(s.span_id for s in spans) == [b"\x01" * 8, b"\x02" * 8]
    again = {r.id: r.to_dict() for r in spans_to_runs(spans)}
    assert again == {r.id: r.to_dict() for r in runs}


def test_stdin_to_stdout_in_a_real_process(tmp_path: Path) -> None:
    data = encode_otlp_json(_spans())
    proc = subprocess.run(
        [sys.executable, "-m", "otel_llm", "convert", "-", "--from", "otlp-json"],
        input=data,
        capture_output=True,
        check=True,
    )
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    assert all(uuid.UUID(orjson.loads(line)["id"]) for line in lines)
    # runs on stdin -> OTLP/JSON on stdout
    proc = subprocess.run(
        [sys.executable, "-m", "otel_llm", "convert", "-", "--from", "runs"],
        input=proc.stdout,
        capture_output=True,
        check=True,
    )
    assert len(decode_otlp_json(proc.stdout)) == 2


def test_errors_say_what_was_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}')
    result = CliRunner().invoke(main, ["convert", str(bad)])
    assert result.exit_code == 1
    assert "traceId" in result.output

    unknown = tmp_path / "trace.txt"
    unknown.write_text("x")
    result = CliRunner().invoke(main, ["convert", str(unknown)])
    assert result.exit_code == 2
    assert "--from" in result.output

    broken = tmp_path / "runs.jsonl"
    broken.write_text('{"id": "not-a-uuid", "name": "x", "start_time": "2026-01-01T00:00:00Z"}\n')
    result = CliRunner().invoke(main, ["convert", str(broken), "-o", str(tmp_path / "o.json")])
    assert result.exit_code == 1
    assert "line 1" in result.output

    result = CliRunner().invoke(main, ["convert", str(broken), "--emit", "nope"])
    assert result.exit_code == 2
