"""Other instrumentations of the same client in the same process: each call yields one
LLM span, whichever was instrumented first (opentelemetry-instrumentation-openai-v2
wraps the same method as ours; OpenInference wraps the client's request method)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInferenceOpenAI
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as ContribOpenAI

from otel_llm.instrumentation import OpenAIInstrumentor
from tests.instrumentation.conftest import Traced

MESSAGES = [{"role": "user", "content": "Capital of France?"}]


def llm_spans(traced: Traced) -> list[Any]:
    return [
        s
        for s in traced.spans()
        if s.attributes.get("gen_ai.operation.name") == "chat"
        or s.attributes.get("openinference.span.kind") == "LLM"
    ]


def calls(url: str) -> None:
    c = openai.OpenAI(base_url=url + "/v1", api_key="sk", max_retries=0)
    c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    list(c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))


ORDERS = {
    "contrib then ours": (ContribOpenAI, OpenAIInstrumentor),
    "ours then contrib": (OpenAIInstrumentor, ContribOpenAI),
    "openinference then ours": (OpenInferenceOpenAI, OpenAIInstrumentor),
    "ours then openinference": (OpenAIInstrumentor, OpenInferenceOpenAI),
    "all three": (ContribOpenAI, OpenAIInstrumentor, OpenInferenceOpenAI),
}


@pytest.fixture(params=list(ORDERS))
def both(request: pytest.FixtureRequest, traced: Traced) -> Iterator[tuple[str, Traced]]:
    from openai.resources.chat.completions.completions import Completions

    before = (vars(Completions)["create"], openai.OpenAI.request)
    instrumentors = [cls() for cls in ORDERS[request.param]]
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=traced.provider)
    yield request.param, traced
    for instrumentor in reversed(instrumentors):
        instrumentor.uninstrument()
    # (OpenInference restores `request` as an attribute of OpenAI itself: same function)
    assert (vars(Completions)["create"], openai.OpenAI.request) == before


def test_one_llm_span_per_call(both: tuple[str, Traced], llm_url: str) -> None:
    order, traced = both
    calls(llm_url)
    spans = llm_spans(traced)
    assert len(spans) == 2, [(s.name, s.instrumentation_scope.name) for s in spans]
    scopes = {s.instrumentation_scope.name for s in spans}
    if order == "ours then contrib":  # the peer wraps outside ours and traced first
        assert scopes == {"opentelemetry.util.genai.handler"}  # openai-v2's GenAI utilities
    else:
        assert scopes == {"otel_llm.instrumentation.openai"}
    runs = traced.runs()
    assert [r.run_type for r in runs] == ["llm", "llm"]


def test_peer_uninstrumented_first_leaves_ours_working(traced: Traced, llm_url: str) -> None:
    ours, peer = OpenAIInstrumentor(), ContribOpenAI()
    ours.instrument(tracer_provider=traced.provider)
    peer.instrument(tracer_provider=traced.provider)
    ours.uninstrument()  # ours is inside the peer's wrapper: spliced out of the chain
    calls(llm_url)
    peer.uninstrument()
    assert {s.instrumentation_scope.name for s in llm_spans(traced)} == {
        "opentelemetry.util.genai.handler"
    }
