"""No code at all: `opentelemetry-instrument` with OTEL_TRACES_EXPORTER naming the
entry points, configured from the environment only; and ConventionSpanExporter."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_llm.exporter import ConventionSpanExporter
from otel_llm.from_env import processor_from_env, sink_from_env
from otel_llm.ids import run_id_from_span_id
from otel_llm.otlp import decode_otlp_protobuf
from otel_llm.sinks.jsonl import JsonlRunSink, read_runs
from otel_llm.sinks.langsmith import LangSmithRunSink
from otel_llm.sinks.store import StoreRunSink
from tests.processor.helpers import CONVENTIONS, check_tree, make, provider_with

APP = textwrap.dedent("""
    from opentelemetry import trace
    tracer = trace.get_tracer("app")
    with tracer.start_as_current_span("invoke_agent helper",
                                      attributes={"gen_ai.operation.name": "invoke_agent"}):
        with tracer.start_as_current_span("GET /weather", attributes={"http.method": "GET"}):
            pass
        with tracer.start_as_current_span("chat gpt-4o", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 7, "gen_ai.usage.output_tokens": 3}):
            pass
    print("app done")
""")

INSTRUMENT = str(Path(sys.executable).parent / "opentelemetry-instrument")


def _configurator_on_path(root: Path) -> Path:
    """`opentelemetry-instrument` configures the SDK through an `opentelemetry_configurator`
    entry point, which users get from opentelemetry-distro (its configurator is the SDK's,
    unchanged). A bare dist-info declaring the same entry point does the same here
    without pinning that package's versions into the test environment."""
    site = root / "site"
    info = site / "sdk_configurator-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sdk-configurator\nVersion: 0\n")
    (info / "entry_points.txt").write_text(
        "[opentelemetry_configurator]\n"
        "configurator = opentelemetry.sdk._configuration:_OTelSDKConfigurator\n"
    )
    return site


