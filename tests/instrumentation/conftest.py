"""Fixtures: an SDK tracer provider with an in-memory exporter, the fake LLM API on
loopback, and the project's instrumentors on that provider (taken off after each test)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_llm import Run, spans_to_runs
from otel_llm.otlp import span_from_readable
from tests.golden.fake_llm import serve


class Traced:
    """A tracer provider whose finished spans the test reads."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def runs(self) -> list[Run]:
        """The runs the project's readers make of the spans."""
        return spans_to_runs([span_from_readable(s) for s in self.spans()])

    def one(self, name: str | None = None) -> tuple[ReadableSpan, Run]:
        """The one span (named `name`) and its run."""
        spans = self.spans()
        runs = self.runs()
        pairs = [(s, r) for s, r in zip(spans, runs, strict=True) if name in (None, s.name)]
        assert len(pairs) == 1, [s.name for s in spans]
        return pairs[0]


@pytest.fixture
def traced() -> Iterator[Traced]:
    t = Traced()
    yield t
    t.provider.shutdown()


@pytest.fixture(scope="session")
def llm_url() -> Iterator[str]:
    with serve() as url:
        yield url


def instrumented(instrumentor: Any, traced: Traced, **kwargs: Any) -> Iterator[Any]:
    instrumentor.instrument(tracer_provider=traced.provider, **kwargs)
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()


@pytest.fixture
def openai_traced(traced: Traced) -> Iterator[Traced]:
    from otel_llm.instrumentation import OpenAIInstrumentor

    yield from (traced for _ in instrumented(OpenAIInstrumentor(), traced))


@pytest.fixture
def anthropic_traced(traced: Traced) -> Iterator[Traced]:
    from otel_llm.instrumentation import AnthropicInstrumentor

    yield from (traced for _ in instrumented(AnthropicInstrumentor(), traced))
