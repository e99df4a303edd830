"""Record: `gen_ai.evaluation.result` events from a real evaluation producer,
splunk-otel-util-genai (a fork of opentelemetry-util-genai with an evaluation pipeline)
and splunk-otel-util-genai-evals (its evaluation manager). The app reports a real openai
chat call to the fake API as an LLM invocation; on completion the manager runs the
evaluators configured in OTEL_INSTRUMENTATION_GENAI_EVALS_EVALUATORS and the
evaluation emitter writes each result as an OTLP log record in the chat span's context
(`logs.json`). The evaluator is the app's own, registered with the package's
`register_evaluator` (the packaged ones need an LLM judge or report metrics the emitter
drops): a deterministic keyword relevance check, one passing and one failing answer.

    python -m venv /tmp/rec_ev && /tmp/rec_ev/bin/pip install -e . \
        splunk-otel-util-genai==0.1.15 splunk-otel-util-genai-evals==0.1.8 openai==3.60.0
    /tmp/rec_ev/bin/python tests/golden/gen_ai/evaluation_results/record.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
os.environ["OTEL_INSTRUMENTATION_GENAI_EVALS_EVALUATORS"] = "keywords"

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parents[3])]

import openai  # noqa: E402
from fake_llm import serve  # noqa: E402
from opentelemetry.util.genai.evals.base import Evaluator  # noqa: E402
from opentelemetry.util.genai.evals.registry import register_evaluator  # noqa: E402
from opentelemetry.util.genai.handler import get_telemetry_handler  # noqa: E402
from opentelemetry.util.genai.types import (  # noqa: E402
    EvaluationResult,
    InputMessage,
    LLMInvocation,
    OutputMessage,
    Text,
)
from recording import log_provider, provider, write_logs, write_request  # noqa: E402

EXPECTED = {"What is the capital of France?": "paris", "Name a red fruit.": "apple"}


class KeywordRelevance(Evaluator):
    """Relevance: does the answer name the keyword the question expects?"""

    def default_metrics(self) -> tuple[str, ...]:
        return ("relevance",)

    def evaluate_llm(self, invocation: LLMInvocation) -> list[EvaluationResult]:
        question = invocation.input_messages[-1].parts[0].content  # type: ignore[union-attr]
        answer = invocation.output_messages[0].parts[0].content  # type: ignore[union-attr]
        keyword = EXPECTED[question]
        found = keyword in answer.lower()
        return [
            EvaluationResult(
                metric_name="relevance",
                score=1.0 if found else 0.0,
                label="relevant" if found else "irrelevant",
                explanation=f"the answer {'names' if found else 'does not name'} {keyword!r}",
                attributes={"gen_ai.evaluation.passed": found},
            )
        ]


def main() -> None:
    register_evaluator(
        "keywords",
        lambda metrics=None, invocation_type=None, options=None: KeywordRelevance(
            metrics, invocation_type=invocation_type, options=options
        ),
    )
    tp, exporter = provider("judged-chat")
    lp, log_exporter = log_provider("judged-chat")
    handler = get_telemetry_handler(tracer_provider=tp, logger_provider=lp)
    with serve() as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden", max_retries=0)
        for question in EXPECTED:
            invocation = LLMInvocation(
                request_model="gpt-4o-mini",
                provider="openai",
                input_messages=[InputMessage("user", [Text(question)])],
            )
            handler.start_llm(invocation)
            reply = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
            )
            invocation.output_messages = [
                OutputMessage("assistant", [Text(reply.choices[0].message.content or "")], "stop")
            ]
            invocation.response_model_name = reply.model
            invocation.response_id = reply.id
            invocation.input_tokens = reply.usage.prompt_tokens  # type: ignore[union-attr]
            invocation.output_tokens = reply.usage.completion_tokens  # type: ignore[union-attr]
            handler.stop_llm(invocation)
    handler.wait_for_evaluations(10.0)
    tp.force_flush()
    lp.force_flush()
    write_request(exporter.get_finished_spans(), HERE)
    write_logs(log_exporter.get_finished_logs(), HERE)


if __name__ == "__main__":
    main()
