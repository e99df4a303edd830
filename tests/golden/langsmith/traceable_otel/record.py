"""Record the LangSmith golden case: `@traceable` functions and a `wrap_openai` client,
traced by the REAL langsmith SDK in OTel mode (`tracing_mode="otel"`), which turns each
run into an OTel span with `langsmith.*` and `gen_ai.*` attributes. An app's own OTel
span opened inside a traceable function is recorded too.

    PYTHONPATH=. /tmp/venv/bin/python tests/golden/langsmith/traceable_otel/record.py

(langsmith, openai and the OTel SDK are already test dependencies.) Recorded with
langsmith 0.14.17 and openai 3.52 against the fake OpenAI API on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
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
    tp, exporter = provider("support-bot")
    app_tracer = tp.get_tracer("support-bot.app")
    client = Client(
        api_url="http://127.0.0.1:9",
        api_key="ls-golden",
        tracing_mode="otel",
        otel_tracer_provider=tp,
    )

    @traceable(run_type="retriever", name="search_kb")
    def search_kb(query: str) -> list[dict]:
        return [
            {
                "page_content": "Refunds take 5-10 business days.",
                "type": "Document",
                "metadata": {"id": "kb-7", "score": 0.83},
            },
        ]

    @traceable(run_type="tool", name="lookup_order")
    def lookup_order(order_id: str) -> dict:
        with app_tracer.start_as_current_span("orders.db.get") as span:
            span.set_attribute("db.system.name", "sqlite")
        return {"order_id": order_id, "status": "refunded"}

    @traceable(run_type="parser", name="parse_amount")
    def parse_amount(text: str) -> float:
        raise ValueError(f"no amount in {text!r}")

    with serve() as url:
        llm = wrap_openai(openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden"))

        @traceable(
            name="answer_question",
            metadata={"user_tier": "pro", "experiment": {"arm": "b"}, "attempt": 2},
            tags=["golden", "support"],
        )
        def answer_question(question: str) -> str:
            search_kb(question)
            order = lookup_order("ord-1")
            with contextlib.suppress(ValueError):
                parse_amount(order["status"])  # an error run
            reply = llm.chat.completions.create(
                model="gpt-4o-mini",
                messages=[
                    {"role": "system", "content": "You are a support agent."},
                    {"role": "user", "content": question},
                ],
                temperature=0.0,
            )
            return reply.choices[0].message.content or ""

        with tracing_context(enabled=True, client=client, project_name="support-golden"):
            answer_question("When will my refund arrive?")
        client.flush()
    tp.force_flush()
    write_request(exporter.get_finished_spans(), HERE)


if __name__ == "__main__":
    main()
