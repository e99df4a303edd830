"""The collector pause around batch steps restores whatever state it found."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from otel_llm._gc import collector_paused
from otel_llm.convert import spans_to_runs
from otel_llm.model import SpanRecord


@pytest.fixture
def collector_state() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_paused_inside_restored_after(collector_state: None) -> None:
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a failing batch still restores the collector")
    assert gc.isenabled()


def test_an_app_that_disabled_the_collector_keeps_it_disabled(collector_state: None) -> None:
    gc.disable()
    runs = spans_to_runs([SpanRecord(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="s")])
    assert len(runs) == 1
    assert not gc.isenabled()


def test_decorated_batch_steps_pause_and_restore(collector_state: None) -> None:
    gc.enable()
    seen: list[bool] = []

    @collector_paused()
    def step() -> None:
        seen.append(gc.isenabled())

    step()
    step()  # the decorator makes a fresh pause per call
    assert seen == [False, False]
    assert gc.isenabled()
