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
DEFAULT_DB = "otel-llm.db"  # also the store sink's and the read commands' default
OTEL_LLM_API_KEY = "OTEL_LLM_API_KEY"  # when set, every request must carry it
OTEL_LLM_API_KEY_FILE = "OTEL_LLM_API_KEY_FILE"  # a file holding that key
OTEL_LLM_MAX_BODY_BYTES = "OTEL_LLM_MAX_BODY_BYTES"  # per request, after gunzip too
OTEL_LLM_MAX_ATTACHMENT_BYTES = "OTEL_LLM_MAX_ATTACHMENT_BYTES"  # one run attachment
OTEL_LLM_QUEUE_SIZE = "OTEL_LLM_QUEUE_SIZE"  # requests admitted but not yet committed
OTEL_LLM_MAX_INFLIGHT_BYTES = "OTEL_LLM_MAX_INFLIGHT_BYTES"  # decoded bytes admitted, total
OTEL_LLM_WORKERS = "OTEL_LLM_WORKERS"  # decode+convert processes (0: in-process thread)
OTEL_LLM_RETENTION = "OTEL_LLM_RETENTION"  # e.g. 14d: delete traces older than this
OTEL_LLM_PRICES = "OTEL_LLM_PRICES"  # model price table that extends/overrides the shipped one
OTEL_LLM_LOG_LEVEL = "OTEL_LLM_LOG_LEVEL"  # debug, info, warning, error
OTEL_LLM_FSYNC = "OTEL_LLM_FSYNC"  # true: fsync each commit (survives power loss too)
# Forwarding: destination URLs, comma- or space-separated (see otel_llm.forward)
OTEL_LLM_FORWARD = "OTEL_LLM_FORWARD"
OTEL_LLM_FORWARD_WAIT = "OTEL_LLM_FORWARD_WAIT"  # forward runs that never end after this (5m)
OTEL_LLM_FORWARD_MAX_BYTES = "OTEL_LLM_FORWARD_MAX_BYTES"  # outbox bound per destination
OTEL_LLM_FORWARD_SPILL_DIR = "OTEL_LLM_FORWARD_SPILL_DIR"  # default <db>.forward-spill
OTEL_LLM_FORWARD_BATCH_SIZE = "OTEL_LLM_FORWARD_BATCH_SIZE"  # runs per request, default 1000
OTEL_LLM_ACCESS_LOG = "OTEL_LLM_ACCESS_LOG"  # false: no access line for answers below 400

# --- span processor, sinks and exporters -------------------------------------------
# RunSpanProcessor and the run sinks take these as defaults when an argument is None;
# the `otel_llm_runs` / `otel_llm_otlp` / `otel_llm_console` entry-point exporters are
# configured by them alone.
LANGSMITH_ENDPOINT = ("LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT")
LANGSMITH_API_KEY = ("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY")
LANGSMITH_PROJECT = ("LANGSMITH_PROJECT", "LANGCHAIN_PROJECT", "LANGCHAIN_SESSION")
LANGSMITH_WORKSPACE_ID = ("LANGSMITH_WORKSPACE_ID", "LANGCHAIN_WORKSPACE_ID")  # X-Tenant-Id
LANGSMITH_SAMPLING_RATE = ("LANGSMITH_TRACING_SAMPLING_RATE", "LANGCHAIN_TRACING_SAMPLING_RATE")
LANGSMITH_HIDE_INPUTS = ("LANGSMITH_HIDE_INPUTS", "LANGCHAIN_HIDE_INPUTS")
LANGSMITH_HIDE_OUTPUTS = ("LANGSMITH_HIDE_OUTPUTS", "LANGCHAIN_HIDE_OUTPUTS")
DEFAULT_LANGSMITH_ENDPOINT = "https://api.smith.langchain.com"

OTEL_LLM_RUNS_SINK = "OTEL_LLM_RUNS_SINK"  # langsmith (default) | jsonl | store
OTEL_LLM_RUNS_JSONL_PATH = "OTEL_LLM_RUNS_JSONL_PATH"  # default ./otel-llm-runs.jsonl
OTEL_LLM_RUNS_JSONL_MAX_BYTES = "OTEL_LLM_RUNS_JSONL_MAX_BYTES"  # rotate size, default 100 MiB
OTEL_LLM_RUNS_JSONL_BACKUPS = "OTEL_LLM_RUNS_JSONL_BACKUPS"  # rotated files kept, default 5
OTEL_LLM_RUNS_SPILL_DIR = "OTEL_LLM_RUNS_SPILL_DIR"  # undeliverable batches go here
OTEL_LLM_RUNS_SPILL_MAX_BYTES = "OTEL_LLM_RUNS_SPILL_MAX_BYTES"  # default 1 GiB
OTEL_LLM_RUNS_EXPORT_ALL = "OTEL_LLM_RUNS_EXPORT_ALL"  # true: every span, not only LLM ones
OTEL_LLM_RUNS_SAMPLE_RATE = "OTEL_LLM_RUNS_SAMPLE_RATE"  # wins over LANGSMITH_TRACING_SAMPLING_RATE
OTEL_LLM_RUNS_KEEP_ERRORS = "OTEL_LLM_RUNS_KEEP_ERRORS"  # keep every trace with an error (true)
OTEL_LLM_RUNS_SLOW_MS = "OTEL_LLM_RUNS_SLOW_MS"  # keep every trace slower than this
OTEL_LLM_RUNS_REDACT = "OTEL_LLM_RUNS_REDACT"  # built-in rules: keys,email,card,bearer | none
OTEL_LLM_RUNS_REDACT_KEYS = "OTEL_LLM_RUNS_REDACT_KEYS"  # more key names (comma list)
OTEL_LLM_RUNS_MAX_QUEUE_SIZE = "OTEL_LLM_RUNS_MAX_QUEUE_SIZE"  # default 20000
OTEL_LLM_RUNS_MAX_BATCH_SIZE = "OTEL_LLM_RUNS_MAX_BATCH_SIZE"  # default 1000
OTEL_LLM_RUNS_SCHEDULE_DELAY_MS = "OTEL_LLM_RUNS_SCHEDULE_DELAY_MS"  # default 500
OTEL_LLM_RUNS_COMPRESSION = "OTEL_LLM_RUNS_COMPRESSION"  # gzip (default) | none
OTEL_LLM_RUNS_HTTP_TIMEOUT = "OTEL_LLM_RUNS_HTTP_TIMEOUT"  # seconds per request, default 10
OTEL_LLM_RUNS_RETRY_SECONDS = "OTEL_LLM_RUNS_RETRY_SECONDS"  # retry budget per batch, default 60
OTEL_LLM_EMIT = "OTEL_LLM_EMIT"  # convention families ConventionSpanExporter writes


