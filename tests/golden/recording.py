"""Shared by the `record.py` scripts: an SDK tracer provider that keeps spans in memory,
and the writer of a case's `request.json` (OTLP/JSON, as an exporter sends it); for a
producer that writes GenAI events as OTLP log records, a logger provider that keeps them
and the writer of the case's `logs.json` (an OTLP/JSON ExportLogsServiceRequest).

Recording needs the real instrumentation packages, which are NOT dependencies of
otel-llm: install them in a separate virtual environment (each convention folder's
README.md says which releases a case was recorded with).
"""

from __future__ import annotations

import base64
import json
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_llm.otlp import decode_otlp_protobuf, encode_otlp_json, span_from_readable

GOLDEN = Path(__file__).resolve().parent
if str(GOLDEN) not in sys.path:
    sys.path.insert(0, str(GOLDEN))


# The tool the recorded agents call (same schema in every recording that shares it).
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def provider(service: str) -> tuple[TracerProvider, InMemorySpanExporter]:
    """A tracer provider whose finished spans land in the returned exporter."""
    exporter = InMemorySpanExporter()
    tp = TracerProvider(resource=Resource.create({"service.name": service}))
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    return tp, exporter


def write_request(spans: Sequence[ReadableSpan], case_dir: Path) -> Path:
    """Write the spans as the OTLP/JSON ExportTraceServiceRequest an exporter would send
    (indented, so a reviewer can read it; whitespace is not part of the format)."""
    records = [span_from_readable(s) for s in spans]
    body: Any = json.loads(encode_otlp_json(records))
    out = case_dir / "request.json"
    out.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{out}: {len(records)} spans")
    return out


def log_provider(service: str) -> tuple[LoggerProvider, InMemoryLogRecordExporter]:
    """A logger provider whose emitted records land in the returned exporter."""
    exporter = InMemoryLogRecordExporter()
    lp = LoggerProvider(resource=Resource.create({"service.name": service}))
    lp.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    return lp, exporter


def _hex_ids(node: Any) -> Any:
    """Protobuf's JSON mapping writes bytes as base64; OTLP/JSON writes trace and span
    ids as hex."""
    if isinstance(node, dict):
        return {
            k: base64.b64decode(v).hex() if k in ("traceId", "spanId") else _hex_ids(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node


def write_logs(records: Sequence[ReadableLogRecord], case_dir: Path) -> Path:
    """Write the log records as the OTLP/JSON ExportLogsServiceRequest an exporter would
    send (the SDK's own OTLP encoding, in the JSON mapping OTLP specifies)."""
    body = _hex_ids(MessageToDict(encode_logs(records), use_integers_for_enums=True))
    out = case_dir / "logs.json"
    out.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{out}: {len(records)} log records")
    return out


@contextmanager
def otlp_capture() -> Iterator[tuple[str, list[bytes]]]:
    """An OTLP/HTTP receiver on 127.0.0.1 for a producer that sets up its own exporter
    (MLflow): yields its traces endpoint and the list the protobuf bodies land in."""
    bodies: list[bytes] = []

    class Capture(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", bodies
    finally:
        server.shutdown()


def write_captured(bodies: Sequence[bytes], case_dir: Path) -> Path:
    """Write the captured export requests' spans as one OTLP/JSON request."""
    spans = [s for body in bodies for s in decode_otlp_protobuf(body)]
    out = case_dir / "request.json"
    body_json: Any = json.loads(encode_otlp_json(spans))
    out.write_text(json.dumps(body_json, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{out}: {len(spans)} spans from {len(bodies)} export request(s)")
    return out


@contextmanager
def langfuse_recording(service: str, case_dir: Path, **options: Any) -> Iterator[Any]:
    """A Langfuse client (the real SDK, OTel based) whose spans land in memory; on exit
    they are flushed and written as the case's `request.json`. `options` go to
    `Langfuse(...)` (e.g. environment, release)."""
    from langfuse import Langfuse

    exporter = InMemorySpanExporter()
    tp = TracerProvider(resource=Resource.create({"service.name": service}))
    client = Langfuse(
        public_key="pk-lf-golden",
        secret_key="sk-lf-golden",
        base_url="http://127.0.0.1:9",  # nothing listens: the spans stay in memory
        tracer_provider=tp,
        span_exporter=exporter,
        **options,
    )
    yield client
    client.flush()
    tp.force_flush()
    write_request(exporter.get_finished_spans(), case_dir)
