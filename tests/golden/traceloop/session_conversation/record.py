"""Record: a two-turn conversation, one trace per turn (a `@workflow` holding an OpenAI
chat call), both in one session set with the REAL traceloop-sdk's association
properties (`Traceloop.set_association_properties({"session_id": ...})`, which its
span processor writes as `traceloop.association.properties.session_id` on every span),
with its OpenAI instrumentation around the real `openai` client and the fake API.

    /tmp/rec_tl/bin/python tests/golden/traceloop/session_conversation/record.py

(the recording venv is in this folder's README.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["TRACELOOP_TELEMETRY"] = "false"
os.environ["TRACELOOP_TRACE_CONTENT"] = "true"

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parents[3])]

import openai  # noqa: E402
from fake_llm import serve  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from recording import write_request  # noqa: E402
from traceloop.sdk import Traceloop  # noqa: E402
from traceloop.sdk.decorators import workflow  # noqa: E402
from traceloop.sdk.instruments import Instruments  # noqa: E402


def main() -> None:
    exporter = InMemorySpanExporter()
    Traceloop.init(
        app_name="chat-app",
        exporter=exporter,
        disable_batch=True,
        telemetry_enabled=False,
        instruments={Instruments.OPENAI},
    )
    with serve() as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden", max_retries=0)
        history: list[dict[str, str]] = []

        @workflow(name="chat_turn")
        def turn(question: str) -> str:
            Traceloop.set_association_properties({"session_id": "sess-tl-1", "user_id": "u-4"})
            history.append({"role": "user", "content": question})
            reply = client.chat.completions.create(model="gpt-4o-mini", messages=history)  # type: ignore[arg-type]
            answer = reply.choices[0].message.content or ""
            history.append({"role": "assistant", "content": answer})
            return answer

        for question in ("What is the capital of France?", "And its population?"):
            turn(question)
    write_request(exporter.get_finished_spans(), HERE)


if __name__ == "__main__":
    main()
