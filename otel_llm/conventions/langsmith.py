"""LangSmith's `langsmith.*` keys, as its SDK writes them and its server reads them."""

from __future__ import annotations

import functools
from typing import Any

import orjson

from otel_llm.conventions._typed import claim_error_type, json_object, text, uuid_value
from otel_llm.conventions.base import (
    Convention,
    E,
    Extraction,
    Fact,
    G,
    KindTable,
    R,
    RunFacts,
    S,
    T,
    dumps,
    loads_maybe,
)
from otel_llm.ids import ids_from_dotted_order, uuid_str
from otel_llm.model import RUN_TYPE_OF, Run, StatusCode

NAMESPACES = frozenset({"langsmith"})

KIND_KEY = "langsmith.span.kind"
# langsmith.span.kind is the run_type itself.
KINDS: KindTable = {
    "llm": (G, "llm"),
    "embedding": (E, "embedding"),
    "retriever": (R, "retriever"),
    "tool": (T, "tool"),
    "chain": (S, "chain"),
    "prompt": (S, "prompt"),
    "parser": (S, "parser"),
}


def read(x: Extraction) -> None:
    """Fills run ids, dotted order, name, project, tags, metadata and attachments from
    `langsmith.*` (as LangSmith's SDKs write them and its OTLP endpoint reads them)."""
    a = x.attrs
    obs = x.observation or S
    kind = a.get(KIND_KEY)
    if kind is not None:
        if kind == (x.run_type or RUN_TYPE_OF[obs]):
            x.consumed.add(KIND_KEY)
        elif kind not in KINDS:
            x.problem(KIND_KEY, "is not a known run type", kind)
    name = text(x, "langsmith.trace.name")
    if name != x.span.name:
        x.set_fact("name", name)
    _ids(x)
    x.set_fact("session_name", text(x, "langsmith.trace.session_name"))
    if "langsmith.trace.session_id" in a:
        x.set_fact("session_id", uuid_value(x, "langsmith.trace.session_id"))
    tags = text(x, "langsmith.span.tags")
    if tags is not None:
        # The Python SDK joins with ", ", the project's writer with ",".
        x.set_fact("tags", [t.strip() for t in tags.split(",") if t.strip()])
    if "langsmith.usage_metadata" in a and (obs is G or obs is E):
        _usage(x)
    if "langsmith.attachments" in a:
        _attachments(x)
    if x.span.status_code == StatusCode.ERROR and x.span.scope_name == EXPORTER_SCOPE:
        _error(x)
    for key, value in a.items():
        if key.startswith(METADATA_PREFIX):
            x.consumed.add(key)
            x.set_metadata(key[len(METADATA_PREFIX) :], metadata_value(value))


METADATA_PREFIX = "langsmith.metadata."
EXPORTER_SCOPE = "langsmith"  # the tracer name of the LangSmith SDK's OTel exporter


def _error(x: Extraction) -> None:
    """The run's own error text: the SDK's exporter records `Exception(run.error)`, so the
    exception event's message is the error exactly as the run had it."""
    for event in x.span.events:
        if event.name == "exception":
            message = event.attributes.get("exception.message")
            if event.attributes.get("exception.type") == "Exception" and isinstance(message, str):
                x.set_fact("error", message)
                claim_error_type(x)
            return


# langsmith.* id key -> Extraction field.
ID_KEYS: dict[str, Fact] = {
    "langsmith.trace.id": "trace_id",
    "langsmith.span.id": "run_id",
    "langsmith.span.parent_id": "parent_run_id",
}
DOTTED_ORDER_KEY = "langsmith.span.dotted_order"


def _ids(x: Extraction) -> None:
    a = x.attrs
    for key, field in ID_KEYS.items():
        if key in a:
            x.set_fact(field, uuid_value(x, key))
    dotted = a.get(DOTTED_ORDER_KEY)
    if dotted is None:
        return
    try:
        run_id, trace_id, parent_id = ids_from_dotted_order(str(dotted))
    except ValueError:
        # Left raw: the tree is then built from the OTel parent ids instead.
        x.problem(DOTTED_ORDER_KEY, "is not a dotted order", dotted)
        return
    x.consumed.add(DOTTED_ORDER_KEY)
    if x.dotted_order is None:
        x.dotted_order = str(dotted)
        x.set_fact("run_id", run_id)
        x.set_fact("trace_id", trace_id)
        x.set_fact("parent_run_id", parent_id)


