#!/usr/bin/env python3
"""Generate the attribute constants and docs of the otel-llm conventions from YAML.

Reads `semconv/model/*.yaml` (our groups, in the OpenTelemetry semantic-conventions YAML
model style) and `semconv/imports.yaml` (the keys we reference but others own), and writes:

- `otel_llm/semconv.py`: one `Final` constant per attribute key and one class per enum;
- `semconv/attributes.md`: one table per group.

Usage:
    python semconv/generate.py            rewrite both files
    python semconv/generate.py --check    exit 1, printing a diff, when they are stale

Exit status: 0 done / up to date, 1 stale (--check), 2 the YAML is invalid.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

OUR_NAMESPACE = "otel_llm."
OURS = "ours"
# Each span group records one observation type: its id is this prefix + the type's value.
OBSERVATION_KEY = "otel_llm.observation.type"
SPAN_GROUP_PREFIX = "span.otel_llm."
SCALAR_TYPES = frozenset(
    {"string", "int", "double", "boolean", "string[]", "int[]", "double[]", "boolean[]", "any"}
)
ENUM = "enum"
GROUP_TYPES = frozenset({"attribute_group", "span"})
SPAN_KINDS = frozenset({"client", "server", "internal", "producer", "consumer"})
STABILITIES = frozenset({"stable", "release_candidate", "development"})
# Requirement levels in the order the docs list them; the conditional forms carry a text.
REQUIREMENT_RANK = {"required": 0, "conditionally_required": 1, "recommended": 2, "opt_in": 3}
PLAIN_LEVELS = frozenset({"required", "recommended", "opt_in"})
CONDITIONAL_LEVELS = frozenset({"conditionally_required", "recommended"})
REQUIREMENT_TITLE = {
    "required": "Required",
    "conditionally_required": "Conditionally required",
    "recommended": "Recommended",
    "opt_in": "Opt-in",
}

# The fields each YAML entity may have: a misspelt field is an error, never ignored.
GROUP_FIELDS = frozenset(
    {
        "id",
        "type",
        "brief",
        "note",
        "stability",
        "display_name",
        "extends",
        "span_kind",
        "attributes",
    }
)
DEFINITION_FIELDS = frozenset({"id", "type", "brief", "note", "examples", "stability"})
REF_FIELDS = frozenset({"ref", "brief", "note", "examples", "requirement_level"})
MEMBER_FIELDS = frozenset({"id", "value", "brief", "note", "stability"})
IMPORT_FIELDS = frozenset({"key", "source", "type", "brief", "note", "examples", "stability"})
SOURCE_FIELDS = frozenset({"title", "url"})

PYTHON_OUT = Path("otel_llm/semconv.py")
MARKDOWN_OUT = Path("semconv/attributes.md")
MODEL_DIR = Path("semconv/model")
IMPORTS = Path("semconv/imports.yaml")
GENERATED_BY = "semconv/generate.py"


class ModelError(ValueError):
    """The YAML model is invalid; the message names the file, group and attribute."""


@dataclass(frozen=True)
class Member:
    id: str
    value: str
    brief: str
    note: str
    stability: str


@dataclass(frozen=True)
class Attribute:
    """One attribute key: defined by us, or pinned from its owner in imports.yaml."""

    key: str
    type: str  # one of SCALAR_TYPES, or ENUM
    members: tuple[Member, ...]
    brief: str
    note: str
    examples: tuple[Any, ...]
    stability: str
    source: str  # OURS, or a key of imports.yaml's `sources`

    @property
    def is_ours(self) -> bool:
        return self.source == OURS


@dataclass(frozen=True)
class Use:
    """An attribute as a group lists it, with the group's requirement and overrides."""

    attribute: Attribute
    level: str  # a key of REQUIREMENT_RANK
    condition: str
    brief: str
    note: str
    examples: tuple[Any, ...]


@dataclass
class Group:
    id: str
    type: str
    brief: str
    note: str
    stability: str
    display_name: str
    span_kind: str
    extends: str
    where: str
    definitions: list[Attribute] = field(default_factory=list)
    raw_refs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    uses: list[Use] = field(default_factory=list)

    @property
    def is_registry(self) -> bool:
        return self.id.startswith("registry.")


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    url: str


