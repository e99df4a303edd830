"""Overflow, slow and failing sinks, spilling, shutdown, flush, fork and exit."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from otel_llm.model import Run
from otel_llm.processor import RunSpanProcessor
from otel_llm.sinks.base import RunSink, SinkResult
from otel_llm.sinks.jsonl import JsonlRunSink, read_runs
from otel_llm.sinks.memory import InMemoryRunSink
from otel_llm.sinks.spill import replay
from tests.processor.helpers import CONVENTIONS, Spec, check_tree, make, provider_with

CHAT = Spec("chat", {"gen_ai.operation.name": "chat"})


class GatedSink(RunSink):
    """Blocks in export until the gate opens; then fails or succeeds as told."""

    def __init__(self, result: SinkResult = SinkResult.SUCCESS) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.result = result
        self.runs: list[Run] = []
        self.shut = False

    def export(self, runs: Sequence[Run]) -> SinkResult:
        self.entered.set()
        self.gate.wait()
        if self.result is SinkResult.SUCCESS:
            self.runs.extend(runs)
        return self.result

    def shutdown(self) -> None:
        self.shut = True
        self.gate.set()  # a sink told to shut down stops retrying


class RaisingSink(RunSink):
    def export(self, runs: Sequence[Run]) -> SinkResult:
        raise ConnectionError("sink is down")


def test_a_full_queue_drops_and_counts_and_never_blocks_the_app() -> None:
    sink = InMemoryRunSink()
    gate = threading.Event()

    def stuck_redact(run: Run) -> Run:
        gate.wait()  # holds the converter: the queue can only grow
        return run

    processor = RunSpanProcessor(sink, redaction=False, redact=stuck_redact, max_queue_size=50)
    provider = provider_with(processor)
    tracer = provider.get_tracer("t")
    for _ in range(200):  # returns although nothing is being converted
        make(tracer, CHAT)
    stats = processor.stats
    assert stats.dropped["queue_full"] > 0
    gate.set()
    assert processor.force_flush(10_000)
    stats = processor.stats
    assert stats.received == 200
    # Every span that ended is accounted for: delivered or counted as dropped.
    assert stats.emitted + stats.dropped["queue_full"] == 200
    assert len(sink.get_finished_runs()) == stats.emitted
    provider.shutdown()


def test_a_slow_sink_does_not_hold_conversion_and_batches_merge_behind_it() -> None:
    sink = GatedSink()
    processor = RunSpanProcessor(sink, redaction=False, max_batch_size=10, schedule_delay_millis=1)
    provider = provider_with(processor)
    tracer = provider.get_tracer("t")
    make(tracer, CHAT)
    assert sink.entered.wait(10)  # the delivery thread is now stuck in export
    for _ in range(25):
        make(tracer, CHAT)
    assert not processor.force_flush(200)  # cannot finish while the sink is stuck
    assert processor.stats.queued == 0  # ... yet every span was converted
    sink.gate.set()
    assert processor.force_flush(10_000)
    assert len(sink.runs) == 26 and processor.stats.emitted == 26
    provider.shutdown()


def test_failed_deliveries_are_spilled_and_replayed(tmp_path: Path) -> None:
    failing = GatedSink(SinkResult.FAILURE)
    failing.gate.set()
    processor = RunSpanProcessor(failing, redaction=False, spill_dir=tmp_path / "spill")
    provider = provider_with(processor)
    make(provider.get_tracer("t"), CONVENTIONS["gen_ai"])
    assert processor.force_flush(10_000)
    stats = processor.stats
    assert stats.delivery_failures == 1 and stats.spilled == 3 and stats.emitted == 0
    assert not stats.dropped
    files = list((tmp_path / "spill").glob("runs-*.jsonl"))
    assert len(files) == 1
    spilled = list(read_runs(files[0]))
    provider.shutdown()

    later = InMemoryRunSink()
    report = replay(tmp_path / "spill", later)
    assert (report.files_sent, report.runs_sent, report.files_left) == (1, 3, 0)
    assert not list((tmp_path / "spill").glob("runs-*.jsonl"))
    runs = later.get_finished_runs()
    assert runs == spilled and len(runs) == 3
    check_tree(runs)


def test_without_a_spill_directory_failures_are_counted_as_dropped() -> None:
    processor = RunSpanProcessor(RaisingSink(), redaction=False)
    provider = provider_with(processor)
    make(provider.get_tracer("t"), CHAT)
    assert processor.force_flush(10_000)
    stats = processor.stats
    assert stats.delivery_failures == 1
    assert stats.dropped == {"delivery_failed": 1}
    provider.shutdown()


def test_shutdown_honours_its_timeout_and_spills_what_the_stuck_sink_holds(
    tmp_path: Path,
) -> None:
    sink = GatedSink(SinkResult.FAILURE)  # fails once told to shut down
    processor = RunSpanProcessor(sink, redaction=False, spill_dir=tmp_path)
    provider = provider_with(processor)
    make(provider.get_tracer("t"), CHAT)
    assert sink.entered.wait(10)
    processor.shutdown(timeout_millis=300)  # returns although export never would
    assert sink.shut
    processor._deliverer.join(10)  # the spill itself finishes right after
    assert processor.stats.spilled == 1
    assert len(list(read_runs(next(tmp_path.glob("runs-*.jsonl"))))) == 1
    # Spans that end after shutdown are counted, not queued.
    make(provider.get_tracer("t"), CHAT)
    assert processor.stats.dropped["shutdown"] == 1
    assert processor.force_flush(100) is False


def test_stats_are_logged_at_most_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="otel_llm.processor")
    processor = RunSpanProcessor(RaisingSink(), redaction=False, stats_log_interval_s=3600)
    provider = provider_with(processor)
    for _ in range(3):
        make(provider.get_tracer("t"), CHAT)
        assert processor.force_flush(10_000)
    processor._log_stats(force=True)
    processor._log_stats()  # within the interval: nothing more
    lines = [r for r in caplog.records if "otel-llm runs: received" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].levelno == logging.WARNING  # something was lost
    assert "dropped {'delivery_failed': 3}" in lines[0].getMessage()
    provider.shutdown()


def test_the_sdk_calls_on_ending_and_the_processor_takes_it() -> None:
    calls: list[str] = []

    class Recorder(RunSpanProcessor):
        def _on_ending(self, span: object) -> None:
            calls.append(getattr(span, "name", "?"))
            super()._on_ending(span)  # type: ignore[arg-type]

    sink = InMemoryRunSink()
    processor = Recorder(sink, redaction=False)
    provider = provider_with(processor)
    make(provider.get_tracer("t"), CHAT)
    assert calls == ["chat"]
    assert processor.force_flush(10_000) and len(sink.get_finished_runs()) == 1
    provider.shutdown()


def test_a_forked_child_delivers_its_own_spans(tmp_path: Path) -> None:
    sink = JsonlRunSink(tmp_path / "runs.jsonl")
    processor = RunSpanProcessor(sink, redaction=False)
    provider = provider_with(processor)
    tracer = provider.get_tracer("t")
    make(tracer, Spec("parent side", {"gen_ai.operation.name": "chat"}))
    assert processor.force_flush(10_000)
    pid = os.fork()
    if pid == 0:  # the child: new worker threads, its own queue
        code = 1
        try:
            make(tracer, Spec("child side", {"gen_ai.operation.name": "chat"}))
            code = 0 if processor.force_flush(10_000) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    make(tracer, Spec("parent again", {"gen_ai.operation.name": "chat"}))
    assert processor.force_flush(10_000)
    names = [r.name for r in read_runs(tmp_path / "runs.jsonl")]
    assert sorted(names) == ["child side", "parent again", "parent side"]
    provider.shutdown()


def test_runs_are_flushed_at_exit_without_an_explicit_shutdown(tmp_path: Path) -> None:
    out = tmp_path / "runs.jsonl"
    script = textwrap.dedent(f"""
        from opentelemetry.sdk.trace import TracerProvider
        from otel_llm.processor import RunSpanProcessor
        from otel_llm.sinks.jsonl import JsonlRunSink
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(
            RunSpanProcessor(JsonlRunSink({str(out)!r}), schedule_delay_millis=60_000))
        with provider.get_tracer("t").start_as_current_span(
                "chat", attributes={{"gen_ai.operation.name": "chat"}}):
            pass
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert [r.name for r in read_runs(out)] == ["chat"]


def test_intended_drops_are_logged_as_info_not_warnings(caplog: pytest.LogCaptureFixture) -> None:
    from otel_llm.sampling import TraceSampler

    caplog.set_level(logging.INFO, logger="otel_llm.processor")
    processor = RunSpanProcessor(InMemoryRunSink(), sampler=TraceSampler(0.0))
    provider = provider_with(processor)
    make(provider.get_tracer("t"), CHAT)
    provider.shutdown()
    (line,) = [r for r in caplog.records if "otel-llm runs: received" in r.getMessage()]
    assert line.levelno == logging.INFO
    assert "dropped {'sampled_out': 1}" in line.getMessage()
