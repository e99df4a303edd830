"""The public API, pinned (as httpx's tests/test_exported_members.py does): each documented
module's `__all__` is exactly the list below, every public name of a package is in it, and
the README and examples import only these names."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]

PUBLIC_API = {
    "otel_llm": [
        "BUILTIN_PATTERNS",
        "DEFAULT_EMIT",
        "DEFAULT_KEYS",
        "ConventionSpanExporter",
        "InMemoryRunSink",
        "JsonlRunSink",
        "LangSmithRunSink",
        "OTLPDecodeError",
        "ObservationType",
        "ProcessorStats",
        "Redactor",
        "Run",
        "RunLogProcessor",
        "RunSink",
        "RunSpanProcessor",
        "SinkResult",
        "SpanEvent",
        "SpanKind",
        "SpanLink",
        "SpanRecord",
        "StatusCode",
        "StoreRunSink",
        "TraceSampler",
        "classify",
        "observation_of",
        "observe",
        "otel_ids",
        "run_to_span",
        "runs_to_spans",
        "span_to_run",
        "spans_to_runs",
    ],
    # The README's "OTLP codecs" section.
    "otel_llm.otlp": [
        "OTLPDecodeError",
        "decode_otlp_json",
        "decode_otlp_protobuf",
        "decode_request",
        "encode_otlp_json",
        "encode_otlp_protobuf",
        "encode_request",
        "span_from_readable",
        "span_problem",
        "span_to_readable",
        "spans_to_readable",
    ],
    # The README's "Instrumentation" section.
    "otel_llm.instrumentation": [
        "AnthropicInstrumentor",
        "LangChainInstrumentor",
        "Observation",
        "OpenAIInstrumentor",
        "OtelLangChainTracer",
        "Settings",
        "observe",
    ],
    "otel_llm.server": ["OtelLlmServer", "ServerSettings", "create_app", "parse_duration"],
    "otel_llm.sinks": [
        "InMemoryRunSink",
        "JsonlRunSink",
        "LangSmithRunSink",
        "ReplayReport",
        "RunSink",
        "SinkResult",
        "SpillDirectory",
        "StoreRunSink",
        "replay",
    ],
    "otel_llm.store": [
        "FilterSyntaxError",
        "RunQuery",
        "RunStore",
        "SQLiteStore",
        "compile_filter",
        "parse_filter",
    ],
}
PACKAGES = ["otel_llm", "otel_llm.server", "otel_llm.sinks", "otel_llm.store"]


@pytest.mark.parametrize("name", PUBLIC_API)
def test_all_lists_exactly_the_documented_names(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(PUBLIC_API[name])
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize("name", PUBLIC_API)
def test_every_documented_name_is_there(name: str) -> None:
    module = importlib.import_module(name)
    assert [n for n in PUBLIC_API[name] if not hasattr(module, n)] == []


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_name_of_a_package_is_in_all(name: str) -> None:
    package = importlib.import_module(name)
    public = [
        member
        for member, value in vars(package).items()
        if not member.startswith("_") and not isinstance(value, ModuleType)
    ]
    assert sorted(public) == sorted(package.__all__)


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, re.MULTILINE | re.DOTALL)


_SOURCES = {
    "README.md": _python_blocks((ROOT / "README.md").read_text(encoding="utf-8")),
    **{
        f"examples/{path.name}": [path.read_text(encoding="utf-8")]
        for path in sorted((ROOT / "examples").glob("*.py"))
    },
}


@pytest.mark.parametrize("source", _SOURCES)
def test_readme_and_examples_import_only_the_public_api(source: str) -> None:
    outside = []
    for code in _SOURCES[source]:
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("otel_llm"):
                public = PUBLIC_API.get(node.module or "", [])
                outside += [f"{node.module}.{a.name}" for a in node.names if a.name not in public]
            elif isinstance(node, ast.Import):
                outside += [
                    a.name
                    for a in node.names
                    if a.name.startswith("otel_llm") and a.name not in PUBLIC_API
                ]
    assert outside == []
