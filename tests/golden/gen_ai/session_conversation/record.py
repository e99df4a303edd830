"""Record: a two-turn conversation, one trace per turn, with the REAL
opentelemetry-util-genai 1.3b0 (the official GenAI telemetry API that instrumentations
build on): each turn is a workflow invocation given `conversation_id`, which the util
carries on the context to the inference invocation inside it, so both write
`gen_ai.conversation.id`. The inference reports a real openai call to the fake API.
(opentelemetry-instrumentation-openai-v2 2.4b0 cannot run on util-genai 1.2+, and with
1.1b0 only agent invocations write the conversation id.)

    python -m venv /tmp/rec_gu && /tmp/rec_gu/bin/pip install -e . \
        opentelemetry-util-genai==1.3b0 openai==3.60.0
    /tmp/rec_gu/bin/python tests/golden/gen_ai/session_conversation/record.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "span_only"

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parents[3])]

import openai  # noqa: E402
from fake_llm import serve  # noqa: E402
from opentelemetry.util.genai.handler import TelemetryHandler  # noqa: E402
from opentelemetry.util.genai.types import InputMessage, OutputMessage, Text  # noqa: E402
from recording import provider, write_request  # noqa: E402


def main() -> None:
    tp, exporter = provider("chat-app")
    handler = TelemetryHandler(tracer_provider=tp)
    with serve() as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden", max_retries=0)
        history: list[dict[str, str]] = []
        for question in ("What is the capital of France?", "And its population?"):
            history.append({"role": "user", "content": question})
            with handler.workflow("chat_turn", conversation_id="conv-gen-1") as turn:
                turn.input_messages = [InputMessage("user", [Text(question)])]
                with handler.inference("openai", request_model="gpt-4o-mini") as call:
                    call.input_messages = [
                        InputMessage(m["role"], [Text(m["content"])]) for m in history
                    ]
                    reply = client.chat.completions.create(
                        model="gpt-4o-mini",
                        messages=history,  # type: ignore[arg-type]
                    )
                    answer = reply.choices[0].message.content or ""
                    call.response_model_name = reply.model
                    call.response_id = reply.id
                    call.input_tokens = reply.usage.prompt_tokens  # type: ignore[union-attr]
                    call.output_tokens = reply.usage.completion_tokens  # type: ignore[union-attr]
                    call.output_messages = [
                        OutputMessage("assistant", [Text(answer)], finish_reason="stop")
                    ]
                turn.output_messages = [
                    OutputMessage("assistant", [Text(answer)], finish_reason="stop")
                ]
            history.append({"role": "assistant", "content": answer})
    tp.force_flush()
    write_request(exporter.get_finished_spans(), HERE)


if __name__ == "__main__":
    main()