@dataclass
class Model:
    groups: list[Group]
    attributes: dict[str, Attribute]  # every key, ours and imported
    sources: dict[str, Source]

    def group(self, group_id: str) -> Group:
        return next(g for g in self.groups if g.id == group_id)

    def resolved(self, group: Group) -> list[Use]:
        """The group's uses with those it extends; the most derived use of a key wins."""
        chain = [group]
        while chain[-1].extends:
            chain.append(self.group(chain[-1].extends))
        uses: dict[str, Use] = {}
        for g in reversed(chain):
            uses.update((u.attribute.key, u) for u in g.uses)
        return _by_requirement(uses.values())

    def observation_type(self, group: Group) -> str:
        """The `otel_llm.observation.type` value a span group records."""
        return group.id.removeprefix(SPAN_GROUP_PREFIX)

    def enums(self) -> list[Attribute]:
        return sorted(
            (a for a in self.attributes.values() if a.type == ENUM),
            key=lambda a: enum_class_name(a.key),
        )


def _by_requirement(uses: Iterable[Use]) -> list[Use]:
    return sorted(uses, key=lambda u: (REQUIREMENT_RANK[u.level], u.attribute.key))


# --- names --------------------------------------------------------------------------


def constant_name(key: str) -> str:
    """`gen_ai.request.model` -> `GEN_AI_REQUEST_MODEL`."""
    return key.upper().replace(".", "_")


def enum_class_name(key: str) -> str:
    """The enum class of a key: `otel_llm.run.type` -> `RunTypeValues`.

    Our namespace is dropped; other owners' keys keep their prefix, as their own packages
    name them (`gen_ai.operation.name` -> `GenAiOperationNameValues`).
    """
    key = key.removeprefix(OUR_NAMESPACE)
    words = key.replace(".", "_").split("_")
    return "".join(w.capitalize() for w in words) + "Values"


# --- loading and validation ---------------------------------------------------------


def load_model(root: Path) -> Model:
    """Read and validate the YAML under `root` (the repository root).

    Args:
        root: the directory holding `semconv/model/` and `semconv/imports.yaml`.

    Raises:
        ModelError: when a file is missing or anything in it is invalid.
    """
    sources, imported = _load_imports(root)
    files = sorted((root / MODEL_DIR).glob("*.yaml"))
    if not files:
        raise ModelError(f"{root / MODEL_DIR}: no *.yaml files")
    groups: list[Group] = []
    for path in files:
        groups.extend(_load_groups(path, root))

    attributes: dict[str, Attribute] = dict(imported)
    group_ids: set[str] = set()
    for g in groups:
        if g.id in group_ids:
            raise ModelError(f"{g.where}: group id {g.id!r} is defined twice")
        group_ids.add(g.id)
        for a in g.definitions:
            if a.key in attributes:
                owner = "imports.yaml" if a.key in imported else "another group"
                raise ModelError(f"{g.where}: {a.key!r} is already defined in {owner}")
            attributes[a.key] = a

    for g in groups:
        if g.extends and g.extends not in group_ids:
            raise ModelError(f"{g.where}: extends unknown group {g.extends!r}")
        for key, raw in g.raw_refs:
            if key not in attributes:
                raise ModelError(
                    f"{g.where}: ref {key!r} is neither defined in semconv/model/ "
                    "nor listed in semconv/imports.yaml"
                )
            g.uses.append(_use(attributes[key], raw, f"{g.where}: ref {key!r}"))
    _check_no_cycles(groups)
    _check_span_groups(groups, attributes)
    _check_unused_imports(groups, imported)
    _check_names_unique(attributes)
    return Model(groups=groups, attributes=attributes, sources=sources)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ModelError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a mapping at the top level")
    return data


def _fields(raw: Any, allowed: frozenset[str], where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ModelError(f"{where}: expected a mapping, got {raw!r}")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ModelError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(allowed)}")
    return raw


def _text(raw: dict[str, Any], name: str, where: str, required: bool = True) -> str:
    value = raw.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ModelError(f"{where}: {name!r} must be a non-empty string, got {value!r}")
    return " ".join(value.split())  # folded YAML text -> one line


def _choice(raw: dict[str, Any], name: str, allowed: frozenset[str], where: str) -> str:
    value = raw.get(name)
    if value not in allowed:
        raise ModelError(f"{where}: {name!r} must be one of {sorted(allowed)}, got {value!r}")
    return str(value)


def _examples(raw: dict[str, Any], where: str) -> tuple[Any, ...]:
    value = raw.get("examples")
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise ModelError(f"{where}: 'examples' must be a non-empty list, got {value!r}")
    return tuple(value)


