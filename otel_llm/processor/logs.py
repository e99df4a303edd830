"""`RunLogProcessor`: the logs companion of `RunSpanProcessor`.

Instrumentations in event mode (opentelemetry-instrumentation-openai-v2 by default) put
prompts and completions in log records of the SDK's logs pipeline, not on the span. Add
this processor to the application's `LoggerProvider` next to the span processor:

    runs = RunSpanProcessor(sink=...)
    tracer_provider.add_span_processor(runs)
    logger_provider.add_log_record_processor(RunLogProcessor(runs))

It hands each GenAI event record that carries a span context to the span processor (O(1),
on the application's thread: the record joins the same queue as the spans, so the order
in which they happened is kept). When that span ends, its records become span events
before it is converted, exactly as if the instrumentation had put them on the span.
Records that arrive after their span ended (or that wait for a span that never ends,
beyond `max_spans`) are counted in `late`, not joined.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord

from otel_llm.model import SpanRecord
from otel_llm.otlp.common import utf8_deep
from otel_llm.otlp.logs import EVENT_NAME_ATTRIBUTE, LogRecord, apply_to_span

if TYPE_CHECKING:
    from otel_llm.processor import RunSpanProcessor

DEFAULT_MAX_SPANS = 10_000


def log_record_from_sdk(data: ReadWriteLogRecord) -> LogRecord:
    """The SDK's log record as a `LogRecord`."""
    api = data.log_record
    attributes = dict(api.attributes or {})
    event_name = getattr(api, "event_name", None) or ""
    named = attributes.pop(EVENT_NAME_ATTRIBUTE, None)
    if not event_name and isinstance(named, str):
        event_name = named
    scope = data.instrumentation_scope
    resource = data.resource.attributes if data.resource is not None else {}
    return LogRecord(
        time_unix_nano=api.timestamp or api.observed_timestamp or 0,
        trace_id=(api.trace_id or 0).to_bytes(16, "big"),
        span_id=(api.span_id or 0).to_bytes(8, "big"),
        event_name=event_name,
        attributes=utf8_deep(attributes),
        body=utf8_deep(_plain(api.body)),
        resource=dict(resource),
        scope_name=scope.name if scope is not None else "",
        scope_version=(scope.version or "") if scope is not None else "",
        severity_text=api.severity_text or "",
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class LogEventStash:
    """GenAI records waiting for their span to end (converter thread only)."""

    def __init__(self, max_spans: int = DEFAULT_MAX_SPANS) -> None:
        self._waiting: collections.OrderedDict[tuple[bytes, bytes], list[LogRecord]] = (
            collections.OrderedDict()
        )
        self._max_spans = max_spans
        self._ended: collections.OrderedDict[tuple[bytes, bytes], None] = collections.OrderedDict()
        self.joined = 0
        self.late = 0

    def add(self, record: LogRecord) -> None:
        key = (record.trace_id, record.span_id)
        if key in self._ended:
            self.late += 1  # its run has been converted already
            return
        self._waiting.setdefault(key, []).append(record)
        while len(self._waiting) > self._max_spans:
            _, dropped = self._waiting.popitem(last=False)
            self.late += len(dropped)

    def attach(self, span: SpanRecord) -> None:
        """Append the span's waiting records as span events."""
        key = (span.trace_id, span.span_id)
        self._ended[key] = None
        if len(self._ended) > self._max_spans:
            self._ended.popitem(last=False)
        records = self._waiting.pop(key, None)
        if not records:
            return
        apply_to_span(span, records)
        self.joined += len(records)


class RunLogProcessor(LogRecordProcessor):
    """An SDK `LogRecordProcessor` that joins GenAI event records to the runs of a
    `RunSpanProcessor` (see the module docstring).

    Args:
        runs: the span processor whose runs the records join.
    """

    def __init__(self, runs: RunSpanProcessor) -> None:
        self._runs = runs

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        api = log_record.log_record
        if not api.trace_id or not api.span_id:
            return
        try:
            record = log_record_from_sdk(log_record)
        except Exception:  # never raise into the application
            return
        if record.is_gen_ai():
            self._runs.feed_log_record(record)

    def emit(self, log_record: ReadWriteLogRecord) -> None:
        self.on_emit(log_record)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
