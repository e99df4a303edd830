"""Sampling keeps or drops whole traces: base ratio, errors, slow traces."""

from __future__ import annotations

import os
import uuid

import pytest
from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased

from otel_llm import config
from otel_llm.model import Run
from otel_llm.processor import RunSpanProcessor
from otel_llm.sampling import TraceSampler, ratio_keeps
from otel_llm.sinks.memory import InMemoryRunSink
from tests.processor.helpers import CONVENTIONS, Spec, check_tree, make, provider_with


def _run(name: str = "r", error: str | None = None, start_ns: int = 0) -> Run:
    return Run(id=uuid.uuid4(), name=name, error=error, start_time_ns=start_ns)


def _trace(i: int) -> bytes:
    return uuid.UUID(int=(i * 0x9E3779B97F4A7C15_0123456789ABCDEF) % (1 << 128)).bytes


def test_the_base_ratio_agrees_with_the_sdks_trace_id_ratio_sampler() -> None:
    for ratio in (0.0, 0.1, 0.5, 0.9, 1.0):
        sdk = TraceIdRatioBased(ratio)
        for i in range(500):
            tid = _trace(i)
            decision = sdk.should_sample(None, int.from_bytes(tid, "big"), "x").decision
            assert ratio_keeps(tid, ratio) == (decision is Decision.RECORD_AND_SAMPLE)


def test_about_the_ratio_of_traces_is_kept() -> None:
    # os.urandom, as OTel id generators: uuid4's fixed variant bits would skew this.
    kept = sum(ratio_keeps(os.urandom(16), 0.25) for _ in range(20_000))
    assert 4_500 < kept < 5_500


def test_dropped_traces_wait_for_their_root_then_go_whole() -> None:
    s = TraceSampler(0.0, keep_errors=True)
    tid = _trace(1)
    assert s.offer(tid, _run("a")) == [] and s.offer(tid, _run("b")) == []
    assert s.buffered == 2
    assert s.root_ended(tid, 1_000) == []
    assert s.sampled_out == 2 and s.buffered == 0
    assert s.offer(tid, _run("late")) == []  # the decision sticks
    assert s.sampled_out == 3


def test_an_error_anywhere_keeps_the_whole_trace() -> None:
    s = TraceSampler(0.0)
    tid = _trace(2)
    first = _run("a")
    assert s.offer(tid, first) == []
    failed = _run("b", error="boom")
    assert s.offer(tid, failed) == [first, failed]
    late = _run("c")
    assert s.offer(tid, late) == [late]
    assert s.root_ended(tid, 10) == []
    # An error on the root span itself keeps its trace as well.
    other = _trace(3)
    r = _run()
    s.offer(other, r)
    assert s.root_ended(other, 10, error=True) == [r]


def test_slow_traces_are_kept_and_fast_ones_dropped() -> None:
    s = TraceSampler(0.0, keep_errors=False, slow_threshold_ms=500)
    fast, slow = _trace(4), _trace(5)
    f, w = _run(), _run()
    s.offer(fast, f)
    s.offer(slow, w)
    assert s.root_ended(fast, 499_000_000) == []
    assert s.root_ended(slow, 500_000_000) == [w]


def test_the_buffer_is_bounded_and_roots_that_never_end_time_out() -> None:
    now = [0.0]
    wall = [10_000_000_000]
    s = TraceSampler(
        0.0,
        slow_threshold_ms=1_000,
        max_buffered_runs=3,
        root_timeout_s=60,
        clock=lambda: now[0],
        wall_clock_ns=lambda: wall[0],
    )
    for i in range(5):
        s.offer(_trace(10 + i), _run(start_ns=wall[0]))
    assert s.buffered == 3 and s.decided_early == 2 and s.sampled_out == 2
    # After the timeout, a trace still running longer than the slow threshold is kept.
    now[0] = 61.0
    wall[0] += 2_000_000_000
    assert len(s.expire()) == 3 and s.buffered == 0


def test_drain_decides_everything_at_shutdown() -> None:
    s = TraceSampler(0.0)
    s.offer(_trace(20), _run())
    assert s.drain() == [] and s.buffered == 0 and s.sampled_out == 1


def test_the_processor_keeps_error_traces_whole_and_drops_the_rest() -> None:
    sink = InMemoryRunSink()
    processor = RunSpanProcessor(sink, redaction=False, sampler=TraceSampler(0.0))
    provider = provider_with(processor)
    tracer = provider.get_tracer("t")
    for _ in range(5):
        make(tracer, CONVENTIONS["gen_ai"])
    failing = Spec(
        "agent",
        {"gen_ai.operation.name": "invoke_agent"},
        [
            Spec("chat", {"gen_ai.operation.name": "chat"}),
            Spec("tool", {"gen_ai.operation.name": "execute_tool"}, error="division by zero"),
        ],
    )
    make(tracer, failing)
    assert processor.force_flush(10_000)
    runs = sink.get_finished_runs()
    assert sorted(r.name for r in runs) == ["agent", "chat", "tool"]
    check_tree(runs)
    assert processor.stats.dropped["sampled_out"] == 15
    provider.shutdown()


def test_the_ratio_follows_langsmiths_sampling_variable() -> None:
    assert config.runs_sample_rate({"LANGSMITH_TRACING_SAMPLING_RATE": "0.3"}) == 0.3
    assert config.runs_sample_rate({"LANGCHAIN_TRACING_SAMPLING_RATE": "0.2"}) == 0.2
    assert (
        config.runs_sample_rate(
            {"OTEL_LLM_RUNS_SAMPLE_RATE": "0.1", "LANGSMITH_TRACING_SAMPLING_RATE": "0.3"}
        )
        == 0.1
    )
    assert config.runs_sample_rate({}) == 1.0
    with pytest.raises(ValueError, match="LANGSMITH_TRACING_SAMPLING_RATE must be between 0"):
        config.runs_sample_rate({"LANGSMITH_TRACING_SAMPLING_RATE": "2"})
    with pytest.raises(ValueError, match="must be a number, got 'half'"):
        config.runs_sample_rate({"LANGSMITH_TRACING_SAMPLING_RATE": "half"})