def _type(raw: dict[str, Any], where: str) -> tuple[str, tuple[Member, ...]]:
    value = raw.get("type")
    if isinstance(value, str) and value in SCALAR_TYPES:
        return value, ()
    if isinstance(value, dict) and set(value) == {"members"}:
        return ENUM, _members(value["members"], where)
    raise ModelError(
        f"{where}: 'type' must be one of {sorted(SCALAR_TYPES)} or {{members: [...]}}, "
        f"got {value!r}"
    )


def _members(raw: Any, where: str) -> tuple[Member, ...]:
    if not isinstance(raw, list) or not raw:
        raise ModelError(f"{where}: 'members' must be a non-empty list")
    members: list[Member] = []
    for i, item in enumerate(raw):
        at = f"{where}: member {i}"
        m = _fields(item, MEMBER_FIELDS, at)
        member_id = _text(m, "id", at)
        if not member_id.isidentifier():
            raise ModelError(f"{at}: id {member_id!r} must be an identifier (a-z, 0-9, _)")
        value = m.get("value")
        if not isinstance(value, str):
            raise ModelError(f"{at}: 'value' must be a string (quote it), got {value!r}")
        members.append(
            Member(
                id=member_id,
                value=value,
                brief=_text(m, "brief", at),
                note=_text(m, "note", at, required=False),
                stability=_choice(m, "stability", STABILITIES, at),
            )
        )
    for name in ("id", "value"):
        seen = [getattr(m, name) for m in members]
        dupes = sorted({x for x in seen if seen.count(x) > 1})
        if dupes:
            raise ModelError(f"{where}: member {name}s repeat: {dupes}")
    return tuple(members)


def _attribute(raw: dict[str, Any], key: str, source: str, where: str) -> Attribute:
    kind, members = _type(raw, where)
    return Attribute(
        key=key,
        type=kind,
        members=members,
        brief=_text(raw, "brief", where),
        note=_text(raw, "note", where, required=False),
        examples=_examples(raw, where),
        stability=_choice(raw, "stability", STABILITIES, where),
        source=source,
    )


def _requirement(raw: Any, where: str) -> tuple[str, str]:
    if raw is None:
        return "recommended", ""
    if isinstance(raw, str) and raw in PLAIN_LEVELS:
        return raw, ""
    if isinstance(raw, dict) and len(raw) == 1:
        ((level, condition),) = raw.items()
        if level in CONDITIONAL_LEVELS and isinstance(condition, str) and condition.strip():
            return str(level), " ".join(condition.split())
    raise ModelError(
        f"{where}: 'requirement_level' must be one of {sorted(PLAIN_LEVELS)} or "
        f"{{conditionally_required | recommended: <condition>}}, got {raw!r}"
    )


def _use(attribute: Attribute, raw: dict[str, Any], where: str) -> Use:
    level, condition = _requirement(raw.get("requirement_level"), where)
    return Use(
        attribute=attribute,
        level=level,
        condition=condition,
        brief=_text(raw, "brief", where, required=False) or attribute.brief,
        note=_text(raw, "note", where, required=False) or attribute.note,
        examples=_examples(raw, where) or attribute.examples,
    )


def _load_imports(root: Path) -> tuple[dict[str, Source], dict[str, Attribute]]:
    path = IMPORTS
    data = _fields(_read_yaml(root / path), frozenset({"sources", "keys"}), str(path))
    raw_sources = data.get("sources")
    if not isinstance(raw_sources, dict) or not raw_sources:
        raise ModelError(f"{path}: 'sources' must map a source name to {{title, url}}")
    sources: dict[str, Source] = {}
    for name, raw in raw_sources.items():
        at = f"{path}: source {name!r}"
        if name == OURS:
            raise ModelError(f"{at}: {OURS!r} is reserved for our own keys")
        s = _fields(raw, SOURCE_FIELDS, at)
        sources[name] = Source(name=name, title=_text(s, "title", at), url=_text(s, "url", at))
    raw_keys = data.get("keys")
    if not isinstance(raw_keys, list) or not raw_keys:
        raise ModelError(f"{path}: 'keys' must be a non-empty list")
    imported: dict[str, Attribute] = {}
    for i, raw in enumerate(raw_keys):
        entry = _fields(raw, IMPORT_FIELDS, f"{path}: key {i}")
        key = _text(entry, "key", f"{path}: key {i}")
        at = f"{path}: {key!r}"
        if key.startswith(OUR_NAMESPACE):
            raise ModelError(f"{at}: our own keys are defined in semconv/model/, not imported")
        if key in imported:
            raise ModelError(f"{at}: listed twice")
        source = _choice(entry, "source", frozenset(sources), at)
        imported[key] = _attribute(entry, key, source, at)
    return sources, imported


