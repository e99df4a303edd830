"""RunSpanProcessor on a real SDK TracerProvider: the runs it emits have complete
trees, ids, dotted orders, inputs, outputs and usage."""

from __future__ import annotations

import threading
import uuid

import pytest
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_llm import Run, SpanRecord, classify, run_to_span, spans_to_runs
from otel_llm.from_env import RunExporter
from otel_llm.ids import run_id_from_span_id
from otel_llm.otlp import span_from_readable
from otel_llm.processor import RunSpanProcessor
from otel_llm.sinks.memory import InMemoryRunSink
from tests.processor.helpers import (
    CONVENTIONS,
    Spec,
    by_name,
    by_span_name,
    check_tree,
    golden_traces,
    make,
    provider_with,
    recording,
    remote_parent,
    replay_on_sdk,
    span_run_id,
)


def _processor(sink: InMemoryRunSink, **kw: object) -> RunSpanProcessor:
    kw.setdefault("redaction", False)
    kw.setdefault("hide_inputs", False)
    kw.setdefault("hide_outputs", False)
    return RunSpanProcessor(sink, **kw)  # type: ignore[arg-type]


CASES = [(name, spec) for name, spec in CONVENTIONS.items()]


@pytest.mark.parametrize("name,spec", CASES, ids=[c[0] for c in CASES])
def test_runs_equal_batch_conversion_of_the_same_spans(name: str, spec: Spec) -> None:
    # The processor sees children end before parents, one span at a time; the result
    # must be exactly what converting the whole trace at once gives.
    sink = InMemoryRunSink()
    processor = _processor(sink, export_all=True)
    provider = provider_with(processor)
    spans = recording(provider)
    make(provider.get_tracer(name), spec)
    assert processor.force_flush(10_000)
    runs = sink.get_finished_runs()
    expected = spans_to_runs(span_from_readable(s) for s in spans.get_finished_spans())
    assert sorted(runs, key=lambda r: r.dotted_order or "") == sorted(
        expected, key=lambda r: r.dotted_order or ""
    )
    check_tree(runs)
    provider.shutdown()


GOLDEN = golden_traces()


@pytest.mark.parametrize("records", [t for _, t in GOLDEN], ids=[label for label, _ in GOLDEN])
def test_golden_traces_replayed_on_the_sdk(records: list[SpanRecord]) -> None:
    # The core's golden inputs, made again as real SDK spans. With export_all the runs
    # equal batch conversion; by default only classified spans and their ancestors come.
    everything, relevant = InMemoryRunSink(), InMemoryRunSink()
    p_all = _processor(everything, export_all=True)
    p_default = _processor(relevant)
    provider = provider_with(p_all, p_default)
    spans = recording(provider)
    replay_on_sdk(provider.get_tracer("golden"), records)
    assert p_all.force_flush(10_000) and p_default.force_flush(10_000)
    sdk_records = [span_from_readable(s) for s in spans.get_finished_spans()]
    expected = spans_to_runs(sdk_records)
    assert sorted(everything.get_finished_runs(), key=lambda r: str(r.id)) == sorted(
        expected, key=lambda r: str(r.id)
    )
    by_span = {r.span_id: r for r in sdk_records}
    wanted: set[bytes] = set()
    for r in sdk_records:
        if classify(r) is not None:
            up: SpanRecord | None = r
            while up is not None and up.span_id not in wanted:
                wanted.add(up.span_id)
                up = by_span.get(up.parent_span_id)
    wanted_ids = {run_id_from_span_id(sid) for sid in wanted}
    assert {r.id for r in relevant.get_finished_runs()} == {
        r.id
        for r in expected
        if r.id in wanted_ids
        or (r.extra.get("otel") or {}).get("span_id") in {w.hex() for w in wanted}
    }
    provider.shutdown()


def test_tree_ids_and_dotted_order_of_an_agent_trace() -> None:
    sink = InMemoryRunSink()
    processor = _processor(sink)
    provider = provider_with(processor)
    spans = recording(provider)
    make(provider.get_tracer("t"), CONVENTIONS["gen_ai"])
    assert processor.force_flush(10_000)
    runs = by_span_name(sink.get_finished_runs(), spans)
    assert set(runs) == {"invoke_agent math", "chat gpt-4o", "execute_tool add"}
    agent, chat, tool = runs["invoke_agent math"], runs["chat gpt-4o"], runs["execute_tool add"]
    assert agent.parent_run_id is None and agent.trace_id == agent.id
    assert chat.parent_run_id == agent.id and tool.parent_run_id == agent.id
    assert chat.trace_id == tool.trace_id == agent.id
    assert (chat.run_type, tool.run_type) == ("llm", "tool")
    check_tree(list(runs.values()))
    # Children end first, so they are emitted first.
    assert sink.get_finished_runs()[-1] is agent
    provider.shutdown()


