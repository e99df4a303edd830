"""Record: a two-turn conversation, one trace per turn, both in one LangSmith thread
(metadata `thread_id`, passed per call with `langsmith_extra`), traced by the REAL
langsmith SDK in OTel mode (`tracing_mode="otel"`): each turn a `@traceable` chain
holding a `wrap_openai` chat call against the fake OpenAI API.

    PYTHONPATH=. .venv/bin/python tests/golden/langsmith/session_conversation/record.py

(langsmith, openai and the OTel SDK are test dependencies of otel-llm.)
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parents[3])]

import openai  # noqa: E402
from fake_llm import serve  # noqa: E402
from langsmith import Client, traceable, tracing_context  # noqa: E402
from langsmith.wrappers import wrap_openai  # noqa: E402
from recording import provider, write_request  # noqa: E402


def main() -> None:
    tp, exporter = provider("chat-app")
    client = Client(
        api_url="http://127.0.0.1:9",
        api_key="ls-golden",
        tracing_mode="otel",
        otel_tracer_provider=tp,
    )
    with serve() as url:
        llm = wrap_openai(openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden", max_retries=0))
        history: list[dict[str, str]] = []

        @traceable(name="chat_turn")
        def turn(question: str) -> str:
            history.append({"role": "user", "content": question})
            reply = llm.chat.completions.create(model="gpt-4o-mini", messages=history)  # type: ignore[arg-type]
            answer = reply.choices[0].message.content or ""
            history.append({"role": "assistant", "content": answer})
            return answer

        with tracing_context(enabled=True, client=client, project_name="chat-golden"):
            for question in ("What is the capital of France?", "And its population?"):
                turn(question, langsmith_extra={"metadata": {"thread_id": "thread-ls-1"}})
        client.flush()
    tp.force_flush()
    write_request(exporter.get_finished_spans(), HERE)


if __name__ == "__main__":
    main()