def _load_groups(path: Path, root: Path) -> Iterator[Group]:
    name = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    data = _fields(_read_yaml(path), frozenset({"groups"}), name)
    raw_groups = data.get("groups")
    if not isinstance(raw_groups, list) or not raw_groups:
        raise ModelError(f"{name}: 'groups' must be a non-empty list")
    for i, raw in enumerate(raw_groups):
        g = _fields(raw, GROUP_FIELDS, f"{name}: group {i}")
        where = f"{name}: group {g.get('id', i)!r}"
        group = Group(
            id=_text(g, "id", where),
            type=_choice(g, "type", GROUP_TYPES, where),
            brief=_text(g, "brief", where),
            note=_text(g, "note", where, required=False),
            stability=_text(g, "stability", where, required=False),
            display_name=_text(g, "display_name", where, required=False),
            span_kind=_text(g, "span_kind", where, required=False),
            extends=_text(g, "extends", where, required=False),
            where=where,
        )
        if group.type == "span":
            _choice(g, "span_kind", SPAN_KINDS, where)
            _choice(g, "stability", STABILITIES, where)
        elif group.span_kind:
            raise ModelError(f"{where}: only span groups have a 'span_kind'")
        raw_attributes = g.get("attributes", [])
        if not isinstance(raw_attributes, list) or not (raw_attributes or group.extends):
            raise ModelError(f"{where}: 'attributes' must be a non-empty list")
        for raw_attribute in raw_attributes:
            _add_attribute(group, raw_attribute)
        yield group


def _add_attribute(group: Group, raw: Any) -> None:
    """A registry group defines keys (`id`); every other group lists them (`ref`)."""
    if not isinstance(raw, dict):
        raise ModelError(f"{group.where}: each attribute must be a mapping, got {raw!r}")
    if group.is_registry:
        attr = _fields(raw, DEFINITION_FIELDS, f"{group.where}: attribute {raw.get('id')!r}")
        key = _text(attr, "id", f"{group.where}: attribute")
        where = f"{group.where}: {key!r}"
        if not key.startswith(OUR_NAMESPACE):
            raise ModelError(
                f"{where}: we define only keys under {OUR_NAMESPACE!r}; reference a key "
                "owned by others with `ref:` and list it in semconv/imports.yaml"
            )
        group.definitions.append(_attribute(attr, key, OURS, where))
        return
    if "id" in raw:
        raise ModelError(
            f"{group.where}: attribute {raw['id']!r} is defined outside a registry group; "
            "define it in a `registry.*` group and `ref:` it here"
        )
    ref = _fields(raw, REF_FIELDS, f"{group.where}: ref {raw.get('ref')!r}")
    key = _text(ref, "ref", f"{group.where}: attribute")
    if any(k == key for k, _ in group.raw_refs):
        raise ModelError(f"{group.where}: ref {key!r} is listed twice")
    group.raw_refs.append((key, ref))


def _check_no_cycles(groups: list[Group]) -> None:
    parent = {g.id: g.extends for g in groups}
    for g in groups:
        seen = [g.id]
        while parent[seen[-1]]:
            nxt = parent[seen[-1]]
            if nxt in seen:
                raise ModelError(f"{g.where}: 'extends' loops: {' -> '.join([*seen, nxt])}")
            seen.append(nxt)


def _check_span_groups(groups: list[Group], attributes: dict[str, Attribute]) -> None:
    observation = attributes.get(OBSERVATION_KEY)
    if observation is None:
        raise ModelError(f"semconv/model/: {OBSERVATION_KEY!r} is not defined")
    values = sorted(m.value for m in observation.members)
    for g in groups:
        if g.type == "span" and g.id.removeprefix(SPAN_GROUP_PREFIX) not in values:
            raise ModelError(
                f"{g.where}: a span group's id is {SPAN_GROUP_PREFIX!r} + the "
                f"{OBSERVATION_KEY} value it records, one of {values}"
            )


def _check_unused_imports(groups: list[Group], imported: dict[str, Attribute]) -> None:
    used = {key for g in groups for key, _ in g.raw_refs}
    unused = sorted(set(imported) - used)
    if unused:
        raise ModelError(f"{IMPORTS}: keys referenced by no group: {unused}")


