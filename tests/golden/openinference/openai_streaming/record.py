"""Record: the REAL openinference-instrumentation-openai around a streaming chat
completion (`stream_options.include_usage`, so the usage comes in the last chunk), the
stream read to its end, against the fake OpenAI API on 127.0.0.1. The instrumentation
marks the first chunk with a "First Token Stream Event" span event.

    python -m venv /tmp/rec_g && /tmp/rec_g/bin/pip install -e . \
        openinference-instrumentation-openai==0.1.66 openai==3.60.0
    /tmp/rec_g/bin/python tests/golden/openinference/openai_streaming/record.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parents[3])]

import openai  # noqa: E402
from fake_llm import serve  # noqa: E402
from openinference.instrumentation.openai import OpenAIInstrumentor  # noqa: E402
from recording import provider, write_request  # noqa: E402


def main() -> None:
    tp, exporter = provider("stream-chat")
    OpenAIInstrumentor().instrument(tracer_provider=tp)
    with serve() as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden", max_retries=0)
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": "Answer in one sentence."},
                {"role": "user", "content": "What is the capital of France?"},
            ],
            stream=True,
            stream_options={"include_usage": True},
            temperature=0.0,
        )
        answer = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert answer, "the stream carried no text"
    tp.force_flush()
    write_request(exporter.get_finished_spans(), HERE)


if __name__ == "__main__":
    main()