def test_inputs_outputs_and_usage_of_spans_in_the_projects_convention() -> None:
    # Spans as otel-llm's own writer shapes them (its instrumentations' real output).
    llm = Run(
        id=uuid.uuid4(),
        name="chat",
        run_type="llm",
        inputs={"messages": [{"role": "user", "content": "hi"}]},
        outputs={
            "generations": [{"text": "yo"}],
            "usage_metadata": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
        },
        extra={"metadata": {"ls_provider": "openai", "ls_model_name": "gpt-4o"}},
    )
    attrs = {
        k: v
        for k, v in run_to_span(llm, emit=("gen_ai",)).attributes.items()
        if not k.startswith("otel_llm.run.id")
    }
    sink = InMemoryRunSink()
    processor = _processor(sink)
    provider = provider_with(processor)
    make(
        provider.get_tracer("t"),
        Spec("root", {"gen_ai.operation.name": "invoke_agent"}, [Spec("chat", attrs)]),
    )
    assert processor.force_flush(10_000)
    runs = by_name(sink.get_finished_runs())
    chat = runs["chat"]
    assert chat.inputs == llm.inputs
    assert chat.outputs == llm.outputs
    assert chat.usage == {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    assert chat.parent_run_id == runs["root"].id
    check_tree(list(runs.values()))
    provider.shutdown()


def test_a_span_that_names_its_own_run_id_is_the_parent_its_children_name() -> None:
    # otel_llm.run.id on the parent: the child's parent_run_id must follow it.
    own = uuid.uuid4()
    sink = InMemoryRunSink()
    processor = _processor(sink, export_all=True)
    provider = provider_with(processor)
    make(
        provider.get_tracer("t"),
        Spec(
            "parent",
            {"otel_llm.observation.type": "span", "otel_llm.run.id": str(own)},
            [Spec("child", {"gen_ai.operation.name": "chat"})],
        ),
    )
    assert processor.force_flush(10_000)
    runs = by_name(sink.get_finished_runs())
    assert runs["parent"].id == own
    assert runs["child"].parent_run_id == own
    check_tree(list(runs.values()))
    provider.shutdown()


def test_only_llm_spans_and_their_ancestors_become_runs_by_default() -> None:
    sink = InMemoryRunSink()
    processor = _processor(sink)
    provider = provider_with(processor)
    make(
        provider.get_tracer("t"),
        Spec(
            "POST /ask",
            {"http.method": "POST"},
            [
                Spec("SELECT users", {"db.system": "postgresql"}),
                Spec(
                    "handler",
                    {},
                    [
                        Spec(
                            "chat gpt-4o",
                            {"gen_ai.operation.name": "chat"},
                            [
                                Spec("POST api.openai.com", {"http.method": "POST"}),
                            ],
                        ),
                    ],
                ),
                Spec("render", {}),
            ],
        ),
    )
    make(provider.get_tracer("t"), Spec("GET /health", {"http.method": "GET"}))
    assert processor.force_flush(10_000)
    runs = by_name(sink.get_finished_runs())
    assert set(runs) == {"POST /ask", "handler", "chat gpt-4o"}
    check_tree(list(runs.values()))
    stats = processor.stats
    assert (stats.received, stats.emitted, stats.filtered) == (7, 3, 4)
    provider.shutdown()


def test_export_all_and_a_predicate_override_the_filter() -> None:
    trace = Spec("root", {}, [Spec("db", {"db.system": "sqlite"}), Spec("x", {"keep": True})])
    sink_all, sink_pred = InMemoryRunSink(), InMemoryRunSink()
    p_all = _processor(sink_all, export_all=True)
    p_pred = _processor(sink_pred, should_export=lambda s: bool(s.attributes.get("keep")))
    provider = provider_with(p_all, p_pred)
    make(provider.get_tracer("t"), trace)
    assert p_all.force_flush(10_000) and p_pred.force_flush(10_000)
    assert {r.name for r in sink_all.get_finished_runs()} == {"root", "db", "x"}
    # The predicate picks "x"; its ancestor comes along so the tree stays whole.
    assert {r.name for r in sink_pred.get_finished_runs()} == {"root", "x"}
    check_tree(sink_pred.get_finished_runs())
    provider.shutdown()


def test_spans_under_a_remote_parent_are_marked_incomplete_with_the_otel_trace() -> None:
    trace_id, parent_span = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331
    sink = InMemoryRunSink()
    processor = _processor(sink)
    provider = provider_with(processor)
    spans = recording(provider)
    with remote_parent(trace_id, parent_span):
        make(provider.get_tracer("t"), CONVENTIONS["gen_ai"])
    assert processor.force_flush(10_000)
    runs = by_span_name(sink.get_finished_runs(), spans)
    agent = runs["invoke_agent math"]
    provisional = uuid.UUID(int=trace_id)
    assert agent.parent_run_id == uuid.UUID(int=parent_span)
    for run in runs.values():
        assert run.trace_id == provisional
        assert run.extra["otel"]["incomplete"] is True
        assert run.extra["otel"]["trace_id"] == f"{trace_id:032x}"
        # The dotted order starts at the topmost ancestor present: the local root.
        assert run.dotted_order is not None
        assert run.dotted_order.split(".")[0].endswith(str(agent.id))
    assert runs["chat gpt-4o"].parent_run_id == agent.id
    provider.shutdown()


def test_concurrent_traces_from_many_threads_all_come_out_whole() -> None:
    sink = InMemoryRunSink()
    processor = _processor(sink, max_batch_size=64)
    provider = provider_with(processor)
    tracer = provider.get_tracer("t")

    def work() -> None:
        for _ in range(50):
            make(tracer, CONVENTIONS["openinference"])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert processor.force_flush(30_000)
    runs = sink.get_finished_runs()
    assert len(runs) == 8 * 50 * 3
    assert len({r.trace_id for r in runs}) == 400
    check_tree(runs)
    assert processor.stats.live_spans == 0
    provider.shutdown()


def test_fed_only_ended_spans_behind_a_batch_processor_trees_are_still_complete() -> None:
    # The otel_llm_runs entry point: no on_start, children arrive in earlier batches
    # than their parents. Runs wait for their local root, then come out whole.
    sink = InMemoryRunSink()
    processor = _processor(sink)
    exporter = RunExporter(processor)
    provider = provider_with(
        BatchSpanProcessor(exporter, max_export_batch_size=2, schedule_delay_millis=10)
    )
    spans = recording(provider)
    for spec in CONVENTIONS.values():
        make(provider.get_tracer("t"), spec)
    provider.force_flush()  # the SDK's batch processor does not flush its exporter
    assert exporter.force_flush(10_000)
    runs = sink.get_finished_runs()
    expected = spans_to_runs(span_from_readable(s) for s in spans.get_finished_spans())
    assert len(runs) == len(expected) > 10
    assert sorted(runs, key=lambda r: str(r.id)) == sorted(expected, key=lambda r: str(r.id))
    check_tree(runs)
    provider.shutdown()


def test_a_span_whose_parent_never_ends_is_emitted_incomplete_at_shutdown() -> None:
    sink = InMemoryRunSink()
    processor = _processor(sink)
    provider = provider_with(recording_only := BatchSpanProcessor(RunExporter(processor)))
    tracer = provider.get_tracer("t")
    parent = tracer.start_span("never ends")
    from opentelemetry import trace

    with trace.use_span(parent, end_on_exit=False):
        make(tracer, Spec("chat", {"gen_ai.operation.name": "chat"}))
    recording_only.force_flush()
    assert processor.force_flush(5_000)
    assert sink.get_finished_runs() == []  # still waiting for its parent
    assert processor.stats.buffered == 1
    processor.shutdown()
    (chat,) = sink.get_finished_runs()
    assert chat.parent_run_id == span_run_id(parent)
    assert chat.extra["otel"]["incomplete"] is True
    assert chat.trace_id == uuid.UUID(int=parent.context.trace_id)


def test_spans_that_never_end_cannot_grow_the_live_table() -> None:
    sink = InMemoryRunSink()
    processor = _processor(sink, max_live_spans=100)
    provider = provider_with(processor)
    tracer = provider.get_tracer("t")
    leaked = [tracer.start_span(f"leak {i}") for i in range(1_000)]
    assert processor.force_flush(10_000)
    assert processor.stats.live_spans <= 100
    for span in leaked:
        span.end()
    assert processor.force_flush(10_000)
    assert processor.stats.live_spans == 0
    provider.shutdown()