def _check_names_unique(attributes: dict[str, Attribute]) -> None:
    names: dict[str, str] = {}
    for key in sorted(attributes):
        for name in (constant_name(key), enum_class_name(key)):
            if names.setdefault(name, key) != key:
                raise ModelError(f"{key!r} and {names[name]!r} both make the name {name}")
        if not constant_name(key).isidentifier():
            raise ModelError(f"{key!r} does not make a Python name")


# --- Python -------------------------------------------------------------------------


def _docstring(text: str, indent: str) -> list[str]:
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = textwrap.wrap(text, width=92 - len(indent))
    if len(lines) == 1 and len(lines[0]) + len(indent) + 6 <= 100:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""', *(f"{indent}{line}" for line in lines), f'{indent}"""']


def render_python(model: Model) -> str:
    """The text of `otel_llm/semconv.py`."""
    out = [
        f"# Generated by {GENERATED_BY} from {MODEL_DIR}/*.yaml and {IMPORTS}.",
        f"# Do not edit: change the YAML, then run `python {GENERATED_BY}`.",
        '"""Attribute keys of the otel-llm conventions (see semconv/attributes.md).',
        "",
        "Our own `otel_llm.*` keys, the OpenTelemetry GenAI and OpenInference keys the",
        "conventions use, and one class per enum attribute with its values.",
        '"""',
        "",
        "from typing import Final",
        "",
    ]
    for attribute in sorted(model.attributes.values(), key=lambda a: constant_name(a.key)):
        out.append(f"{constant_name(attribute.key)}: Final = {json.dumps(attribute.key)}")
        origin = "" if attribute.is_ours else f" ({model.sources[attribute.source].title})"
        out.extend(_docstring(attribute.brief + origin, ""))
        out.append("")
    for attribute in model.enums():
        out.extend(["", f"class {enum_class_name(attribute.key)}:"])
        out.extend(_docstring(f"Values of `{attribute.key}`.", "    "))
        for member in attribute.members:
            out.extend(["", f"    {constant_name(member.id)}: Final = {json.dumps(member.value)}"])
            out.extend(_docstring(member.brief, "    "))
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


# --- Markdown -----------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _example(value: Any) -> str:
    if isinstance(value, str):
        shown = value
    else:
        shown = json.dumps(value, ensure_ascii=False)
    return f"`{shown}`" if "`" not in shown else shown


def _type_cell(attribute: Attribute) -> str:
    return "enum" if attribute.type == ENUM else f"`{attribute.type}`"


def _origin(model: Model, attribute: Attribute) -> str:
    if attribute.is_ours:
        return "**ours**"
    # A reference-style link: the targets are listed once, at the end of the page.
    return f"[{model.sources[attribute.source].title}][{attribute.source}]"


def _requirement_cell(use: Use) -> str:
    title = REQUIREMENT_TITLE[use.level]
    return f"{title}: {use.condition}" if use.condition else title


def _group_table(model: Model, uses: Sequence[Use]) -> list[str]:
    rows = [
        "| Attribute | Type | Requirement | Brief | Examples | Origin |",
        "|---|---|---|---|---|---|",
    ]
    notes: list[str] = []
    for use in uses:
        brief = use.brief
        if use.note:
            notes.append(use.note)
            brief += f" [{len(notes)}]"
        examples = "; ".join(_example(e) for e in use.examples)
        rows.append(
            f"| `{use.attribute.key}` | {_type_cell(use.attribute)} | "
            f"{_cell(_requirement_cell(use))} | {_cell(brief)} | {_cell(examples)} | "
            f"{_origin(model, use.attribute)} |"
        )
    return [*rows, "", *_notes(notes)]


def _notes(notes: list[str]) -> list[str]:
    lines: list[str] = []
    for i, note in enumerate(notes, 1):
        lines.extend([f"**[{i}]** {note}", ""])
    return lines


def _anchor(group_id: str) -> str:
    return group_id.replace(".", "-")


def _group_heading(model: Model, group: Group) -> list[str]:
    lines = [f'<a id="{_anchor(group.id)}"></a>', f"### `{group.id}`", "", group.brief, ""]
    facts = []
    if group.type == "span":
        facts.append(f"`{OBSERVATION_KEY}`: `{model.observation_type(group)}`.")
        facts.append(f"Span kind: `{group.span_kind}`.")
    if group.stability:
        facts.append(f"Stability: {group.stability}.")
    if group.extends:
        facts.append(
            f"Also carries every attribute of [`{group.extends}`](#{_anchor(group.extends)})."
        )
    if facts:
        lines.extend([" ".join(facts), ""])
    if group.note:
        lines.extend([group.note, ""])
    return lines