def processor_int(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    """A non-negative integer variable.

    Raises:
        ValueError: naming the variable, when it is not a non-negative integer.
    """
    value = env_first((name,), environ)
    if value is None:
        return default
    try:
        number = int(value.strip().replace("_", ""))
    except ValueError:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}") from None
    if number < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return number


def processor_float(
    names: str | tuple[str, ...],
    default: float | None,
    environ: Mapping[str, str] | None = None,
    high: float | None = None,
) -> float | None:
    """A non-negative number from the first of `names` that is set.

    Raises:
        ValueError: naming the variable, when it is not a number in range.
    """
    names = (names,) if isinstance(names, str) else names
    env = os.environ if environ is None else environ
    for name in names:
        value = env.get(name)
        if not value:
            continue
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {value!r}") from None
        if number < 0 or (high is not None and number > high) or number != number:
            limit = f"between 0 and {high}" if high is not None else ">= 0"
            raise ValueError(f"{name} must be {limit}, got {value!r}")
        return number
    return default


def processor_list(name: str, environ: Mapping[str, str] | None = None) -> tuple[str, ...] | None:
    """A comma-separated list (items stripped, empties dropped); None when unset."""
    value = env_first((name,), environ)
    if value is None:
        return None
    return tuple(item.strip() for item in value.split(",") if item.strip())


def langsmith_endpoint(environ: Mapping[str, str] | None = None) -> str:
    """The run-ingest endpoint (LANGSMITH_ENDPOINT, then LANGCHAIN_ENDPOINT)."""
    return (env_first(LANGSMITH_ENDPOINT, environ) or DEFAULT_LANGSMITH_ENDPOINT).rstrip("/")


def langsmith_api_key(environ: Mapping[str, str] | None = None) -> str | None:
    return env_first(LANGSMITH_API_KEY, environ)


def langsmith_project(environ: Mapping[str, str] | None = None) -> str:
    """The project runs go to when they name none (PROJECT > SESSION > "default")."""
    return env_first(LANGSMITH_PROJECT, environ) or "default"


def langsmith_workspace_id(environ: Mapping[str, str] | None = None) -> str | None:
    return env_first(LANGSMITH_WORKSPACE_ID, environ)


def runs_sample_rate(environ: Mapping[str, str] | None = None) -> float:
    """The base ratio of traces kept (OTEL_LLM_RUNS_SAMPLE_RATE, then LangSmith's)."""
    rate = processor_float((OTEL_LLM_RUNS_SAMPLE_RATE, *LANGSMITH_SAMPLING_RATE), 1.0, environ, 1.0)
    return 1.0 if rate is None else rate


def runs_hide_inputs(environ: Mapping[str, str] | None = None) -> bool:
    return env_bool(env_first(LANGSMITH_HIDE_INPUTS, environ))


def runs_hide_outputs(environ: Mapping[str, str] | None = None) -> bool:
    return env_bool(env_first(LANGSMITH_HIDE_OUTPUTS, environ))


# --- instrumentation (otel_llm.instrumentation, opentelemetry-instrument) ---------
# The official variable of the GenAI instrumentations. Unset means capture: the backends
# this project feeds (LangSmith, Langfuse, Phoenix, otel-llm serve) exist to show prompts
# and answers, and the project's redaction runs on them before they leave the process.
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT = (
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
)
_NO_CONTENT = frozenset({"false", "0", "no", "off", "no_content", "event_only"})

# What the `otel_llm` distro sets when the variable is unset: OTLP/HTTP traces to a local
# `otel-llm serve`, no metrics or logs (the receiver takes traces only).
DISTRO_DEFAULTS: dict[str, str] = {
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
}


# The Anthropic SDK's own call spans (on by default when a tracer provider is set) would
# repeat the span the project's Anthropic instrumentor writes for the same call: the
# instrumentor turns them off unless this variable is set.
ANTHROPIC_OPEN_TELEMETRY = "ANTHROPIC_OPEN_TELEMETRY"


def capture_message_content(environ: Mapping[str, str] | None = None) -> bool:
    """OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: false, no_content and event_only
    (content only in log events, which this project does not write) turn capture off;
    unset, true or span_only / span_and_event capture."""
    value = env_first((OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,), environ)
    return value is None or value.strip().lower() not in _NO_CONTENT


def set_defaults(defaults: Mapping[str, str]) -> None:
    """Set each variable that is not set yet (what an OpenTelemetry distro does)."""
    for name, value in defaults.items():
        os.environ.setdefault(name, value)


def set_default(name: str, value: str) -> bool:
    """Set a variable that is not set yet; True when this call set it."""
    if name in os.environ:
        return False
    os.environ[name] = value
    return True


def unset(name: str) -> None:
    os.environ.pop(name, None)
