"""The conversion core: ids and trees, classification precedence, bad input."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_llm import ObservationType, Run, classify, run_to_span, span_to_run, spans_to_runs
from otel_llm.convert import CLASSIFIERS, PROBLEMS_KEY, otel_ids
from otel_llm.ids import (
    dotted_segment,
    ids_from_dotted_order,
    run_id_from_span_id,
    span_id_from_run_id,
    uuid_str,
)
from otel_llm.model import SpanEvent, SpanRecord

T0 = 1_763_000_000_000_000_000
TRACE = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")


def span(sid: int, parent: int | None = None, **kw: Any) -> SpanRecord:
    return SpanRecord(
        trace_id=kw.pop("trace_id", TRACE),
        span_id=sid.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=kw.pop("name", f"s{sid}"),
        start_time_unix_nano=kw.pop("start", T0 + sid * 1000),
        end_time_unix_nano=kw.pop("end", T0 + 10**9),
        **kw,
    )


@given(st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 2**128 - 1)))
def test_uuid_text_is_the_standard_form(n: int) -> None:
    assert uuid_str(uuid.UUID(int=n)) == str(uuid.UUID(int=n))


def test_id_rules_invert_each_other() -> None:
    sid = bytes.fromhex("b7ad6b7169203331")
    rid = run_id_from_span_id(sid)
    assert str(rid) == "00000000-0000-0000-b7ad-6b7169203331"  # LangSmith's server rule
    assert span_id_from_run_id(rid) == sid
    sdk_run = uuid.UUID("01a1fb59-43fc-73bf-8dc4-c46ea89f3d4f")
    assert span_id_from_run_id(sdk_run) == sdk_run.bytes[:8]  # LangSmith's SDK rule


def test_dotted_order_matches_the_sdk_format() -> None:
    rid = uuid.UUID("01a1fb59-43fc-73bf-8dc4-c46ea89f3d4f")
    ns = 1_763_682_293_756_667_000  # 2025-11-20T23:44:53.756667Z
    seg = dotted_segment(ns, rid)
    assert seg == "20251120T234453756667Z01a1fb59-43fc-73bf-8dc4-c46ea89f3d4f"
    child = uuid.UUID("01a1fb59-4402-7c7e-9169-f6256e8ee91b")
    assert (
        dotted_segment(ns + 5000, child)
        == "20251120T234453756672Z01a1fb59-4402-7c7e-9169-f6256e8ee91b"
    )
    dotted = seg + ".20251120T234453756672Z01a1fb59-4402-7c7e-9169-f6256e8ee91b"
    assert ids_from_dotted_order(dotted) == (child, rid, rid)


def test_a_complete_trace_in_any_order() -> None:
    spans = [span(3, 2), span(2, 1), span(1), span(4, 1)]
    runs = {r.name: r for r in spans_to_runs(spans)}
    root = runs["s1"]
    assert root.parent_run_id is None and root.trace_id == root.id
    # span n starts n microseconds after T0 (2025-11-13T02:13:20Z); its run id ends in n.
    seg = {
        n: f"20251113T02132000000{n}Z00000000-0000-0000-0000-00000000000{n}" for n in range(1, 5)
    }
    assert root.dotted_order == seg[1]
    for name, parent, dotted in (
        ("s2", "s1", f"{seg[1]}.{seg[2]}"),
        ("s3", "s2", f"{seg[1]}.{seg[2]}.{seg[3]}"),
        ("s4", "s1", f"{seg[1]}.{seg[4]}"),
    ):
        run = runs[name]
        assert run.trace_id == root.id
        assert run.parent_run_id == runs[parent].id
        assert run.dotted_order == dotted
        assert "incomplete" not in run.extra.get("otel", {})


def test_a_batch_without_its_root_is_kept_and_marked() -> None:
    runs = {r.name: r for r in spans_to_runs([span(3, 2), span(2, 1)])}
    s2, s3 = runs["s2"], runs["s3"]
    assert s2.parent_run_id == run_id_from_span_id((1).to_bytes(8, "big"))
    assert s2.trace_id == uuid.UUID(bytes=TRACE)  # provisional
    assert s2.extra["otel"]["incomplete"] is True
    assert s2.extra["otel"]["trace_id"] == TRACE.hex()
    assert s3.dotted_order is not None and s3.dotted_order.startswith(s2.dotted_order or "x")
    assert otel_ids(s3) == (TRACE, (3).to_bytes(8, "big"), (2).to_bytes(8, "big"))


def test_per_span_form_uses_the_parent_run() -> None:
    root = span_to_run(span(1))
    assert root is not None
    child = span_to_run(span(2, 1), parent=root)
    assert child is not None
    assert child.trace_id == root.id and child.parent_run_id == root.id
    assert root.dotted_order == "20251113T021320000001Z00000000-0000-0000-0000-000000000001"
    assert child.dotted_order == (
        f"{root.dotted_order}.20251113T021320000002Z00000000-0000-0000-0000-000000000002"
    )


def test_cycles_and_bad_ids_never_raise() -> None:
    cyc = [span(1, 2), span(2, 1)]
    runs = spans_to_runs(cyc)
    assert len(runs) == 2
    assert any(PROBLEMS_KEY in r.extra.get("metadata", {}) for r in runs)
    zero = span(0)
    (run,) = spans_to_runs([zero])
    assert any("span_id" in p for p in run.extra["metadata"][PROBLEMS_KEY])
    short = SpanRecord(trace_id=b"\x01", span_id=b"\x02", name="short")
    assert len(spans_to_runs([short])) == 1


def test_classification_precedence_is_a_table() -> None:
    # A producer's native kind wins over a non-standard operation name.
    s = span(1, attributes={"gen_ai.operation.name": "chain", "openinference.span.kind": "LLM"})
    assert classify(s) is ObservationType.GENERATION
    # UNKNOWN is no evidence: classification goes on to the operation name.
    s = span(
        1,
        attributes={"openinference.span.kind": "UNKNOWN", "gen_ai.operation.name": "execute_tool"},
    )
    assert classify(s) is ObservationType.TOOL
    # Non-standard operation names alone say nothing ...
    assert classify(span(1, attributes={"gen_ai.operation.name": "chain"})) is None
    # ... propagated agent names neither; a model with usage means a generation.
    assert classify(span(1, attributes={"gen_ai.agent.name": "a"})) is None
    s = span(1, attributes={"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 3})
    assert classify(s) is ObservationType.GENERATION
    assert [k for k, _ in CLASSIFIERS][:2] == [
        "otel_llm.observation.type",
        "langfuse.observation.type",
    ]


def test_errors_carry_type_message_and_stack() -> None:
    s = span(
        1,
        status_code=2,
        status_message="boom",
        events=[
            SpanEvent(
                "exception",
                T0 + 5,
                {
                    "exception.type": "TimeoutError",
                    "exception.message": "slow",
                    "exception.stacktrace": "Traceback ...\n",
                },
            )
        ],
    )
    (run,) = spans_to_runs([s])
    assert run.error == "TimeoutError: slow\n\nTraceback ...\n"
    restored = run_to_span(run)
    assert (restored.status_code, restored.status_message) == (2, "boom")


def test_unknown_emit_family_is_refused() -> None:
    run = Run(id=uuid.uuid4(), name="x", start_time_ns=T0)
    with pytest.raises(ValueError, match="unknown emit families"):
        run_to_span(run, emit=["zipkin"])


KNOWN_KEYS = [
    "otel_llm.run.id",
    "otel_llm.run.tags",
    "otel_llm.run.extra",
    "otel_llm.run.dotted_order",
    "otel_llm.io.verbatim",
    "input.value",
    "output.value",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.prompt.0.content",
    "gen_ai.usage.input_tokens",
    "gen_ai.request.model",
    "gen_ai.tool.call.arguments",
    "llm.input_messages.0.message.role",
    "llm.input_messages.0.message.content",
    "llm.token_count.prompt",
    "retrieval.documents.0.document.content",
    "langsmith.span.id",
    "langsmith.span.dotted_order",
    "langsmith.metadata.x",
    "langfuse.observation.input",
    "langfuse.observation.usage_details",
    "mlflow.spanInputs",
    "mlflow.chat.tokenUsage",
    "traceloop.entity.input",
    "ai.prompt",
    "ai.usage.inputTokens",
    "logfire.span_type",
    "request_data",
    "response_data",
    "openinference.span.kind",
    "gen_ai.operation.name",
]
wild = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary()
    | st.sampled_from(["{", "[1,", "null", "{}", "[]", '"x"', "not json", "LLM", "chat"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(KNOWN_KEYS), wild, max_size=8))
def test_malformed_values_never_raise(attrs: dict[str, Any]) -> None:
    s = span(1, attributes=attrs, events=[SpanEvent("gen_ai.user.message", T0, dict(attrs))])
    runs = spans_to_runs([s])
    assert len(runs) == 1
    run_to_span(runs[0])  # and the run can be written back


def test_a_system_message_without_content_is_written_as_an_input_message() -> None:
    """No system instructions from a system message with no text parts (it once made
    the writer fail): it stays among the input messages and reads back."""
    run = Run(
        id=uuid.uuid4(),
        name="chat",
        run_type="llm",
        inputs={
            "messages": [{"role": "system", "content": None}, {"role": "user", "content": "hi"}]
        },
        start_time_ns=1,
        end_time_ns=2,
    )
    attrs = run_to_span(run, emit={"gen_ai"}).attributes
    assert "gen_ai.system_instructions" not in attrs
    messages = json.loads(attrs["gen_ai.input.messages"])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["parts"] == []
    back = span_to_run(run_to_span(run))
    assert [m["role"] for m in back.inputs["messages"]] == ["system", "user"]
