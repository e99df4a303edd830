"""The conventions' YAML, its generator, and the generated `otel_llm.semconv`."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from otel_llm import semconv
from otel_llm.model import RUN_TYPES, ObservationType

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "semconv" / "generate.py"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("semconv_generate", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


@pytest.fixture(scope="module")
def model() -> Any:
    return gen.load_model(ROOT)


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def _copy_repo(tmp_path: Path) -> Path:
    """The generator's inputs and outputs, copied so a test can break them."""
    shutil.copytree(ROOT / "semconv", tmp_path / "semconv")
    (tmp_path / "otel_llm").mkdir()
    shutil.copy(ROOT / "otel_llm" / "semconv.py", tmp_path / "otel_llm" / "semconv.py")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is no longer in {path.name}: update this test"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- generated files ----------------------------------------------------------------


def test_checked_in_files_are_what_the_yaml_generates() -> None:
    done = _run("--check")
    assert done.returncode == 0, f"stale generated files:\n{done.stdout}{done.stderr}"
    assert done.stdout == ""


def test_check_reports_drift_with_a_diff_and_writes_nothing(tmp_path: Path) -> None:
    root = _copy_repo(tmp_path)
    _edit(
        root / "semconv/model/registry.yaml",
        "brief: The run's tags, in order.",
        "brief: The run's labels, in order.",
    )
    before = (root / "otel_llm/semconv.py").read_text()

    stale = _run("--check", "--root", root)
    assert stale.returncode == 1
    assert "+++ otel_llm/semconv.py (generated)" in stale.stdout
    assert '+"""The run\'s labels, in order."""' in stale.stdout
    assert '-"""The run\'s tags, in order."""' in stale.stdout
    assert "semconv/attributes.md" in stale.stdout
    assert "python semconv/generate.py" in stale.stderr
    assert (root / "otel_llm/semconv.py").read_text() == before

    assert _run("--root", root).returncode == 0
    assert "labels" in (root / "otel_llm/semconv.py").read_text()
    assert _run("--check", "--root", root).returncode == 0


def test_output_is_deterministic(model: Any) -> None:
    again = gen.load_model(ROOT)
    assert gen.outputs(again) == gen.outputs(model)
    names = [line.split(":")[0] for line in gen.render_python(model).splitlines()]
    constants = [n for n in names if n.isupper() and n.isidentifier()]
    assert constants == sorted(constants)


def test_every_key_has_its_constant_and_nothing_else(model: Any) -> None:
    module_keys = {
        name: value
        for name, value in vars(semconv).items()
        if name.isupper() and isinstance(value, str)
    }
    assert module_keys == {gen.constant_name(key): key for key in model.attributes}
    assert semconv.GEN_AI_REQUEST_MODEL == "gen_ai.request.model"
    assert semconv.OTEL_LLM_RUN_ID == "otel_llm.run.id"
    assert semconv.INPUT_VALUE == "input.value"


# Code across the project uses these names: they must never disappear or change value.
EXISTING = {
    "OTEL_LLM_OBSERVATION_TYPE": "otel_llm.observation.type",
    "OTEL_LLM_RUN_TYPE": "otel_llm.run.type",
    "OTEL_LLM_RUN_ID": "otel_llm.run.id",
    "OTEL_LLM_RUN_TRACE_ID": "otel_llm.run.trace_id",
    "OTEL_LLM_RUN_PARENT_ID": "otel_llm.run.parent_id",
    "OTEL_LLM_RUN_DOTTED_ORDER": "otel_llm.run.dotted_order",
    "OTEL_LLM_RUN_NAME": "otel_llm.run.name",
    "OTEL_LLM_RUN_TAGS": "otel_llm.run.tags",
    "OTEL_LLM_RUN_EXTRA": "otel_llm.run.extra",
    "OTEL_LLM_RUN_SESSION_NAME": "otel_llm.run.session_name",
    "OTEL_LLM_RUN_SESSION_ID": "otel_llm.run.session_id",
    "OTEL_LLM_RUN_REFERENCE_EXAMPLE_ID": "otel_llm.run.reference_example_id",
    "OTEL_LLM_RUN_SERIALIZED": "otel_llm.run.serialized",
    "OTEL_LLM_RUN_ATTACHMENTS": "otel_llm.run.attachments",
    "OTEL_LLM_RUN_UNFINISHED": "otel_llm.run.unfinished",
    "OTEL_LLM_IO_VERBATIM": "otel_llm.io.verbatim",
    "OTEL_LLM_EVENT_KWARGS": "otel_llm.event.kwargs",
    "INPUT_VALUE": "input.value",
    "INPUT_MIME_TYPE": "input.mime_type",
    "OUTPUT_VALUE": "output.value",
    "OUTPUT_MIME_TYPE": "output.mime_type",
}


@pytest.mark.parametrize(("name", "key"), EXISTING.items())
def test_existing_constants_are_kept(name: str, key: str) -> None:
    assert getattr(semconv, name) == key


# --- the conventions agree with the model -------------------------------------------


def _values(cls: type) -> list[str]:
    return [v for k, v in vars(cls).items() if k.isupper() and isinstance(v, str)]


def test_observation_types_are_the_model_observation_types(model: Any) -> None:
    members = model.attributes["otel_llm.observation.type"].members
    assert [m.value for m in members] == [t.value for t in ObservationType]
    assert _values(semconv.ObservationTypeValues) == [t.value for t in ObservationType]
    assert ObservationType.GENERATION.value == semconv.ObservationTypeValues.GENERATION


