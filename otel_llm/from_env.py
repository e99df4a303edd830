"""Sinks, processors and exporters built from the environment (see `otel_llm.config`).

The `opentelemetry_traces_exporter` entry points are built by the SDK with no arguments,
so the environment configures them: `otel_llm_runs` (`RunExporter`: spans -> runs -> the
sink OTEL_LLM_RUNS_SINK names), `otel_llm_otlp` (`ConventionOTLPExporter`) and
`otel_llm_console` (`ConventionConsoleExporter`). `otel-llm replay` builds its sink with
`sink_from_env`, its flags winning over the variables.

A bad value is a `ValueError` naming the variable from the factories. The entry-point
exporters do not raise it: the SDK's configurator would then give up on tracing as a
whole and print two tracebacks while the app runs on untraced. They log one error line
instead (what was wrong, and that this exporter is off while the others named by
OTEL_TRACES_EXPORTER go on) and drop what they are given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter, SpanExportResult

from otel_llm import config
from otel_llm.convert import DEFAULT_EMIT
from otel_llm.exporter import ConventionSpanExporter
from otel_llm.processor import RunSpanProcessor
from otel_llm.redaction import BUILTIN_RULES, Redactor
from otel_llm.sampling import TraceSampler
from otel_llm.sinks.base import RunSink
from otel_llm.sinks.jsonl import DEFAULT_BACKUP_COUNT, DEFAULT_MAX_BYTES, JsonlRunSink
from otel_llm.sinks.langsmith import LangSmithRunSink
from otel_llm.sinks.spill import DEFAULT_SPILL_MAX_BYTES, SpillDirectory
from otel_llm.sinks.store import StoreRunSink

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _or_off(name: str, build: Callable[[], T], losing: str) -> T | None:
    """`build()`, or None after one error line when the environment has a bad value.

    Args:
        name: the entry point (`otel_llm_runs`, ...).
        build: makes what the exporter needs from the environment.
        losing: what is not recorded while it is off.
    """
    try:
        return build()
    except ValueError as exc:
        logger.error(
            "%s is off: %s. Tracing goes on with the other exporters in "
            "OTEL_TRACES_EXPORTER; %s until the variable is fixed and the app restarted.",
            name,
            str(exc).rstrip("."),
            losing,
        )
        return None


class _Off(SpanExporter):
    """What an entry point exports to when its configuration was bad: nothing."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def sink_from_env(
    environ: Mapping[str, str] | None = None,
    *,
    kind: str | None = None,
    endpoint: str | None = None,
    api_key: str | None = None,
    project: str | None = None,
    db: str | None = None,
    jsonl_path: str | None = None,
) -> RunSink:
    """The run sink `kind` names (default: OTEL_LLM_RUNS_SINK, else langsmith).

    Each argument given (not None or empty) wins over its variable; the environment
    configures the rest.

    Args:
        environ: the environment (default: os.environ).
        kind: langsmith, jsonl or store.
        endpoint, api_key, project: of the langsmith sink (project also of the store).
        db: the store's SQLite file.
        jsonl_path: the jsonl sink's file.

    Raises:
        ValueError: naming the variable, for an unknown sink or a bad value.
    """
    kind = (kind or config.env_first((config.OTEL_LLM_RUNS_SINK,), environ) or "langsmith").lower()
    if kind == "langsmith":
        compression = (
            config.env_first((config.OTEL_LLM_RUNS_COMPRESSION,), environ) or "gzip"
        ).lower()
        if compression not in ("gzip", "none"):
            raise ValueError(
                f"{config.OTEL_LLM_RUNS_COMPRESSION} must be gzip or none, got {compression!r}"
            )
        timeout = config.processor_float(config.OTEL_LLM_RUNS_HTTP_TIMEOUT, 10.0, environ)
        retry = config.processor_float(config.OTEL_LLM_RUNS_RETRY_SECONDS, 60.0, environ)
        return LangSmithRunSink(
            (endpoint or config.langsmith_endpoint(environ)).rstrip("/"),
            api_key or config.langsmith_api_key(environ),
            project or config.langsmith_project(environ),
            workspace_id=config.langsmith_workspace_id(environ),
            compression=compression,
            timeout=timeout or 10.0,
            retry_seconds=retry if retry is not None else 60.0,
        )
    if kind == "jsonl":
        return JsonlRunSink(
            jsonl_path
            or config.env_first((config.OTEL_LLM_RUNS_JSONL_PATH,), environ)
            or "otel-llm-runs.jsonl",
            max_bytes=config.processor_int(
                config.OTEL_LLM_RUNS_JSONL_MAX_BYTES, DEFAULT_MAX_BYTES, environ
            ),
            backup_count=config.processor_int(
                config.OTEL_LLM_RUNS_JSONL_BACKUPS, DEFAULT_BACKUP_COUNT, environ
            ),
        )
    if kind == "store":
        return StoreRunSink(
            db or config.env_first((config.OTEL_LLM_DB,), environ) or config.DEFAULT_DB,
            project or config.env_first(config.LANGSMITH_PROJECT, environ),
        )
    raise ValueError(
        f"{config.OTEL_LLM_RUNS_SINK} must be one of langsmith, jsonl, store; got {kind!r}"
    )


