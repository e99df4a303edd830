"""The LangSmith reader: exact run ids, names, projects, tags, metadata, attachments."""

from __future__ import annotations

import base64
import json
import uuid

from langsmith import Client, traceable, tracing_context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_llm import SpanEvent, StatusCode, spans_to_runs
from otel_llm.ids import dotted_order
from otel_llm.otlp import span_from_readable
from tests.conventions.helpers import T0, assert_round_trip, metadata, problems, raw, read

TRACE_ID = uuid.UUID("01a1fb59-43fc-73bf-8dc4-c46ea89f3d4f")
PARENT = uuid.UUID("01a1fb59-4402-7c7e-9169-f6256e8ee91b")
RUN = uuid.UUID("01a1fb59-4410-7000-8000-000000000001")
ROOT_DOTTED = dotted_order(None, T0 - 2000, TRACE_ID)
PARENT_DOTTED = dotted_order(ROOT_DOTTED, T0 - 1000, PARENT)
DOTTED = dotted_order(PARENT_DOTTED, T0, RUN)


def test_exact_ids_and_dotted_order_override_the_otel_ids() -> None:
    run = read(
        {
            "langsmith.span.kind": "chain",
            "langsmith.trace.id": str(TRACE_ID),
            "langsmith.span.id": str(RUN),
            "langsmith.span.parent_id": str(PARENT),
            "langsmith.span.dotted_order": DOTTED,
        },
        parent=bytes(range(1, 9)),
    )
    assert (run.id, run.trace_id, run.parent_run_id) == (RUN, TRACE_ID, PARENT)
    assert run.dotted_order == DOTTED
    assert raw(run) == {}
    assert "incomplete" not in run.extra["otel"]  # the dotted order places it exactly


def test_dotted_order_alone_names_every_id() -> None:
    run = read({"langsmith.span.dotted_order": DOTTED})
    assert (run.id, run.trace_id, run.parent_run_id) == (RUN, TRACE_ID, PARENT)


def test_bad_ids_are_reported_and_the_otel_ids_used() -> None:
    run = read(
        {
            "langsmith.span.id": "not-a-uuid",
            "langsmith.span.dotted_order": "20250101T000000Zbroken",
        },
        parent=bytes(range(1, 9)),
    )
    assert run.id == uuid.UUID("00000000-0000-0000-00f0-67aa0ba902b7")
    assert run.parent_run_id == uuid.UUID("00000000-0000-0000-0102-030405060708")
    assert raw(run) == {
        "langsmith.span.id": "not-a-uuid",
        "langsmith.span.dotted_order": "20250101T000000Zbroken",
    }
    text = " ".join(problems(run))
    assert "langsmith.span.id" in text and "langsmith.span.dotted_order" in text


def test_name_project_and_tags() -> None:
    sid = uuid.uuid4()
    run = read(
        {
            "langsmith.span.kind": "llm",
            "langsmith.trace.name": "ChatOpenAI",
            "langsmith.trace.session_name": "support",
            "langsmith.trace.session_id": str(sid),
            "langsmith.span.tags": "golden, support,,prod",  # the SDK joins with ", "
        },
        name="chat gpt-4o",
    )
    assert run.run_type == "llm"
    assert run.name == "ChatOpenAI"
    assert (run.session_name, run.session_id) == ("support", sid)
    assert run.tags == ["golden", "support", "prod"]
    assert raw(run) == {}
    same = read({"langsmith.trace.name": "span"})  # equal to the span name: nothing to say
    assert same.name == "span" and raw(same) == {}


def test_metadata_values_written_as_text_are_parsed_back() -> None:
    run = read(
        {
            "langsmith.span.kind": "chain",
            "langsmith.metadata.tier": "pro",
            "langsmith.metadata.experiment": '{"arm": "b"}',
            "langsmith.metadata.stops": '["\\n"]',
            "langsmith.metadata.attempt": "2",
            "langsmith.metadata.ratio": "0.5",
            "langsmith.metadata.flag": "true",
            "langsmith.metadata.native": 3,
            "langsmith.metadata.version": "1.2.3",
            "langsmith.metadata.quoted": '"kept as written"',
            "langsmith.metadata.thread.id": "t-1",  # dotted keys keep their dots
        }
    )
    assert metadata(run) == {
        "tier": "pro",
        "experiment": {"arm": "b"},
        "stops": ["\n"],
        "attempt": 2,
        "ratio": 0.5,
        "flag": True,
        "native": 3,
        "version": "1.2.3",
        "quoted": '"kept as written"',
        "thread.id": "t-1",
    }
    assert raw(run) == {}


