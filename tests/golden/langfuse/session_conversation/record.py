"""Record: a two-turn conversation, one trace per turn, both in one Langfuse session set
with the REAL langfuse SDK's `propagate_attributes(session_id=...)` (which writes
`session.id` / `langfuse.session.id` on every span of the turn), each turn a chain
observation holding a chat call made through the REAL `langfuse.openai` drop-in, against
the fake OpenAI API.

    /tmp/rec_lf/bin/python tests/golden/langfuse/session_conversation/record.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parents[3])]

from fake_llm import serve  # noqa: E402
from langfuse import propagate_attributes  # noqa: E402
from recording import langfuse_recording  # noqa: E402


def main() -> None:
    with langfuse_recording("chat-app", HERE) as langfuse, serve() as url:
        from langfuse.openai import OpenAI  # the drop-in; uses the client made above

        client = OpenAI(base_url=f"{url}/v1", api_key="sk-golden", max_retries=0)
        history: list[dict[str, str]] = []
        for question in ("What is the capital of France?", "And its population?"):
            history.append({"role": "user", "content": question})
            with (
                langfuse.start_as_current_observation(
                    as_type="chain", name="chat-turn", input={"question": question}
                ) as turn,
                propagate_attributes(session_id="sess-lf-conv", user_id="user-3"),
            ):
                reply = client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=history,  # type: ignore[arg-type]
                )
                answer = reply.choices[0].message.content or ""
                turn.update(output={"answer": answer})
            history.append({"role": "assistant", "content": answer})


if __name__ == "__main__":
    main()
