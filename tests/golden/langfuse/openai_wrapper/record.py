"""Record: the REAL Langfuse OpenAI wrapper (`from langfuse.openai import openai`, the
module-level drop-in) around the real `openai` client, with the REAL langfuse SDK (OTel
based) exporting into an in-memory exporter. Outside any observation, each call is its
own trace with one generation: a chat completion, a streamed chat completion with
`stream_options.include_usage`, and a Responses API call. The usage of each is in
`langfuse.observation.usage_details`.

    python -m venv /tmp/rec_lf && /tmp/rec_lf/bin/pip install -e . langfuse==5.2.0 \
        openai==3.60.0
    /tmp/rec_lf/bin/python tests/golden/langfuse/openai_wrapper/record.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parents[3])]

from fake_llm import serve  # noqa: E402
from recording import langfuse_recording  # noqa: E402


def main() -> None:
    with langfuse_recording("wrapped-openai", HERE), serve() as url:
        from langfuse.openai import openai  # the drop-in module; uses the client above

        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden", max_retries=0)
        client.chat.completions.create(
            name="capital-question",
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": "Answer in one sentence."},
                {"role": "user", "content": "What is the capital of France?"},
            ],
            max_tokens=50,
        )
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "And again, streamed?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        client.responses.create(model="gpt-4o-mini", input="One more time, please.")


if __name__ == "__main__":
    main()