def _instrument(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "app.py"
    script.write_text(APP)
    site = _configurator_on_path(tmp_path)
    full = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "LANGSMITH_", "LANGCHAIN_"))
    }
    full.update(
        {
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "*",
            "OTEL_SERVICE_NAME": "weather-app",
            "PYTHONPATH": os.pathsep.join(
                [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
        }
    )
    full.update(env)
    result = subprocess.run(
        [INSTRUMENT, sys.executable, str(script)],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "app done" in result.stdout
    return result


@pytest.mark.parametrize("exporters", ["otel_llm_runs", "console,otel_llm_runs"])
def test_opentelemetry_instrument_writes_runs_to_jsonl(tmp_path: Path, exporters: str) -> None:
    out = tmp_path / "runs.jsonl"
    result = _instrument(
        tmp_path,
        OTEL_TRACES_EXPORTER=exporters,
        OTEL_LLM_RUNS_SINK="jsonl",
        OTEL_LLM_RUNS_JSONL_PATH=str(out),
    )
    runs = list(read_runs(out))
    # The agent and its chat generation; the HTTP span is filtered out.
    assert len(runs) == 2
    check_tree(runs)
    (chat,) = [r for r in runs if r.run_type == "llm"]
    (agent,) = [r for r in runs if r is not chat]
    assert chat.parent_run_id == agent.id and agent.parent_run_id is None
    assert chat.extra["otel"]["resource"]["service.name"] == "weather-app"
    if exporters.startswith("console"):
        # The console exporter still sees every span, the HTTP one included.
        assert '"name": "GET /weather"' in result.stdout


def test_opentelemetry_instrument_with_every_setting_from_the_environment(
    tmp_path: Path,
) -> None:
    out = tmp_path / "all.jsonl"
    _instrument(
        tmp_path,
        OTEL_TRACES_EXPORTER="otel_llm_runs",
        OTEL_LLM_RUNS_SINK="jsonl",
        OTEL_LLM_RUNS_JSONL_PATH=str(out),
        OTEL_LLM_RUNS_EXPORT_ALL="true",
        LANGSMITH_HIDE_OUTPUTS="true",
        OTEL_LLM_RUNS_SAMPLE_RATE="1",
    )
    runs = list(read_runs(out))
    assert len(runs) == 3 and all(r.outputs in (None, {}) for r in runs)
    check_tree(runs)


@pytest.mark.parametrize(
    ("exporters", "env", "said"),
    [
        (
            "console,otel_llm_runs",
            {"OTEL_LLM_RUNS_SINK": "bogus"},
            "otel_llm_runs is off: OTEL_LLM_RUNS_SINK must be one of langsmith, jsonl, store; "
            "got 'bogus'. Tracing goes on with the other exporters in OTEL_TRACES_EXPORTER; "
            "no runs are recorded until the variable is fixed and the app restarted.",
        ),
        (
            "console,otel_llm_runs",
            {"OTEL_LLM_RUNS_SINK": "jsonl", "OTEL_LLM_RUNS_MAX_BATCH_SIZE": "lots"},
            "otel_llm_runs is off: OTEL_LLM_RUNS_MAX_BATCH_SIZE",
        ),
        (
            "console,otel_llm_otlp",
            {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "carrier-pigeon"},
            "otel_llm_otlp is off: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be grpc or "
            "http/protobuf",
        ),
        (
            "console,otel_llm_console",
            {"OTEL_LLM_EMIT": "gen_ai,nope"},
            "otel_llm_console is off: OTEL_LLM_EMIT names unknown families nope",
        ),
    ],
)
def test_a_bad_value_is_one_line_and_tracing_goes_on(
    tmp_path: Path, exporters: str, env: dict[str, str], said: str
) -> None:
    result = _instrument(tmp_path, OTEL_TRACES_EXPORTER=exporters, **env)
    # opentelemetry-instrument's own note when two configurators are installed (the
    # project's and opentelemetry-distro's) is not ours.
    lines = [
        line
        for line in result.stderr.splitlines()
        if not line.startswith("Configuration of configurator not loaded")
    ]
    assert len(lines) == 1, result.stderr  # one line, no traceback
    assert lines[0].startswith(said)
    # The app ran traced: the SDK's console exporter still printed every span.
    assert result.stdout.count('"name": "') >= 3 and '"name": "GET /weather"' in result.stdout


def test_otel_llm_console_prints_normalised_spans(tmp_path: Path) -> None:
    result = _instrument(
        tmp_path, OTEL_TRACES_EXPORTER="otel_llm_console", OTEL_LLM_EMIT="gen_ai,langsmith"
    )
    assert '"otel_llm.observation.type": "generation"' in result.stdout
    assert '"langsmith.span.kind": "llm"' in result.stdout
    assert "openinference.span.kind" not in result.stdout


class _OTLPReceiver:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:
                outer.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()


def test_otel_llm_otlp_sends_normalised_spans_over_otlp_http(tmp_path: Path) -> None:
    receiver = _OTLPReceiver()
    try:
        _instrument(
            tmp_path,
            OTEL_TRACES_EXPORTER="otel_llm_otlp",
            OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="http/protobuf",
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=(
                f"http://127.0.0.1:{receiver.server.server_port}/v1/traces"
            ),
            OTEL_LLM_EMIT="gen_ai,openinference",
        )
    finally:
        receiver.server.shutdown()
    spans = {s.name: s for body in receiver.bodies for s in decode_otlp_protobuf(body)}
    assert set(spans) == {"invoke_agent helper", "GET /weather", "chat gpt-4o"}
    chat, agent = spans["chat gpt-4o"], spans["invoke_agent helper"]
    assert chat.parent_span_id == agent.span_id and chat.trace_id == agent.trace_id
    assert chat.attributes["openinference.span.kind"] == "LLM"
    assert chat.attributes["gen_ai.request.model"] == "gpt-4o"
    assert chat.resource["service.name"] == "weather-app"
    assert spans["GET /weather"].attributes["http.method"] == "GET"


def test_convention_exporter_keeps_ids_and_rewrites_attributes() -> None:
    inner = InMemorySpanExporter()
    original = InMemorySpanExporter()
    provider = provider_with(
        SimpleSpanProcessor(original), SimpleSpanProcessor(ConventionSpanExporter(inner))
    )
    make(provider.get_tracer("t"), CONVENTIONS["openinference"])
    before = {s.name: s for s in original.get_finished_spans()}
    after = {s.name: s for s in inner.get_finished_spans()}
    assert set(before) == set(after)
    for name, b in before.items():
        a = after[name]
        assert (a.context.trace_id, a.context.span_id) == (b.context.trace_id, b.context.span_id)
        assert (a.parent.span_id if a.parent else None) == (b.parent.span_id if b.parent else None)
        assert (a.start_time, a.end_time, a.kind) == (b.start_time, b.end_time, b.kind)
    llm = after["ChatOpenAI"].attributes
    assert llm["otel_llm.observation.type"] == "generation"
    assert llm["gen_ai.operation.name"] == "chat"
    assert llm["langsmith.span.kind"] == "llm"
    # One span per export: a child's ancestors are in other batches, so the LangSmith
    # tree keys that would name a provisional trace are left out.
    assert "langsmith.trace.id" not in llm and "langsmith.span.dotted_order" not in llm
    assert after["RAG"].attributes["langsmith.trace.id"] == str(
        run_id_from_span_id(after["RAG"].context.span_id.to_bytes(8, "big"))
    )
    provider.shutdown()


def test_convention_exporter_writes_complete_langsmith_trees_for_whole_batches() -> None:
    inner = InMemorySpanExporter()
    batch = BatchSpanProcessor(ConventionSpanExporter(inner, emit=("langsmith",)))
    provider = provider_with(batch)
    make(provider.get_tracer("t"), CONVENTIONS["gen_ai"])
    provider.force_flush()
    spans = {s.name: s for s in inner.get_finished_spans()}
    root = str(run_id_from_span_id(spans["invoke_agent math"].context.span_id.to_bytes(8, "big")))
    for s in spans.values():
        assert s.attributes["langsmith.trace.id"] == root
        assert str(s.attributes["langsmith.span.dotted_order"]).startswith("2")
    provider.shutdown()


def test_bad_settings_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="OTEL_LLM_RUNS_SINK must be one of"):
        sink_from_env({"OTEL_LLM_RUNS_SINK": "kafka"})
    with pytest.raises(ValueError, match="OTEL_LLM_RUNS_MAX_QUEUE_SIZE must be a non-negative"):
        processor_from_env(JsonlRunSink(tmp_path / "x"), {"OTEL_LLM_RUNS_MAX_QUEUE_SIZE": "lots"})
    with pytest.raises(ValueError, match="unknown redaction rules \\['phone'\\]"):
        processor_from_env(JsonlRunSink(tmp_path / "x"), {"OTEL_LLM_RUNS_REDACT": "keys,phone"})
    with pytest.raises(ValueError, match="unknown emit families"):
        ConventionSpanExporter(InMemorySpanExporter(), emit=("zipkin",))
    assert isinstance(sink_from_env({"LANGSMITH_ENDPOINT": "http://127.0.0.1:9"}), LangSmithRunSink)
    assert isinstance(
        sink_from_env({"OTEL_LLM_RUNS_SINK": "store", "OTEL_LLM_DB": str(tmp_path / "db")}),
        StoreRunSink,
    )


def test_json_console_output_is_valid_for_every_convention(tmp_path: Path) -> None:
    # Every convention's spans go through the rewrite without falling back to the
    # originals (the fallback would keep their native keys only).
    inner = InMemorySpanExporter()
    provider = provider_with(BatchSpanProcessor(ConventionSpanExporter(inner)))
    for spec in CONVENTIONS.values():
        make(provider.get_tracer("t"), spec)
    provider.force_flush()
    spans = inner.get_finished_spans()
    assert len(spans) > 10
    for s in spans:
        assert "otel_llm.observation.type" in s.attributes, s.name
        json.loads(s.to_json())
    provider.shutdown()


def test_the_environment_factories_still_import_from_their_old_module() -> None:
    import otel_llm.exporter
    import otel_llm.from_env

    for name in (
        "RunExporter",
        "ConventionOTLPExporter",
        "ConventionConsoleExporter",
        "sink_from_env",
        "processor_from_env",
        "emit_from_env",
        "otlp_exporter_from_env",
    ):
        assert getattr(otel_llm.exporter, name) is getattr(otel_llm.from_env, name)
    with pytest.raises(AttributeError):
        _ = otel_llm.exporter.no_such_name