def test_run_types_are_the_model_run_types(model: Any) -> None:
    members = model.attributes["otel_llm.run.type"].members
    assert [m.value for m in members] == list(RUN_TYPES)
    assert _values(semconv.RunTypeValues) == list(RUN_TYPES)


def test_one_span_group_per_observation_type(model: Any) -> None:
    spans = [g for g in model.groups if g.type == "span"]
    assert sorted(model.observation_type(g) for g in spans) == sorted(
        t.value for t in ObservationType
    )
    for group in spans:
        levels = {u.attribute.key: u.level for u in model.resolved(group)}
        assert levels["otel_llm.observation.type"] == "required", group.id
        assert "gen_ai.operation.name" in levels, group.id


def test_sub_types_extend_their_parent_types(model: Any) -> None:
    embedding = model.group("span.otel_llm.embedding")
    generation = model.group("span.otel_llm.generation")
    assert embedding.extends == generation.extends == "attributes.otel_llm.model_call"
    assert model.group("span.otel_llm.agent").extends == "span.otel_llm.span"
    # The agent's own use of gen_ai.operation.name overrides the one it inherits.
    agent_ops = [
        u
        for u in model.resolved(model.group("span.otel_llm.agent"))
        if u.attribute.key == "gen_ai.operation.name"
    ]
    assert [(u.level, u.examples) for u in agent_ops] == [
        ("required", ("invoke_agent", "create_agent"))
    ]


def test_our_keys_live_in_our_namespace(model: Any) -> None:
    ours = [a.key for a in model.attributes.values() if a.is_ours]
    assert len(ours) == 19
    assert all(key.startswith("otel_llm.") for key in ours)
    others = [a.key for a in model.attributes.values() if not a.is_ours]
    assert not [key for key in others if key.startswith("otel_llm")]


def test_official_keys_and_members_exist_in_the_otel_package(model: Any) -> None:
    with warnings.catch_warnings():  # the package marks GenAI as moved to its own repo
        warnings.simplefilter("ignore", DeprecationWarning)
        from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as official

        official_keys = {v for k, v in vars(official).items() if k.startswith("GEN_AI_")}
        official_enums = {
            key: {m.value for m in getattr(official, gen.enum_class_name(key))}
            for key in ("gen_ai.operation.name", "gen_ai.provider.name")
        }
    referenced = [a for a in model.attributes.values() if a.source == "opentelemetry"]
    assert len(referenced) > 30
    assert sorted(a.key for a in referenced if a.key not in official_keys) == []
    for attribute in referenced:
        if attribute.type == "enum":
            values = {m.value for m in attribute.members}
            assert values <= official_enums[attribute.key], attribute.key
    operations = {m.value for m in model.attributes["gen_ai.operation.name"].members}
    assert operations == official_enums["gen_ai.operation.name"]


# --- bad YAML gets a clear error ----------------------------------------------------

BROKEN = [
    pytest.param(
        "semconv/model/spans.yaml",
        "- ref: gen_ai.tool.name",
        "- ref: gen_ai.tool.nam",
        "'gen_ai.tool.nam' is neither defined in semconv/model/ nor listed",
        id="unknown-ref",
    ),
    pytest.param(
        "semconv/model/registry.yaml",
        "- id: otel_llm.run.name",
        "- id: run.name",
        "we define only keys under 'otel_llm.'",
        id="key-outside-namespace",
    ),
    pytest.param(
        "semconv/model/spans.yaml",
        '        requirement_level: required\n        examples: ["embeddings"]',
        '        requirment_level: required\n        examples: ["embeddings"]',
        "unknown field(s) ['requirment_level']",
        id="misspelt-field",
    ),
    pytest.param(
        "semconv/model/registry.yaml",
        'value: "parser"',
        "value: no",
        "'value' must be a string (quote it), got False",
        id="unquoted-enum-value",
    ),
    pytest.param(
        "semconv/model/spans.yaml",
        "id: span.otel_llm.tool",
        "id: span.otel_llm.function",
        "a span group's id is 'span.otel_llm.' + the otel_llm.observation.type value",
        id="span-group-of-no-type",
    ),
    pytest.param(
        "semconv/model/common.yaml",
        "- ref: otel_llm.run.tags",
        "- id: otel_llm.run.tags",
        "is defined outside a registry group",
        id="definition-outside-registry",
    ),
    pytest.param(
        "semconv/model/spans.yaml",
        "      - ref: gen_ai.embeddings.dimension.count\n        requirement_level: recommended\n",
        "",
        "keys referenced by no group: ['gen_ai.embeddings.dimension.count']",
        id="unused-import",
    ),
    pytest.param(
        "semconv/model/spans.yaml",
        "extends: span.otel_llm.span",
        "extends: span.otel_llm.agent",
        "'extends' loops",
        id="extends-loop",
    ),
    pytest.param(
        "semconv/model/common.yaml",
        "recommended: when the run belongs to a conversation (thread)",
        "sometimes: when the run belongs to a conversation (thread)",
        "'requirement_level' must be one of",
        id="bad-requirement-level",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "message"), BROKEN)
def test_invalid_yaml_is_rejected_with_a_clear_error(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    root = _copy_repo(tmp_path)
    _edit(root / file, old, new)
    with pytest.raises(gen.ModelError) as caught:
        gen.load_model(root)
    assert message in str(caught.value)


def test_cli_exits_2_on_invalid_yaml(tmp_path: Path) -> None:
    root = _copy_repo(tmp_path)
    _edit(root / "semconv/imports.yaml", "type: int", "type: integer")
    done = _run("--check", "--root", root)
    assert done.returncode == 2
    assert done.stderr.startswith("error: semconv/imports.yaml: 'gen_ai.request.max_tokens'")
    assert "'type' must be one of" in done.stderr