def processor_from_env(
    sink: RunSink | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    shutdown_on_exit: bool = True,
) -> RunSpanProcessor:
    """A RunSpanProcessor configured by the OTEL_LLM_RUNS_* and LANGSMITH_* variables.

    Args:
        sink: the sink (default: `sink_from_env`).
        environ: the environment (default: os.environ).
        shutdown_on_exit: see `RunSpanProcessor`.

    Raises:
        ValueError: naming the variable, for a bad value.
    """
    env = environ
    slow = config.processor_float(config.OTEL_LLM_RUNS_SLOW_MS, None, env)
    spill_dir = config.env_first((config.OTEL_LLM_RUNS_SPILL_DIR,), env)
    spill = None
    if spill_dir:
        spill = SpillDirectory(
            spill_dir,
            config.processor_int(
                config.OTEL_LLM_RUNS_SPILL_MAX_BYTES, DEFAULT_SPILL_MAX_BYTES, env
            ),
        )
    redactor = redactor_from_env(env)
    return RunSpanProcessor(
        sink if sink is not None else sink_from_env(env),
        export_all=config.env_bool(config.env_first((config.OTEL_LLM_RUNS_EXPORT_ALL,), env)),
        sampler=TraceSampler(
            config.runs_sample_rate(env),
            keep_errors=config.env_bool(
                config.env_first((config.OTEL_LLM_RUNS_KEEP_ERRORS,), env), default=True
            ),
            slow_threshold_ms=slow,
        ),
        redaction=redactor,
        spill_dir=spill,
        max_queue_size=config.processor_int(config.OTEL_LLM_RUNS_MAX_QUEUE_SIZE, 20_000, env),
        max_batch_size=config.processor_int(config.OTEL_LLM_RUNS_MAX_BATCH_SIZE, 1_000, env),
        schedule_delay_millis=config.processor_int(
            config.OTEL_LLM_RUNS_SCHEDULE_DELAY_MS, 500, env
        ),
        shutdown_on_exit=shutdown_on_exit,
    )


def redactor_from_env(environ: Mapping[str, str] | None = None) -> Redactor:
    """The Redactor of OTEL_LLM_RUNS_REDACT, OTEL_LLM_RUNS_REDACT_KEYS and
    LANGSMITH_HIDE_INPUTS / _OUTPUTS.

    Raises:
        ValueError: naming an unknown rule.
    """
    rules = config.processor_list(config.OTEL_LLM_RUNS_REDACT, environ)
    if rules is None:
        rules = BUILTIN_RULES
    elif [r.lower() for r in rules] in (["none"], ["false"], ["0"], ["off"]):
        rules = ()
    return Redactor.from_rules(
        tuple(r.lower() for r in rules),
        config.processor_list(config.OTEL_LLM_RUNS_REDACT_KEYS, environ) or (),
        hide_inputs=config.runs_hide_inputs(environ),
        hide_outputs=config.runs_hide_outputs(environ),
    )


