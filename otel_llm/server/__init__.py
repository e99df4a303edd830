"""`otel-llm serve`: OTLP/gRPC and OTLP/HTTP receivers, durable ingest, LangSmith read API.

from otel_llm.server import OtelLlmServer, ServerSettings
from otel_llm.store import SQLiteStore

store = SQLiteStore("runs.db")
with OtelLlmServer(store, ServerSettings(grpc_port=0, http_port=0)) as server:
    print(server.http_url, server.grpc_address)
store.close()
"""

from otel_llm.durations import parse_duration
from otel_llm.server.app import create_app
from otel_llm.server.runner import OtelLlmServer
from otel_llm.server.settings import ServerSettings

__all__ = ["OtelLlmServer", "ServerSettings", "create_app", "parse_duration"]
