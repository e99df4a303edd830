"""Record: MLflow's manual tracing API with no autolog: an `@mlflow.trace(span_type=
"AGENT")` function holding a `mlflow.start_span(span_type="CHAT_MODEL")` block whose
inputs are the chat request and whose outputs are the OpenAI chat completion the real
`openai` client returned (with its usage), then a TOOL span, traced by the REAL
mlflow-skinny and exported by its OTLP exporter (http/protobuf) to a capture server on
127.0.0.1.

    python -m venv /tmp/rec_ml && /tmp/rec_ml/bin/pip install -e . mlflow-skinny==3.18.0 \
        openai==3.60.0 opentelemetry-exporter-otlp-proto-http
    /tmp/rec_ml/bin/python tests/golden/mlflow/manual_span/record.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parents[3])]

from fake_llm import serve  # noqa: E402
from recording import otlp_capture, write_captured  # noqa: E402


def main() -> None:
    with otlp_capture() as (endpoint, bodies):
        os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = endpoint
        os.environ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = "http/protobuf"
        os.environ["OTEL_SERVICE_NAME"] = "manual-tracing"
        os.environ["MLFLOW_TRACKING_URI"] = f"file://{tempfile.mkdtemp()}"

        import mlflow
        import openai
        from mlflow.entities import SpanType

        with serve() as url:
            client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden", max_retries=0)

            @mlflow.trace(span_type=SpanType.AGENT, name="capital_agent")
            def agent(question: str) -> str:
                request = {
                    "model": "gpt-4o-mini",
                    "messages": [{"role": "user", "content": question}],
                    "temperature": 0.0,
                }
                with mlflow.start_span("call_llm", span_type=SpanType.CHAT_MODEL) as span:
                    span.set_inputs(request)
                    reply = client.chat.completions.create(**request)  # type: ignore[call-overload]
                    span.set_outputs(reply.model_dump())
                    span.set_attributes({"app.attempt": 1})
                with mlflow.start_span("format_answer", span_type=SpanType.TOOL) as span:
                    span.set_inputs({"text": reply.choices[0].message.content})
                    answer = (reply.choices[0].message.content or "").upper()
                    span.set_outputs(answer)
                return answer

            agent("What is the capital of France?")
        from mlflow.tracing.provider import provider as mlflow_provider

        mlflow_provider.get().force_flush()
        write_captured(bodies, HERE)


if __name__ == "__main__":
    main()