class RunExporter(SpanExporter):
    """Entry point `otel_llm_runs`: ended spans -> runs -> the configured sink.

    Behind the SDK's BatchSpanProcessor it never sees a span start, so a span waits for
    its local parent to end before its run is emitted (see `RunSpanProcessor`); trees
    are complete all the same.

    Args:
        processor: the processor to feed (default: `processor_from_env()`; with a bad
            value in the environment, one error line and no runs: see the module).
    """

    def __init__(self, processor: RunSpanProcessor | None = None) -> None:
        # The SDK's BatchSpanProcessor owns this exporter: at exit it flushes into it,
        # then shuts it down, so the processor must not shut itself down first.
        self.processor = (
            processor
            if processor is not None
            else _or_off(
                "otel_llm_runs",
                lambda: processor_from_env(shutdown_on_exit=False),
                "no runs are recorded",
            )
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Queues the spans for the processor's worker; FAILURE if any was dropped."""
        if self.processor is None:
            return SpanExportResult.SUCCESS  # off: said once, at start-up
        ok = True
        for span in spans:
            ok = self.processor.feed(span) and ok
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True if self.processor is None else self.processor.force_flush(timeout_millis)

    def shutdown(self) -> None:
        if self.processor is not None:
            self.processor.shutdown()


def emit_from_env(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The convention families OTEL_LLM_EMIT names (default: all)."""
    families = config.processor_list(config.OTEL_LLM_EMIT, environ)
    return DEFAULT_EMIT if families is None else frozenset(f.lower() for f in families)


def otlp_exporter_from_env(environ: Mapping[str, str] | None = None) -> SpanExporter:
    """The SDK's OTLP span exporter for the configured protocol (grpc by default, as
    the SDK's own `otlp` entry point); it reads OTEL_EXPORTER_OTLP_* itself.

    Raises:
        ValueError: for a protocol the SDK cannot export with.
    """
    protocol = (
        config.env_first(
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"), environ
        )
        or "grpc"
    ).strip()
    exporter: Any
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    elif protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HTTPSpanExporter,
        )

        exporter = HTTPSpanExporter()
    else:
        raise ValueError(
            f"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be grpc or http/protobuf for "
            f"otel_llm_otlp, got {protocol!r}"
        )
    result: SpanExporter = exporter
    return result


class ConventionOTLPExporter(ConventionSpanExporter):
    """Entry point `otel_llm_otlp`: normalised spans to the OTLP endpoint configured
    by OTEL_EXPORTER_OTLP_*; families from OTEL_LLM_EMIT."""

    def __init__(self) -> None:
        parts = _or_off(
            "otel_llm_otlp",
            lambda: (otlp_exporter_from_env(), _checked_emit()),
            "no spans are sent over OTLP by it",
        )
        super().__init__(*(parts or (_Off(), DEFAULT_EMIT)))


class ConventionConsoleExporter(ConventionSpanExporter):
    """Entry point `otel_llm_console`: normalised spans printed as JSON to stdout."""

    def __init__(self) -> None:
        emit = _or_off("otel_llm_console", _checked_emit, "no spans are printed by it")
        super().__init__(ConsoleSpanExporter() if emit else _Off(), emit or DEFAULT_EMIT)


def _checked_emit() -> frozenset[str]:
    """`emit_from_env()`, its families checked here (ValueError naming the variable)."""
    emit = emit_from_env()
    unknown = sorted(emit - DEFAULT_EMIT)
    if unknown:
        raise ValueError(
            f"{config.OTEL_LLM_EMIT} names unknown families {', '.join(unknown)}; "
            f"known: {', '.join(sorted(DEFAULT_EMIT))}"
        )
    return emit
