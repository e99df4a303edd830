"""No code: an app that only calls its LLM clients, run by `opentelemetry-instrument`,
lands in `otel-llm serve` through the project's distro, configurator and instrumentors;
`OTEL_PYTHON_DISABLED_INSTRUMENTATIONS` takes the project's names; an app's own tracer
provider is kept."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langsmith import Client

from otel_llm import config
from otel_llm.instrumentation.distro import OtelLlmDistro
from otel_llm.server import OtelLlmServer, ServerSettings
from otel_llm.store import SQLiteStore

# langsmith's Client.list_runs is deprecated in favour of an API the server does not serve
pytestmark = pytest.mark.filterwarnings("ignore:list_runs")
BIN = Path(sys.executable).parent
APP = textwrap.dedent("""
    import anthropic, openai
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_openai import ChatOpenAI
    from otel_llm import observe

    @observe(as_type="agent")
    def agent(question):
        oa = openai.OpenAI(max_retries=0)
        oa.chat.completions.create(model="gpt-4o-mini",
                                   messages=[{"role": "user", "content": question}])
        list(oa.chat.completions.create(model="gpt-4o-mini", stream=True,
                                        messages=[{"role": "user", "content": question}]))
        anthropic.Anthropic(max_retries=0).messages.create(
            model="claude-sonnet-4-5", max_tokens=50,
            messages=[{"role": "user", "content": question}])
        chain = ChatPromptTemplate.from_messages([("user", "{q}")]) | ChatOpenAI(
            model="gpt-4o-mini", max_retries=0)
        return chain.invoke({"q": question}).content

    print(agent("Capital of France?"))
""")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[OtelLlmServer]:
    store = SQLiteStore(tmp_path / "runs.db")
    with OtelLlmServer(store, ServerSettings(grpc_port=0, http_port=0)) as running:
        yield running
    store.close()


def run_app(tmp_path: Path, llm_url: str, server: OtelLlmServer, **env: str) -> None:
    script = tmp_path / "app.py"
    script.write_text(APP)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LANGSMITH_"))}
    result = subprocess.run(
        [str(BIN / "opentelemetry-instrument"), sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **base,
            "OPENAI_BASE_URL": llm_url + "/v1",
            "OPENAI_API_KEY": "sk",
            "ANTHROPIC_BASE_URL": llm_url,
            "ANTHROPIC_API_KEY": "sk",
            "OTEL_PYTHON_DISTRO": "otel_llm",
            "OTEL_PYTHON_CONFIGURATOR": "otel_llm",
            "OTEL_EXPORTER_OTLP_ENDPOINT": server.http_url,
            "OTEL_SERVICE_NAME": "zero-code",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            **env,
        },
    )
    assert result.returncode == 0, result.stderr
    assert "The capital of France is Paris." in result.stdout
    assert "Traceback" not in result.stderr, result.stderr


def stored(server: OtelLlmServer) -> list[Any]:
    return list(Client(api_url=server.http_url, api_key="k").list_runs(project_name="zero-code"))


def scope(run: Any) -> str:
    return str(((run.extra or {}).get("otel") or {}).get("scope", {}).get("name", ""))


def test_opentelemetry_instrument_sends_runs_to_otel_llm_serve(
    tmp_path: Path, llm_url: str, server: OtelLlmServer
) -> None:
    # the peers register the entry-point name `openai`: disabling it leaves ours
    run_app(tmp_path, llm_url, server, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="openai")
    runs = stored(server)
    by_id = {r.id: r for r in runs}
    (root,) = [r for r in runs if r.parent_run_id is None]
    assert root.name == "agent" and root.run_type == "chain"
    llms = [r for r in runs if r.run_type == "llm"]
    names = sorted(r.name for r in llms)
    # two OpenAI calls, one Anthropic call, LangChain's model run and its OpenAI call
    assert names == ["ChatAnthropic", "ChatOpenAI", "ChatOpenAI", "ChatOpenAI", "ChatOpenAI"]
    assert all(r.trace_id == root.id for r in runs)
    lc_model = next(r for r in llms if scope(r).endswith("langchain"))
    provider = next(r for r in llms if by_id[r.parent_run_id].id == lc_model.id)
    assert by_id[lc_model.parent_run_id].name == "RunnableSequence"
    assert lc_model.total_tokens == 23 + 9 and provider.total_tokens in (0, None)
    anthropic_run = next(r for r in llms if r.name == "ChatAnthropic")
    assert anthropic_run.prompt_tokens == 11 + 100 + 20
    streamed = [r for r in llms if r.first_token_time is not None]
    assert len(streamed) == 1


def test_disabled_instrumentations_take_the_projects_names(
    tmp_path: Path, llm_url: str, server: OtelLlmServer
) -> None:
    run_app(
        tmp_path,
        llm_url,
        server,
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="otel_llm_openai,otel_llm_anthropic",
    )
    runs = stored(server)
    scopes = {scope(r) for r in runs}
    assert not any(s.startswith("otel_llm.instrumentation.openai") for s in scopes)
    assert not any(s.startswith("otel_llm.instrumentation.anthropic") for s in scopes)
    assert "otel_llm.instrumentation.langchain" in scopes
    # the peers (entry point `openai`) trace the OpenAI calls instead, the Anthropic SDK
    # its own calls (its spans are on again without our Anthropic instrumentor)
    assert {"openinference.instrumentation.openai", "com.anthropic.sdk.python"} <= scopes


def test_distro_defaults_to_a_local_otel_llm_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in config.DISTRO_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otel_llm_runs")
    OtelLlmDistro().configure()
    assert os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4318"
    assert os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert os.environ["OTEL_TRACES_EXPORTER"] == "otel_llm_runs"  # a choice made stays


def test_an_apps_own_provider_is_kept(tmp_path: Path, llm_url: str) -> None:
    script = tmp_path / "own.py"
    script.write_text(
        textwrap.dedent("""
        import openai
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter)
        from otel_llm.instrumentation import OpenAIInstrumentor
        from otel_llm.instrumentation.distro import OtelLlmConfigurator

        OpenAIInstrumentor().instrument()  # before the app sets its provider
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        OtelLlmConfigurator().configure()
        assert trace.get_tracer_provider() is provider
        openai.OpenAI(max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        print([s.name for s in exporter.get_finished_spans()])
    """)
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OPENAI_BASE_URL": llm_url + "/v1", "OPENAI_API_KEY": "sk"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['chat gpt-4o-mini']"
