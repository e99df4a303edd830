"""Redaction before anything leaves the process."""

from __future__ import annotations

import re
import uuid

import pytest

from otel_llm import config, redaction
from otel_llm.model import Run
from otel_llm.processor import RunSpanProcessor
from otel_llm.redaction import Redactor
from otel_llm.sinks.memory import InMemoryRunSink
from tests.processor.helpers import Spec, make, provider_with


@pytest.fixture(autouse=True, params=["c walk", "python walk"])
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs on both walks: the C one (when built) and its reference."""
    if request.param == "python walk":
        monkeypatch.setattr(redaction, "_redact_walk", None)
    return str(request.param)


CARD = "4111 1111 1111 1111"  # passes the Luhn check
NOT_A_CARD = "4111 1111 1111 1112"


def _run(**kw: object) -> Run:
    base: dict[str, object] = {"id": uuid.uuid4(), "name": "r"}
    base.update(kw)
    return Run(**base)  # type: ignore[arg-type]


def test_values_of_secret_keys_are_replaced_at_any_depth() -> None:
    r = Redactor()(
        _run(
            inputs={
                "api_key": "sk-abc",
                "nested": [{"Authorization": "Basic x"}],
                "db_password": "hunter2",
                "max_tokens": 100,
                "token": None,
            },
            outputs={
                "usage_metadata": {"input_tokens": 3, "total_tokens": 5},
                "refresh_token": "r1",
            },
            extra={
                "metadata": {"x-api-key": "k", "client_secret": "s", "user": "bob"},
                "invocation_params": {"openai_api_key": "sk-zzz", "temperature": 0.1},
            },
        )
    )
    assert r.inputs == {
        "api_key": "[REDACTED]",
        "nested": [{"Authorization": "[REDACTED]"}],
        "db_password": "[REDACTED]",
        "max_tokens": 100,
        "token": None,
    }
    assert r.outputs == {
        "usage_metadata": {"input_tokens": 3, "total_tokens": 5},
        "refresh_token": "[REDACTED]",
    }
    assert r.extra["metadata"] == {
        "x-api-key": "[REDACTED]",
        "client_secret": "[REDACTED]",
        "user": "bob",
    }
    assert r.extra["invocation_params"] == {"openai_api_key": "[REDACTED]", "temperature": 0.1}


def test_emails_cards_and_bearer_tokens_are_replaced_inside_text() -> None:
    text = (
        f"mail jane.doe+x@example.co.uk, pay with {CARD} or {NOT_A_CARD}, "
        "header Authorization: Bearer eyJhbGciOi.J9-x_y== ok, order 2024-05-01"
    )
    r = Redactor()(
        _run(
            inputs={"q": text},
            error=f"failed for jane@example.com {CARD}",
            events=[{"name": "new_token", "kwargs": {"token_text": "a@b.io"}}],
        )
    )
    assert r.inputs["q"] == (
        f"mail [REDACTED], pay with [REDACTED] or {NOT_A_CARD}, "
        "header Authorization: [REDACTED] ok, order 2024-05-01"
    )
    assert r.error == "failed for [REDACTED] [REDACTED]"
    assert r.events == [{"name": "new_token", "kwargs": {"token_text": "[REDACTED]"}}]


def test_ids_are_never_touched_and_the_original_run_is_not_changed() -> None:
    otel = {"trace_id": "41111111111111110000000000000000", "span_id": "4111111111111111"}
    original = _run(inputs={"password": "p"}, extra={"otel": dict(otel)})
    r = Redactor(keys=("password",), patterns=(re.compile(r"\d{16}"),))(original)
    assert r.extra["otel"] == otel
    assert original.inputs == {"password": "p"} and r.inputs == {"password": "[REDACTED]"}


def test_rules_and_keys_are_configurable() -> None:
    r = Redactor(keys=("ssn",), patterns=(re.compile(r"\bID-\d+\b"),))(
        _run(inputs={"ssn": "1", "api_key": "kept", "note": "ref ID-42 a@b.io"})
    )
    assert r.inputs == {"ssn": "[REDACTED]", "api_key": "kept", "note": "ref [REDACTED] a@b.io"}
    only_cards = Redactor.from_rules(["card"], extra_keys=())
    assert only_cards(_run(inputs={"api_key": "k", "c": CARD})).inputs == {
        "api_key": "k",
        "c": "[REDACTED]",
    }


def test_hide_inputs_and_outputs_follow_langsmiths_variables() -> None:
    assert config.runs_hide_inputs({"LANGSMITH_HIDE_INPUTS": "true"})
    assert config.runs_hide_outputs({"LANGCHAIN_HIDE_OUTPUTS": "true"})
    assert not config.runs_hide_inputs({})
    r = Redactor(hide_inputs=True, hide_outputs=True)(
        _run(
            inputs={"q": "secret plan"},
            outputs={"a": "x"},
            extra={"otel": {"attributes": {"gen_ai.input.messages": "[...]", "http.route": "/a"}}},
        )
    )
    assert r.inputs == {} and r.outputs == {}
    assert r.extra["otel"]["attributes"] == {"http.route": "/a"}


def test_the_processor_redacts_before_the_sink_and_a_hook_can_drop_runs() -> None:
    sink = InMemoryRunSink()

    def drop_internal(run: Run) -> Run | None:
        return None if run.name.startswith("internal") else run

    processor = RunSpanProcessor(sink, redact=drop_internal, hide_inputs=False, hide_outputs=False)
    provider = provider_with(processor)
    tracer = provider.get_tracer("t")
    make(
        tracer,
        Spec(
            "chat",
            {
                "otel_llm.observation.type": "generation",
                "otel_llm.run.type": "llm",
                "input.value": '{"prompt": "mail me at a@b.io", "api_key": "k"}',
                "input.mime_type": "application/json",
                "otel_llm.io.verbatim": True,
            },
        ),
    )
    make(tracer, Spec("internal chat", {"gen_ai.operation.name": "chat"}))
    assert processor.force_flush(10_000)
    (run,) = sink.get_finished_runs()
    assert run.name == "chat"
    assert run.inputs == {"prompt": "mail me at [REDACTED]", "api_key": "[REDACTED]"}
    assert "a@b.io" not in str(run.to_dict())
    assert processor.stats.dropped == {"redacted": 1}
    provider.shutdown()


def test_hidden_io_from_the_environment_reaches_the_processor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANGSMITH_HIDE_INPUTS", "true")
    sink = InMemoryRunSink()
    processor = RunSpanProcessor(sink, redaction=False)
    provider = provider_with(processor)
    make(
        provider.get_tracer("t"),
        Spec(
            "chat",
            {
                "gen_ai.operation.name": "chat",
                "input.value": "hello",
                "openinference.span.kind": "LLM",
            },
        ),
    )
    assert processor.force_flush(10_000)
    (run,) = sink.get_finished_runs()
    assert run.inputs == {}
    provider.shutdown()
