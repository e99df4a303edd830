"""`otel_llm.observe` on user code: every observation type, sync, async, generators,
context managers, errors, usage and model set by the user, size limits; each span read
back into the run a LangSmith `@traceable` user expects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from otel_llm import observe
from otel_llm.instrumentation import Settings
from otel_llm.instrumentation._capture import MAX_STRING
from tests.instrumentation.conftest import Traced


@pytest.fixture
def observed(traced: Traced) -> Iterator[Traced]:
    observe.configure(tracer_provider=traced.provider, settings=Settings())
    yield traced
    observe.configure()


def test_types_tree_and_runs(observed: Traced) -> None:
    @observe(as_type="retriever")
    def search(query: str) -> list[dict[str, object]]:
        return [
            {"page_content": "Paris", "metadata": {"id": "d1", "score": 0.9}, "type": "Document"}
        ]

    @observe(as_type="generation")
    def answer(question: str, docs: list[dict[str, object]]) -> str:
        current = observe.current()
        assert current is not None
        current.update(
            model="gpt-4o-mini",
            provider="openai",
            usage={"prompt_tokens": 10, "completion_tokens": 3},
        )
        return "Paris"

    @observe(as_type="tool", name="weather")
    def weather(city: str) -> str:
        return "sunny"

    class Agent:
        @observe(as_type="agent")
        def run(self, question: str) -> dict[str, str]:
            docs = search(question)
            weather("Paris")
            return {"answer": answer(question, docs)}

    assert Agent().run("Capital?") == {"answer": "Paris"}
    spans = {s.name: s for s in observed.spans()}
    runs = {r.name: r for r in observed.runs()}
    assert set(spans) == {
        "retrieval search",
        "chat gpt-4o-mini",
        "execute_tool weather",
        "invoke_agent run",
    }
    agent_span = spans["invoke_agent run"]
    assert agent_span.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent_span.attributes["gen_ai.agent.name"] == "run"
    assert agent_span.attributes["openinference.span.kind"] == "AGENT"
    assert agent_span.attributes["langfuse.observation.type"] == "agent"
    assert spans["retrieval search"].kind == SpanKind.CLIENT
    assert spans["execute_tool weather"].kind == SpanKind.INTERNAL
    assert all(
        s.parent.span_id == agent_span.context.span_id
        for n, s in spans.items()
        if n != "invoke_agent run"
    )
    agent = runs["run"]
    assert agent.run_type == "chain" and agent.metadata["observation_type"] == "agent"
    assert agent.inputs == {"question": "Capital?"}  # self left out
    assert agent.outputs == {"answer": "Paris"}
    assert runs["search"].run_type == "retriever"
    assert runs["search"].outputs == {
        "documents": [
            {"page_content": "Paris", "metadata": {"id": "d1", "score": 0.9}, "type": "Document"}
        ]
    }
    gen = runs["answer"]
    assert gen.run_type == "llm" and gen.outputs == {"output": "Paris"}
    assert gen.usage == {"input_tokens": 10, "output_tokens": 3, "total_tokens": 13}
    assert gen.metadata["ls_model_name"] == "gpt-4o-mini"
    assert spans["chat gpt-4o-mini"].attributes["gen_ai.usage.input_tokens"] == 10
    tool = runs["weather"]
    assert tool.run_type == "tool" and tool.inputs == {"city": "Paris"}
    assert tool.outputs == {"output": "sunny"}
    assert {r.parent_run_id for n, r in runs.items() if n != "run"} == {agent.id}


def test_async_generators_and_context_managers(observed: Traced) -> None:
    @observe
    def count(n: int) -> Iterator[int]:
        yield from range(n)

    @observe(name="acount")
    async def acount(n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i

    @observe
    async def fetch(x: int) -> int:
        with observe("inner", as_type="tool") as obs:
            obs.update(input={"x": x}, output=x + 1)
        return x * 2

    async def main() -> None:
        assert await fetch(2) == 4
        assert [i async for i in acount(2)] == [0, 1]

    assert list(count(3)) == [0, 1, 2]
    asyncio.run(main())
    runs = {r.name: r for r in observed.runs()}
    assert runs["count"].outputs == {"output": [0, 1, 2]}
    assert runs["acount"].outputs == {"output": [0, 1]}
    fetch_run = runs["fetch"]
    assert fetch_run.outputs == {"output": 4}
    assert runs["inner"].parent_run_id == fetch_run.id
    assert runs["inner"].inputs == {"x": 2} and runs["inner"].outputs == {"output": 3}


def test_errors_end_the_run_and_are_raised(observed: Traced) -> None:
    @observe(as_type="tool")
    def broken() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        broken()
    with pytest.raises(ValueError), observe("block"):
        raise ValueError("bad")
    spans = observed.spans()
    assert [s.status.status_code for s in spans] == [StatusCode.ERROR, StatusCode.ERROR]
    assert all(s.events[0].name == "exception" for s in spans)
    runs = observed.runs()
    assert runs[0].error is not None and "KeyError" in runs[0].error
    assert runs[1].error is not None and "ValueError: bad" in runs[1].error


def test_values_are_json_safe_and_size_limited(observed: Traced) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    @observe
    def big(text: str, blob: bytes, thing: object) -> dict[str, object]:
        return {"n": len(text), "set": {1}}

    big("x" * (MAX_STRING + 10), b"\x00" * 5, Opaque())
    span, run = observed.one()
    assert run.inputs["text"].startswith("x" * 100)
    assert run.inputs["text"].endswith("[10 more characters]")
    assert run.inputs["blob"] == "<5 bytes>" and run.inputs["thing"] == "<opaque>"
    assert run.outputs == {"n": MAX_STRING + 10, "set": [1]}
    json.loads(span.attributes["input.value"])


def test_unknown_type_is_refused_at_decoration() -> None:
    with pytest.raises(ValueError):
        observe(as_type="chain-of-thought")
