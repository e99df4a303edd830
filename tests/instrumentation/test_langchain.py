"""LangChain (langchain-core, langchain-openai, a small LangGraph graph) against the fake
OpenAI API, traced by our LangChain tracer together with our OpenAI instrumentor: the
span tree mirrors the run tree, nests under the app's span, and the provider call nests
under the chat-model span with its tokens counted once."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any, TypedDict

import pytest
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

from otel_llm import Run
from otel_llm.instrumentation import LangChainInstrumentor, OpenAIInstrumentor
from tests.instrumentation.conftest import Traced

ANSWER = "The capital of France is Paris."


@pytest.fixture
def lc_traced(traced: Traced) -> Iterator[Traced]:
    both = (LangChainInstrumentor(), OpenAIInstrumentor())
    for instrumentor in both:
        instrumentor.instrument(tracer_provider=traced.provider)
    yield traced
    for instrumentor in both:
        instrumentor.uninstrument()


class Wiki(BaseRetriever):
    def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Document]:
        return [
            Document(
                page_content="Paris is the capital of France.", id="d1", metadata={"source": "wiki"}
            )
        ]


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


def llm(url: str) -> ChatOpenAI:
    return ChatOpenAI(
        model="gpt-4o-mini",
        base_url=url + "/v1",
        api_key="sk",  # type: ignore[arg-type]
        max_retries=0,
    )


def tree(traced: Traced) -> tuple[dict[int, ReadableSpan], dict[str, Run]]:
    spans = {s.context.span_id: s for s in traced.spans()}
    runs = {s.name: r for s, r in zip(traced.spans(), traced.runs(), strict=True)}
    return spans, runs


def parent_name(spans: dict[int, ReadableSpan], span: ReadableSpan) -> str | None:
    return spans[span.parent.span_id].name if span.parent else None


def test_chain_tree_nests_under_the_app_span(lc_traced: Traced, llm_url: str) -> None:
    chain = (
        ChatPromptTemplate.from_messages([("system", "Answer briefly."), ("user", "{q}")])
        | llm(llm_url)
        | StrOutputParser()
    )
    with lc_traced.provider.get_tracer("app").start_as_current_span("request"):
        answer = chain.invoke({"q": "Capital of France?"}, {"metadata": {"thread_id": "t-1"}})
        assert answer == ANSWER
    spans, _ = tree(lc_traced)
    by_name: dict[str, list[ReadableSpan]] = {}
    for s in spans.values():
        by_name.setdefault(s.name, []).append(s)
    (seq,) = by_name["RunnableSequence"]
    assert parent_name(spans, seq) == "request"
    chat, provider = sorted(by_name["chat gpt-4o-mini"], key=lambda s: s.instrumentation_scope.name)
    assert chat.instrumentation_scope.name == "otel_llm.instrumentation.langchain"
    assert parent_name(spans, chat) == "RunnableSequence"
    assert provider.parent.span_id == chat.context.span_id  # the call under the model run
    assert {
        parent_name(spans, s) for s in by_name["ChatPromptTemplate"] + by_name["StrOutputParser"]
    } == {"RunnableSequence"}
    assert chat.kind == SpanKind.CLIENT and seq.kind == SpanKind.INTERNAL
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.conversation.id"] == "t-1"  # LangSmith's thread
    assert chat.attributes["openinference.span.kind"] == "LLM"
    assert by_name["ChatPromptTemplate"][0].attributes["openinference.span.kind"] == "PROMPT"
    assert by_name["StrOutputParser"][0].attributes["langsmith.span.kind"] == "parser"

    runs = lc_traced.runs()
    by_span = dict(zip([s.context.span_id for s in lc_traced.spans()], runs, strict=True))
    chat_run, provider_run = by_span[chat.context.span_id], by_span[provider.context.span_id]
    seq_run, root = by_span[seq.context.span_id], by_span[spans[seq.parent.span_id].context.span_id]
    assert seq_run.parent_run_id == root.id and chat_run.parent_run_id == seq_run.id
    assert provider_run.parent_run_id == chat_run.id
    assert {r.trace_id for r in runs} == {root.id}
    assert chat_run.name == "ChatOpenAI" and chat_run.run_type == "llm"
    assert chat_run.inputs == {
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Capital of France?"},
        ]
    }
    assert chat_run.outputs == {
        "messages": [{"role": "assistant", "content": ANSWER, "finish_reason": "stop"}]
    }
    assert chat_run.metadata["ls_model_name"] == "gpt-4o-mini"
    # tokens once: on the LangChain model run; the provider call keeps its own aside
    assert chat_run.usage is not None and chat_run.usage["total_tokens"] == 35
    assert provider_run.usage is None
    assert provider_run.metadata["usage_counted_by_parent"]["total_tokens"] == 35
    assert sum((r.usage or {}).get("total_tokens", 0) for r in runs) == 35
    assert seq_run.inputs == {"q": "Capital of France?"}
    assert seq_run.outputs == {"output": ANSWER}


def test_tools_retrievers_and_errors(lc_traced: Traced, llm_url: str) -> None:
    call = llm(llm_url).bind_tools([get_weather]).invoke("Weather in Paris?")
    get_weather.invoke(call.tool_calls[0])
    Wiki().invoke("capital")

    def fail(_: Any) -> None:
        raise ValueError("no answer")

    with pytest.raises(ValueError):
        RunnableLambda(fail).invoke(1)
    spans, runs = tree(lc_traced)
    tool_run = runs["execute_tool get_weather"]
    assert tool_run.run_type == "tool" and tool_run.name == "get_weather"
    tool_span = next(s for s in spans.values() if s.name == "execute_tool get_weather")
    assert tool_span.attributes["gen_ai.tool.name"] == "get_weather"
    assert tool_span.attributes["gen_ai.tool.call.id"] == "call_weather_1"
    assert tool_run.inputs == {"city": "Paris"}
    assert tool_run.outputs == {"output": "Sunny in Paris"}
    assert tool_span.attributes["gen_ai.tool.call.result"] == "Sunny in Paris"
    retriever = runs["retrieval Wiki"]
    assert retriever.run_type == "retriever"
    assert retriever.outputs is not None
    doc = retriever.outputs["documents"][0]
    assert doc["page_content"] == "Paris is the capital of France."
    assert doc["metadata"]["source"] == "wiki"
    wiki_span = next(s for s in spans.values() if s.name == "retrieval Wiki")
    assert wiki_span.kind == SpanKind.CLIENT
    assert wiki_span.attributes["gen_ai.retrieval.query.text"] == "capital"
    failed = next(s for s in spans.values() if s.name == "fail")
    assert failed.status.status_code == StatusCode.ERROR
    assert runs["fail"].error is not None and "no answer" in runs["fail"].error
    chat = next(r for r in runs.values() if r.name == "ChatOpenAI")
    assert chat.outputs["messages"][0]["tool_calls"][0]["function"]["name"] == "get_weather"  # type: ignore[index]


def test_async_and_streaming(lc_traced: Traced, llm_url: str) -> None:
    chain = ChatPromptTemplate.from_messages([("user", "{q}")]) | llm(llm_url)

    model = llm(llm_url)

    async def main() -> None:
        await chain.ainvoke({"q": "Capital?"})
        async for _ in chain.astream({"q": "Capital?"}):
            pass
        await model.ainvoke("Capital?")  # started here, ended in LangChain's shielded task
        with lc_traced.provider.get_tracer("app").start_as_current_span("after"):
            pass

    asyncio.run(main())
    spans = lc_traced.spans()
    after = next(s for s in spans if s.name == "after")
    assert after.parent is None  # no ended run left behind as the current span
    for provider in [s for s in spans if s.instrumentation_scope.name.endswith("openai")]:
        parent = next(s for s in spans if s.context.span_id == provider.parent.span_id)
        assert parent.instrumentation_scope.name.endswith("langchain")
        assert parent.name == "chat gpt-4o-mini"
    by_id = {s.context.span_id: s for s in spans}
    roots = [s for s in spans if s.parent is None]
    assert sorted(s.name for s in roots) == [
        "RunnableSequence",
        "RunnableSequence",
        "after",
        "chat gpt-4o-mini",
    ]
    assert all(s.parent.span_id in by_id for s in spans if s.parent is not None)
    lc_chats = [
        s
        for s in spans
        if s.name == "chat gpt-4o-mini" and s.instrumentation_scope.name.endswith("langchain")
    ]
    assert sorted(len(s.events) for s in lc_chats) == [0, 0, 1]  # the stream's first token
    assert [e.name for s in lc_chats for e in s.events] == ["new_token"]


def test_async_calls_in_one_task_nest_and_keep_no_ended_span(
    lc_traced: Traced, llm_url: str
) -> None:
    """Model calls awaited one after another in one task: LangChain ends each run in
    another (shielded) task, so each leaves its start's attachment in this one; the
    provider spans still nest under their chat-model spans, and the ended spans are
    not kept alive by what is left."""
    langchain_spans: list[weakref.ref[Any]] = []

    class Watch(SpanProcessor):
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            if span.instrumentation_scope.name.endswith("langchain"):
                langchain_spans.append(weakref.ref(span))

    lc_traced.provider.add_span_processor(Watch())
    model = llm(llm_url)

    async def main() -> int:
        for _ in range(20):
            await model.ainvoke("Capital?")
        gc.collect()
        return sum(ref() is not None for ref in langchain_spans)

    assert asyncio.run(main()) == 0
    spans = lc_traced.spans()
    by_id = {s.context.span_id: s for s in spans}
    providers = [s for s in spans if s.instrumentation_scope.name.endswith("openai")]
    assert len(providers) == len(langchain_spans) == 20
    for provider in providers:
        parent = by_id[provider.parent.span_id]  # type: ignore[union-attr]
        assert parent.instrumentation_scope.name.endswith("langchain")
        assert parent.name == "chat gpt-4o-mini" and parent.parent is None
        assert "langsmith.metadata.usage_counted_by_parent" in provider.attributes


def test_langgraph_nodes(lc_traced: Traced, llm_url: str) -> None:
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        question: str
        answer: str

    model = llm(llm_url)

    def ask(state: State) -> dict[str, str]:
        return {"answer": str(model.invoke(state["question"]).content)}

    def shout(state: State) -> dict[str, str]:
        return {"answer": state["answer"].upper()}

    graph = StateGraph(State)
    graph.add_node("ask", ask)
    graph.add_node("shout", shout)
    graph.add_edge(START, "ask")
    graph.add_edge("ask", "shout")
    graph.add_edge("shout", END)
    app = graph.compile()
    assert app.invoke({"question": "Capital?"})["answer"] == ANSWER.upper()
    spans, runs = tree(lc_traced)
    root = next(s for s in spans.values() if s.parent is None)
    assert root.name == "LangGraph"
    ask_span = next(s for s in spans.values() if s.name == "ask")
    shout_span = next(s for s in spans.values() if s.name == "shout")
    assert parent_name(spans, ask_span) == "LangGraph"
    assert parent_name(spans, shout_span) == "LangGraph"
    chat = next(
        s
        for s in spans.values()
        if s.name == "chat gpt-4o-mini" and s.instrumentation_scope.name.endswith("chain")
    )
    assert parent_name(spans, chat) == "ask"
    assert runs["ask"].metadata["langgraph_node"] == "ask"
    assert runs["shout"].outputs == {"answer": ANSWER.upper()}


def test_uninstrument_stops_tracing(traced: Traced, llm_url: str) -> None:
    from langchain_core.callbacks import BaseCallbackManager

    before = vars(BaseCallbackManager)["__init__"]
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=traced.provider)
    RunnableLambda(lambda x: x).invoke(1)
    instrumentor.uninstrument()
    assert vars(BaseCallbackManager)["__init__"] is before
    count = len(traced.spans())
    assert count == 1
    RunnableLambda(lambda x: x).invoke(1)
    assert len(traced.spans()) == count