def test_usage_metadata_on_llm_runs_only() -> None:
    usage = {
        "input_tokens": 30,
        "output_tokens": 5,
        "total_tokens": 35,
        "input_token_details": {"cache_read": 20},
        "output_token_details": {"reasoning": 1},
    }
    llm = read({"langsmith.span.kind": "llm", "langsmith.usage_metadata": json.dumps(usage)})
    assert llm.usage == usage
    assert raw(llm) == {}
    chain = read({"langsmith.span.kind": "chain", "langsmith.usage_metadata": json.dumps(usage)})
    assert chain.usage is None
    assert raw(chain) == {"langsmith.usage_metadata": json.dumps(usage)}


def test_attachments_are_described_and_their_bytes_kept() -> None:
    content = base64.b64encode(b"RIFF....WAVE").decode()
    value = json.dumps([{"name": "audio", "content": content, "mime_type": "audio/wav"}])
    run = read({"langsmith.span.kind": "llm", "langsmith.attachments": value})
    assert run.attachments == {"audio": {"mime_type": "audio/wav", "size": 12}}
    assert raw(run) == {"langsmith.attachments": value}  # the run format keeps no bytes
    bad = read({"langsmith.attachments": "{not json"})
    assert bad.attachments == {}
    assert any("langsmith.attachments" in p for p in problems(bad))


def test_the_exporters_error_text_is_the_runs_error() -> None:
    error = "ValueError('bad')\n\nTraceback (most recent call last):\nValueError: bad\n"
    event = SpanEvent(
        "exception",
        T0 + 10,
        {
            "exception.type": "Exception",
            "exception.message": error,
            "exception.stacktrace": f"Exception: {error}\n",
            "exception.escaped": "False",
        },
    )
    run = read(
        {"langsmith.span.kind": "tool", "error.type": "ValueError"},
        events=[event],
        status=StatusCode.ERROR,
        scope="langsmith",
    )
    assert run.error == error
    assert "error.type" not in raw(run)
    assert_round_trip(run)
    other = read(
        {"langsmith.span.kind": "tool"}, events=[event], status=StatusCode.ERROR, scope="my.app"
    )  # not the SDK's exporter: the usual error text
    assert other.error is not None and other.error.startswith("Exception: ValueError")


def test_kind_unknown_or_outranked_stays_raw() -> None:
    bogus = read({"langsmith.span.kind": "banana"})
    assert raw(bogus) == {"langsmith.span.kind": "banana"}
    assert any("banana" in p for p in problems(bogus))
    outranked = read({"langfuse.observation.type": "generation", "langsmith.span.kind": "chain"})
    assert outranked.run_type == "llm"
    assert raw(outranked) == {"langsmith.span.kind": "chain"}


def test_wrong_types_never_raise() -> None:
    run = read(
        {
            "langsmith.span.kind": "llm",
            "langsmith.trace.name": 5,
            "langsmith.trace.session_name": ["x"],
            "langsmith.span.tags": 3,
            "langsmith.trace.session_id": "nope",
            "langsmith.usage_metadata": "[1]",
            "langsmith.metadata.big": "y" * 100_000,
        },
        name="n",
    )
    assert run.name == "n"
    assert run.metadata["big"] == "y" * 100_000
    assert set(raw(run)) == {
        "langsmith.trace.name",
        "langsmith.trace.session_name",
        "langsmith.span.tags",
        "langsmith.trace.session_id",
        "langsmith.usage_metadata",
    }
    assert len(problems(run)) == 5


def test_the_real_sdk_in_otel_mode() -> None:
    """`@traceable` runs exported by the LangSmith SDK's own OTel bridge read back."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = Client(
        api_url="http://127.0.0.1:9",
        api_key="ls-test",
        tracing_mode="otel",
        otel_tracer_provider=provider,
    )

    @traceable(run_type="tool", name="lookup")
    def lookup(order_id: str) -> dict[str, str]:
        return {"status": "shipped"}

    @traceable(
        name="pipeline", tags=["t1", "t2"], metadata={"tier": "pro", "n": 2, "cfg": {"k": [1]}}
    )
    def pipeline(question: str) -> str:
        lookup("o-1")
        return "done"

    with tracing_context(enabled=True, client=client, project_name="proj-x"):
        pipeline("where is my order?")
    client.flush()
    runs = {
        r.name: r
        for r in spans_to_runs(span_from_readable(s) for s in exporter.get_finished_spans())
    }
    root, tool = runs["pipeline"], runs["lookup"]
    assert (root.run_type, tool.run_type) == ("chain", "tool")
    assert tool.parent_run_id == root.id and tool.trace_id == root.id
    assert root.session_name == tool.session_name == "proj-x"
    assert root.tags == ["t1", "t2"]
    assert {k: root.metadata[k] for k in ("tier", "n", "cfg")} == {
        "tier": "pro",
        "n": 2,
        "cfg": {"k": [1]},
    }
    assert not [k for k in raw(root) if k.startswith("langsmith.")]
