"""Record the MLflow golden case: `@mlflow.trace` functions (agent, retriever, tool, a
failing parser) around `mlflow.openai.autolog()` chat and embedding calls, traced by
the REAL mlflow-skinny and exported by its OTLP exporter (http/protobuf) to a capture
server on 127.0.0.1. The captured ExportTraceServiceRequest is saved as OTLP/JSON.

    python -m venv /tmp/rec_ml && /tmp/rec_ml/bin/pip install mlflow-skinny openai \
        opentelemetry-sdk opentelemetry-exporter-otlp-proto-http orjson protobuf
    PYTHONPATH=. /tmp/rec_ml/bin/python tests/golden/mlflow/openai_autolog/record.py

Recorded with mlflow-skinny 3.17.2 and openai 3.52 against the fake OpenAI API.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parents[3])]

from fake_llm import serve  # noqa: E402

from otel_llm.otlp import decode_otlp_protobuf, encode_otlp_json  # noqa: E402

captured: list[bytes] = []


class _Capture(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        captured.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = (
        f"http://127.0.0.1:{receiver.server_address[1]}/v1/traces"
    )
    os.environ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = "http/protobuf"
    os.environ["OTEL_SERVICE_NAME"] = "docs-assistant"
    os.environ["MLFLOW_TRACKING_URI"] = f"file://{tempfile.mkdtemp()}"

    import mlflow
    import openai
    from mlflow.entities import Document

    mlflow.openai.autolog()

    @mlflow.trace(span_type="RETRIEVER")
    def retrieve(query: str) -> list[Document]:
        return [
            Document(
                page_content="MLflow traces are OTel spans.",
                id="doc-9",
                metadata={"source": "docs"},
            )
        ]

    @mlflow.trace(span_type="TOOL", name="get_weather")
    def get_weather(city: str) -> str:
        return "18°C and sunny"

    @mlflow.trace(span_type="PARSER")
    def parse_score(text: str) -> float:
        raise ValueError(f"no score in {text!r}")

    with serve() as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-golden")

        @mlflow.trace(span_type="AGENT", name="docs_agent")
        def agent(question: str) -> str:
            # Trace tags are left out: mlflow 3.17 copies them onto the root span in
            # on_end, which fails with OTel SDK 1.45's immutable attributes and loses
            # the root span (the reader's mlflow.traceTag.* handling is unit-tested).
            mlflow.update_current_trace(session_id="sess-ml-3", user="user-5")
            retrieve(question)
            client.embeddings.create(model="text-embedding-3-small", input=question)
            reply = client.chat.completions.create(
                model="gpt-4o-mini",
                temperature=0.5,
                messages=[{"role": "user", "content": question}],
                tools=[
                    {
                        "type": "function",
                        "function": {
                            "name": "get_weather",
                            "parameters": {
                                "type": "object",
                                "properties": {"city": {"type": "string"}},
                            },
                        },
                    }
                ],
            )
            args = json.loads(reply.choices[0].message.tool_calls[0].function.arguments)
            weather = get_weather(**args)
            with contextlib.suppress(ValueError):
                parse_score(weather)
            return weather

        agent("What is the weather in Paris?")
    from mlflow.tracing.provider import provider as mlflow_provider

    mlflow_provider.get().force_flush()
    spans = [s for body in captured for s in decode_otlp_protobuf(body)]
    out = HERE / "request.json"
    body_json = json.loads(encode_otlp_json(spans))
    out.write_text(json.dumps(body_json, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{out}: {len(spans)} spans from {len(captured)} export request(s)")
    receiver.shutdown()


if __name__ == "__main__":
    main()