def render_markdown(model: Model) -> str:
    """The text of `semconv/attributes.md`."""
    owners = ", ".join(f"[{s.title}][{s.name}]" for s in model.sources.values())
    out = [
        f"<!-- Generated by {GENERATED_BY} from {MODEL_DIR}/*.yaml and {IMPORTS}. "
        f"Do not edit: change the YAML, then run `python {GENERATED_BY}`. -->",
        "",
        "# otel-llm attributes",
        "",
        "What a span written by otel-llm carries, per observation type. Each table lists what",
        "a group adds to the group it extends. **ours** marks the project's own keys (all",
        f"under `{OUR_NAMESPACE}`); every other key is referenced from its owner ({owners})",
        "and keeps the owner's meaning.",
        "",
        "## Observation types",
        "",
    ]
    spans = [g for g in model.groups if g.type == "span"]
    shared = [g for g in model.groups if g.type != "span" and not g.is_registry]
    registry = [g for g in model.groups if g.is_registry]
    for group in [*spans, None, *shared]:
        if group is None:
            out.extend(["## Shared attribute groups", ""])
            continue
        out.extend(_group_heading(model, group))
        out.extend(_group_table(model, _by_requirement(group.uses)))
    out.extend([f"## Registry: `{OUR_NAMESPACE}*`", ""])
    for group in registry:
        out.extend([f"### `{group.id}`", "", group.brief, ""])
        out.extend(_registry_table(group.definitions))
    out.extend(["## Enums", ""])
    for attribute in model.enums():
        out.extend(_enum_table(model, attribute))
    out.extend(
        ["## Referenced keys", "", "| Attribute | Type | Brief | Owner |", "|---|---|---|---|"]
    )
    for attribute in sorted(model.attributes.values(), key=lambda a: a.key):
        if not attribute.is_ours:
            out.append(
                f"| `{attribute.key}` | {_type_cell(attribute)} | {_cell(attribute.brief)} | "
                f"{_origin(model, attribute)} |"
            )
    out.append("")
    out.extend(f"[{s.name}]: {s.url}" for s in model.sources.values())
    return "\n".join(out).rstrip("\n") + "\n"


def _registry_table(definitions: Sequence[Attribute]) -> list[str]:
    rows = ["| Attribute | Type | Brief | Examples | Stability |", "|---|---|---|---|---|"]
    notes: list[str] = []
    for attribute in definitions:
        brief = attribute.brief
        if attribute.note:
            notes.append(attribute.note)
            brief += f" [{len(notes)}]"
        examples = "; ".join(_example(e) for e in attribute.examples)
        rows.append(
            f"| `{attribute.key}` | {_type_cell(attribute)} | {_cell(brief)} | "
            f"{_cell(examples)} | {attribute.stability} |"
        )
    return [*rows, "", *_notes(notes)]


def _enum_table(model: Model, attribute: Attribute) -> list[str]:
    lines = [
        f"### `{attribute.key}` ({_origin(model, attribute)})",
        "",
        f"Python: `otel_llm.semconv.{enum_class_name(attribute.key)}`.",
        "",
        "| Value | Brief | Stability |",
        "|---|---|---|",
    ]
    for member in attribute.members:
        lines.append(f"| `{member.value}` | {_cell(member.brief)} | {member.stability} |")
    return [*lines, ""]


# --- command line -------------------------------------------------------------------


def outputs(model: Model) -> dict[Path, str]:
    """Each generated file (relative to the repository root) and its text."""
    return {PYTHON_OUT: render_python(model), MARKDOWN_OUT: render_markdown(model)}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the generator.

    Args:
        argv: command-line arguments (default: sys.argv[1:]).

    Returns:
        0 when the files were written or are up to date, 1 when `--check` found them
        stale, 2 when the YAML is invalid.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 with a diff when stale"
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="repository root (default: the parent of this script's directory)",
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    try:
        model = load_model(root)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stale = False
    for relative, text in outputs(model).items():
        path = root / relative
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == text:
            continue
        if args.check:
            stale = True
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    fromfile=f"{relative} (checked in)",
                    tofile=f"{relative} (generated)",
                )
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote {relative}")
    if stale:
        print(f"\nstale generated files: run `python {GENERATED_BY}`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