# The first characters of the JSON that the writer makes of a non-string metadata value.
_JSON_FIRST = frozenset('{["-0123456789tf')


def metadata_value(value: Any) -> Any:
    """A `langsmith.metadata.*` value: JSON objects, arrays, numbers and booleans written
    as text are parsed back; any other string is kept as it is."""
    if not isinstance(value, str) or value[:1] not in _JSON_FIRST:
        return value
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    return value if isinstance(parsed, str) else parsed


def _usage(x: Extraction) -> None:
    usage = json_object(x, "langsmith.usage_metadata")
    if not usage:
        return
    for key, value in usage.items():
        if isinstance(value, dict):
            for detail, count in value.items():
                x.set_usage_detail(key, detail, count)
        else:
            x.set_usage(key, value)


def _attachments(x: Extraction) -> None:
    """Attachment names, types and sizes. The key itself stays raw (unconsumed): the
    run format keeps no bytes, and the span's attachment content must not be lost."""
    raw = loads_maybe(x.attrs["langsmith.attachments"])
    if not isinstance(raw, list):
        x.problem("langsmith.attachments", "is not a JSON list of attachments", raw)
        return
    found: dict[str, Any] = {}
    for item in raw:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            content = item.get("content")
            size = _b64_size(content) if isinstance(content, str) else None
            found[item["name"]] = {"mime_type": item.get("mime_type"), "size": size}
    if found:
        x.set_fact("attachments", found)


def _b64_size(text: str) -> int:
    """Decoded size of base64 text, without decoding it."""
    return len(text) * 3 // 4 - text[-2:].count("=")


# --- writing -----------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _metadata_key(key: str) -> str:
    """`langsmith.metadata.{key}`, made once per metadata key (they recur on every run)."""
    return f"langsmith.metadata.{key}"


def write(run: Run, facts: RunFacts, out: dict[str, Any]) -> None:
    """Run ids and fields so LangSmith's OTLP endpoint keeps the run as it was."""
    out[KIND_KEY] = run.run_type
    out["langsmith.trace.name"] = run.name
    # An incomplete run's trace id and dotted order are provisional: LangSmith would
    # trust them over the span ids, so they are left out.
    complete = not run.otel_incomplete
    if run.trace_id is not None and complete:
        out["langsmith.trace.id"] = uuid_str(run.trace_id)
    if facts.ids:
        out["langsmith.span.id"] = uuid_str(run.id)
    if run.parent_run_id is not None:
        out["langsmith.span.parent_id"] = uuid_str(run.parent_run_id)
    if run.dotted_order and complete:
        out[DOTTED_ORDER_KEY] = run.dotted_order
    if run.session_name:
        out["langsmith.trace.session_name"] = run.session_name
    if run.tags:
        out["langsmith.span.tags"] = ",".join(run.tags)
    md = run.extra.get("metadata") or {}
    for key, value in md.items():
        if value is not None:
            out[_metadata_key(key)] = value if isinstance(value, str) else dumps(value)
    # The model LangSmith shows (ls_model_name) when only the parameters name it; the
    # model that answered is the run's metadata `response_model`, written above.
    if facts.model and "ls_model_name" not in md and facts.observation in (G, E):
        out["langsmith.metadata.ls_model_name"] = facts.model


CONVENTION = Convention(
    name="langsmith",
    namespaces=NAMESPACES,
    read=read,
    kinds=((KIND_KEY, KINDS),),
    # The parent id alone does not place a run: its parent's run does.
    id_keys=frozenset({"langsmith.trace.id", "langsmith.span.id", DOTTED_ORDER_KEY}),
    dotted_order_key=DOTTED_ORDER_KEY,
    write=write,
)
