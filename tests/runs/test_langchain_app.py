"""A real LangChain app (langchain-core + langchain-openai against a fake OpenAI API on
loopback), pointed at `otel-llm serve` by environment variables only: a chain with a
retriever step, a tool-calling chat model and a tool, and a streaming call."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from langsmith import Client

from otel_llm.server import OtelLlmServer
from tests.golden.fake_llm import serve as fake_openai

APP = textwrap.dedent('''
    from langchain_core.documents import Document
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import RunnablePassthrough
    from langchain_core.tools import tool
    from langchain_core.tracers.langchain import wait_for_all_tracers
    from langchain_openai import ChatOpenAI

    class Wiki(BaseRetriever):
        def _get_relevant_documents(self, query, *, run_manager):
            return [Document(page_content="Paris is the capital of France.",
                             metadata={"source": "wiki"})]

    @tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"Sunny in {city}"

    llm = ChatOpenAI(model="gpt-4o-mini", stream_usage=True)
    prompt = ChatPromptTemplate.from_messages([("system", "Context: {context}"),
                                               ("user", "{question}")])
    chain = ({"context": Wiki() | (lambda docs: docs[0].page_content),
              "question": RunnablePassthrough()} | prompt | llm).with_config(
                  run_name="qa_chain")
    chain.invoke("What is the capital of France?")
    call = llm.bind_tools([get_weather]).invoke("What is the weather in Paris?")
    get_weather.invoke(call.tool_calls[0])
    "".join(chunk.content for chunk in llm.stream("Stream the answer"))
    wait_for_all_tracers()
''')


def test_langchain_app_traces_arrive_whole(server: OtelLlmServer, tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(APP)
    with fake_openai() as openai_url:
        result = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            timeout=120,
            env={
                **os.environ,
                "OPENAI_BASE_URL": openai_url + "/v1",
                "OPENAI_API_KEY": "sk",
                "LANGSMITH_ENDPOINT": server.http_url,
                "LANGSMITH_API_KEY": "k",
                "LANGSMITH_TRACING": "true",
                "LANGSMITH_PROJECT": "lc-app",
            },
        )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    client = Client(api_url=server.http_url, api_key="k")
    runs = list(client.list_runs(project_name="lc-app"))
    by_id = {r.id: r for r in runs}
    roots = {r.name: r for r in runs if r.parent_run_id is None}
    assert {"qa_chain", "get_weather"} <= set(roots)
    chats = [r for r in runs if r.run_type == "llm"]
    assert len(chats) == 3  # the chain's, the tool-calling and the streaming call
    for chat in chats:
        assert chat.total_tokens and chat.prompt_tokens and chat.completion_tokens
        assert chat.extra["metadata"]["ls_model_name"] == "gpt-4o-mini"
        assert chat.end_time is not None and chat.outputs
    # The chain: retriever, prompt and model under one root, in dotted order.
    qa = roots["qa_chain"]
    tree = [r for r in runs if r.trace_id == qa.id]
    kinds = {r.run_type for r in tree}
    assert {"chain", "retriever", "prompt", "llm"} <= kinds
    retriever = next(r for r in tree if r.run_type == "retriever")
    assert retriever.outputs["documents"][0]["page_content"].startswith("Paris")
    for run in tree:
        if run.parent_run_id is not None:
            parent = by_id[run.parent_run_id]
            assert run.dotted_order.startswith(parent.dotted_order + ".")
    assert qa.total_tokens == sum(r.total_tokens or 0 for r in tree if r.run_type == "llm")
    # The tool-calling model asked for the tool; the tool ran with its arguments.
    calls = [r for r in chats if "tool_calls" in str(r.outputs)]
    assert calls, [c.outputs for c in chats]
    assert roots["get_weather"].run_type == "tool"
    assert "Sunny in Paris" in str(roots["get_weather"].outputs)
    # The streaming call recorded its first token.
    streamed = [c for c in chats if any(e.get("name") == "new_token" for e in c.events or [])]
    assert streamed and streamed[0].first_token_time is not None
