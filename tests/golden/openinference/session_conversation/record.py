"""Record: a two-turn conversation, one trace per turn, both in one session set with the
REAL openinference-instrumentation's `using_session`, around chat calls traced by the
REAL openinference-instrumentation-openai against the fake OpenAI API. Each turn is an
app chain span (`OITracer.chain`) holding the chat span.

    /tmp/rec_g/bin/python tests/golden/openinference/session_conversation/record.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parents[3])]

import openai  # noqa: E402
from fake_llm import serve  # noqa: E402
from openinference.instrumentation import OITracer, TraceConfig, using_session  # noqa: E402
from openinference.instrumentation.openai import OpenAIInstrumentor  # noqa: E402
from recording import provider, write_request  # noqa: E402


def main() -> None:
    tp, exporter = provider("chat-app")
    OpenAIInstrumentor().instrument(tracer_provider=tp)
    tracer = OITracer(tp.get_tracer("chat-app"), config=TraceConfig())
    with serve() as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden", max_retries=0)
        history: list[dict[str, str]] = []

        @tracer.chain(name="chat_turn")
        def turn(question: str) -> str:
            history.append({"role": "user", "content": question})
            reply = client.chat.completions.create(model="gpt-4o-mini", messages=history)  # type: ignore[arg-type]
            answer = reply.choices[0].message.content or ""
            history.append({"role": "assistant", "content": answer})
            return answer

        for question in ("What is the capital of France?", "And its population?"):
            with using_session("sess-oi-1"):
                turn(question)
    tp.force_flush()
    write_request(exporter.get_finished_spans(), HERE)


if __name__ == "__main__":
    main()
