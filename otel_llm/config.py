"""The one place that reads the environment.

Every environment variable the project honours is named here as a constant and read
by a function of this module; components take plain values as arguments.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def env_first(names: tuple[str, ...], environ: Mapping[str, str] | None = None) -> str | None:
    """The value of the first variable in `names` that is set and non-empty."""
    env = os.environ if environ is None else environ
    for name in names:
        value = env.get(name)
        if value:
            return value
    return None


def env_bool(value: str | None, default: bool = False) -> bool:
    """`true`/`1`/`yes`/`on` (any case) are true; unset is `default`."""
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


# --- server (otel-llm serve) -------------------------------------------------------
# Each is also a flag of `otel-llm serve`; a flag given on the command line wins.
OTEL_LLM_HOST = "OTEL_LLM_HOST"  # interface to bind, default 127.0.0.1
OTEL_LLM_GRPC_PORT = "OTEL_LLM_GRPC_PORT"  # OTLP/gRPC port, default 4317, 0 disables
OTEL_LLM_HTTP_PORT = "OTEL_LLM_HTTP_PORT"  # HTTP port (OTLP/HTTP + read API), default 4318
OTEL_LLM_DB = "OTEL_LLM_DB"  # SQLite file of the run store, default ./otel-llm.db
OTEL_LLM_API_KEY = "OTEL_LLM_API_KEY"  # when set, every request must carry it
OTEL_LLM_MAX_BODY_BYTES = "OTEL_LLM_MAX_BODY_BYTES"  # per request, after gunzip too
OTEL_LLM_QUEUE_SIZE = "OTEL_LLM_QUEUE_SIZE"  # requests admitted but not yet committed
OTEL_LLM_MAX_INFLIGHT_BYTES = "OTEL_LLM_MAX_INFLIGHT_BYTES"  # body bytes admitted, total
OTEL_LLM_WORKERS = "OTEL_LLM_WORKERS"  # decode+convert processes (0: in-process thread)
OTEL_LLM_RETENTION = "OTEL_LLM_RETENTION"  # e.g. 14d: delete traces older than this
OTEL_LLM_PRICES = "OTEL_LLM_PRICES"  # model price table that extends/overrides the shipped one
OTEL_LLM_LOG_LEVEL = "OTEL_LLM_LOG_LEVEL"  # debug, info, warning, error

# --- span processor, sinks and exporters -------------------------------------------
