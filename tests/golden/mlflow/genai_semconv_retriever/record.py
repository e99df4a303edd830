"""Record: MLflow's GenAI semantic-conventions export (`MLFLOW_ENABLE_OTEL_GENAI_SEMCONV`,
new in mlflow 3.18), where MLflow translates each span to `gen_ai.*` attributes before
its OTLP exporter sends it: an `@mlflow.trace` AGENT holding a RETRIEVER (whose span
type it writes as `gen_ai.operation.name`), an autologged openai chat call and a TOOL,
traced by the REAL mlflow-skinny and sent (http/protobuf) to a capture server.

    /tmp/rec_ml/bin/python tests/golden/mlflow/genai_semconv_retriever/record.py
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
        os.environ["OTEL_SERVICE_NAME"] = "rag-agent"
        os.environ["MLFLOW_TRACKING_URI"] = f"file://{tempfile.mkdtemp()}"
        os.environ["MLFLOW_ENABLE_OTEL_GENAI_SEMCONV"] = "true"

        import mlflow
        import openai
        from mlflow.entities import Document, SpanType

        mlflow.openai.autolog()

        @mlflow.trace(span_type=SpanType.RETRIEVER)
        def retrieve(query: str) -> list[Document]:
            return [
                Document(
                    page_content="Paris is the capital of France.",
                    id="doc-1",
                    metadata={"source": "atlas"},
                ),
                Document(page_content="Lyon is in France.", id="doc-2"),
            ]

        @mlflow.trace(span_type=SpanType.TOOL, name="get_weather")
        def get_weather(city: str) -> str:
            return "18°C and sunny"

        with serve() as url:
            client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden", max_retries=0)

            @mlflow.trace(span_type=SpanType.AGENT, name="rag_agent")
            def agent(question: str) -> str:
                docs = retrieve(question)
                reply = client.chat.completions.create(
                    model="gpt-4o-mini",
                    temperature=0.0,
                    messages=[
                        {"role": "system", "content": "Context: " + docs[0].page_content},
                        {"role": "user", "content": question},
                    ],
                )
                get_weather("Paris")
                return reply.choices[0].message.content or ""

            agent("What is the capital of France?")
        from mlflow.tracing.provider import provider as mlflow_provider

        mlflow_provider.get().force_flush()
        write_captured(bodies, HERE)


if __name__ == "__main__":
    main()
