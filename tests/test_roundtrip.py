"""Lossless both ways: run -> span -> run and span -> run -> span, as properties."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_llm import DEFAULT_EMIT, Run, SpanEvent, SpanLink, runs_to_spans, spans_to_runs
from otel_llm.ids import dotted_order
from otel_llm.model import RUN_TYPES, ns_to_iso
from otel_llm.otlp import decode_otlp_protobuf, encode_otlp_protobuf

# Text as JSON can carry it (no lone surrogates), with plenty of non-ASCII.
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
big_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=2000, max_size=3000)
json_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
json_dict = st.dictionaries(text, json_value, max_size=4)

message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool"]), "content": text}
)
usage = st.fixed_dictionaries(
    {
        "input_tokens": st.integers(0, 10**6),
        "output_tokens": st.integers(0, 10**6),
        "total_tokens": st.integers(0, 2 * 10**6),
    }
)
T0 = 1_763_000_000_000_000_000


@st.composite
def extras(draw: st.DrawFn, run_type: str) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    metadata = draw(json_dict)
    if run_type == "llm" and draw(st.booleans()):
        metadata["ls_model_name"] = draw(st.sampled_from(["gpt-4o-mini", "claude-sonnet-4-5"]))
        metadata["ls_provider"] = draw(st.sampled_from(["openai", "anthropic", "azure"]))
        metadata["usage_metadata"] = draw(usage)
    if run_type == "chain" and draw(st.booleans()):
        metadata["observation_type"] = "agent"
    if metadata:
        extra["metadata"] = metadata
    if draw(st.booleans()):
        extra["invocation_params"] = draw(
            st.fixed_dictionaries({"temperature": st.floats(0, 2), "stop": st.lists(text)})
        )
    if draw(st.booleans()):
        extra["runtime"] = draw(json_dict)
    return extra


@st.composite
def inputs_for(draw: st.DrawFn, run_type: str) -> dict[str, Any]:
    if run_type == "llm" and draw(st.booleans()):
        return {"messages": draw(st.lists(message, min_size=1, max_size=3))}
    if run_type == "retriever" and draw(st.booleans()):
        return {"query": draw(text)}
    if draw(st.integers(0, 9)) == 0:
        return {"big": draw(big_text)}
    return draw(json_dict)


@st.composite
def traces(draw: st.DrawFn) -> list[Run]:
    """A tree of 1-8 runs with consistent ids, dotted orders and times."""
    n = draw(st.integers(1, 8))
    runs: list[Run] = []
    for i in range(n):
        parent = runs[draw(st.integers(0, i - 1))] if i else None
        run_id = draw(st.uuids())
        run_type = draw(st.sampled_from(RUN_TYPES))
        start = (parent.start_time_ns if parent else T0) + draw(st.integers(0, 10**9)) * 1000
        end = start + draw(st.integers(0, 10**10)) * 1000 if draw(st.integers(0, 5)) else None
        run = Run(
            id=run_id,
            name=draw(text),
            run_type=run_type,
            trace_id=parent.trace_id if parent else run_id,
            parent_run_id=parent.id if parent else None,
            dotted_order=dotted_order(parent.dotted_order if parent else None, start, run_id),
            start_time_ns=start,
            end_time_ns=end,
            inputs=draw(inputs_for(run_type)),
            outputs=draw(st.none() | json_dict),
            error=draw(st.none() | text.filter(bool)),  # "" is no error message
            extra=draw(extras(run_type)),
            tags=draw(st.lists(text, max_size=3)),
            events=draw(
                st.lists(
                    st.fixed_dictionaries(
                        {"name": event_name, "time": st.just(ns_to_iso(start))},
                        optional={"kwargs": json_dict},
                    ),
                    max_size=2,
                )
            ),
            serialized=draw(st.none() | json_dict) if run_type in ("llm", "prompt") else None,
            session_name=draw(st.none() | text.filter(bool)),  # "" means no project
            session_id=draw(st.none() | st.uuids()),
            reference_example_id=draw(st.none() | st.uuids()),
        )
        runs.append(run)
    return runs


emits = st.sampled_from([DEFAULT_EMIT, frozenset({"gen_ai"}), frozenset()])

# A run's own events may be named like the GenAI message events a reader maps.
GENAI_EVENT_NAMES = [
    "gen_ai.choice",
    "gen_ai.user.message",
    "gen_ai.system.message",
    "gen_ai.assistant.message",
    "gen_ai.tool.message",
    "gen_ai.content.prompt",
    "gen_ai.content.completion",
    "new_token",
]
event_name = st.sampled_from(GENAI_EVENT_NAMES) | text


@pytest.mark.parametrize("emit", [DEFAULT_EMIT, frozenset({"gen_ai"}), frozenset()])
@pytest.mark.parametrize("name", GENAI_EVENT_NAMES)
def test_a_runs_events_survive_whatever_their_names(emit: frozenset[str], name: str) -> None:
    """Found by the property below: an event named gen_ai.choice came back as invented
    outputs {"messages": [{"role": "assistant", "content": None}]} and was lost."""
    run_id = uuid.UUID("01a1fb59-43fc-73bf-8dc4-c46ea89f3d4f")
    start = 1_763_682_293_756_667_000
    run = Run(
        id=run_id,
        name="chain",
        run_type="chain",
        trace_id=run_id,
        dotted_order=dotted_order(None, start, run_id),
        start_time_ns=start,
        end_time_ns=start + 1000,
        events=[
            {"name": name, "time": ns_to_iso(start)},
            {"name": name, "time": ns_to_iso(start), "kwargs": {"content": "hi"}},
        ],
    )
    wire = decode_otlp_protobuf(encode_otlp_protobuf(runs_to_spans([run], emit)))
    (back,) = spans_to_runs(wire)
    assert back == run


def _by_id(runs: list[Run]) -> dict[uuid.UUID, Run]:
    return {r.id: r for r in runs}


# Large inputs are the point (big values, deep trees): the size health check would
# fail the run at random.
_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@_SETTINGS
@given(traces(), emits)
def test_run_span_run_is_exact(runs: list[Run], emit: frozenset[str]) -> None:
    spans = runs_to_spans(runs, emit)
    wire = decode_otlp_protobuf(encode_otlp_protobuf(spans))  # through real OTLP bytes
    back = spans_to_runs(wire)
    assert _by_id(back) == _by_id(runs)


# Attributes, events, links, resource and scope that no convention maps.
attr_scalar = (
    text
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.binary(max_size=16)
)
attr_value = (
    attr_scalar
    | st.lists(text, max_size=3)
    | st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3)
    | st.dictionaries(text, text, max_size=3)
)
app_key = text.map(lambda s: "app." + s)
app_attrs = st.dictionaries(app_key, attr_value, max_size=4)
# Event attributes as SDKs write them: scalars and homogeneous lists (no kvlists).
event_attrs = st.dictionaries(app_key, attr_scalar | st.lists(text, max_size=3), max_size=4)


@st.composite
def decorated_spans(draw: st.DrawFn) -> tuple[list[Any], frozenset[str]]:
    emit = draw(emits)
    spans = runs_to_spans(draw(traces()), emit)
    for span in spans:
        span.attributes.update(draw(app_attrs))
        span.events.extend(
            SpanEvent(
                name="app." + draw(text),
                time_unix_nano=span.start_time_unix_nano + draw(st.integers(0, 10**6)),
                attributes=draw(event_attrs),
                dropped_attributes_count=draw(st.integers(0, 3)),
            )
            for _ in range(draw(st.integers(0, 2)))
        )
        span.links = [
            SpanLink(
                trace_id=draw(st.binary(min_size=16, max_size=16)),
                span_id=draw(st.binary(min_size=8, max_size=8)),
                trace_state=draw(st.sampled_from(["", "k=v"])),
                attributes=draw(app_attrs),
            )
            for _ in range(draw(st.integers(0, 2)))
        ]
        span.resource = draw(app_attrs)
        span.scope_name = draw(st.sampled_from(["otel-llm", "my.app", ""]))
        span.scope_version = draw(st.sampled_from(["", "1.2.3"]))
        span.kind = draw(st.integers(0, 5))
        span.start_time_unix_nano += draw(st.integers(0, 999))
        span.end_time_unix_nano = span.start_time_unix_nano + draw(st.integers(0, 10**10))
        span.trace_state = draw(st.sampled_from(["", "vendor=1"]))
        span.dropped_attributes_count = draw(st.integers(0, 2))
        if span.status_code == 0:
            span.status_code = draw(st.sampled_from([0, 1]))
    return spans, emit


@_SETTINGS
@given(decorated_spans())
def test_span_run_span_is_exact(case: tuple[list[Any], frozenset[str]]) -> None:
    spans, emit = case
    runs = spans_to_runs(spans)
    # Through the runs' JSON shape too: what a store keeps must be enough.
    stored = [Run.from_dict(orjson.loads(orjson.dumps(r.to_dict()))) for r in runs]
    restored = runs_to_spans(stored, emit)
    assert len(restored) == len(spans)
    for before, after in zip(spans, restored, strict=True):
        assert _differences(before, after) == {}
    assert restored == spans


def _differences(a: Any, b: Any) -> dict[str, Any]:
    """Field by field (attributes key by key), what differs between two spans."""
    out: dict[str, Any] = {}
    for f in a.__dataclass_fields__:
        x, y = getattr(a, f), getattr(b, f)
        if f == "attributes":
            keys = set(x) | set(y)
            diff = {k: (x.get(k), y.get(k)) for k in keys if x.get(k) != y.get(k)}
            if diff:
                out[f] = diff
        elif x != y:
            out[f] = (x, y)
    return out
