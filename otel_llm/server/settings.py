"""What `otel-llm serve` is told: one frozen value, validated once, passed to every part."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"
DEFAULT_GRPC_PORT = 4317
DEFAULT_HTTP_PORT = 4318
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024  # OTLP's recommended limit
DEFAULT_MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
# Requests admitted but not yet committed. Each 1,000-span request holds ~5 MB between
# arrival and commit (body, decoded runs); 8 keep the writer busy with room to spare.
DEFAULT_QUEUE_SIZE = 8
DEFAULT_MAX_INFLIGHT_BYTES = 64 * 1024 * 1024
DEFAULT_RETENTION_CHECK_SECONDS = 3600.0
# The decode workers keep every core busy: the store checkpoints on this interval
# rather than after every commit (see SQLiteStore checkpoint_interval).
SERVER_CHECKPOINT_INTERVAL = 0.25
LOG_LEVELS = ("debug", "info", "warning", "error")
DEFAULT_FORWARD_WAIT_SECONDS = 300.0  # runs that never end are forwarded after this
DEFAULT_FORWARD_MAX_BYTES = 1024**3  # outbox bound per destination (stored run bytes)
DEFAULT_FORWARD_BATCH_SIZE = 1000


@dataclass(frozen=True)
class ServerSettings:
    """Everything the servers need to know besides their collaborators.

    Args:
        host: interface both servers bind; 127.0.0.1 unless told otherwise.
        grpc_port: OTLP/gRPC port; 0 picks a free one, None disables gRPC.
        http_port: the HTTP port (OTLP/HTTP, read API); 0 picks a free one.
        api_key: when set, every request must carry it (`x-api-key` or a Bearer token).
        max_body_bytes: largest request, checked on the wire and after decompression.
        queue_size: requests admitted but not yet committed; more get 503 / UNAVAILABLE.
        max_inflight_bytes: body bytes admitted but not yet committed, all requests.
        workers: decode+convert worker processes; 0 runs that work on a thread of the
            server process (fine for tests and one-core machines).
        retention_seconds: traces older than this are deleted on a schedule (None: keep).
        retention_check_seconds: how often retention is applied.
        retry_after_seconds: what a client told to back off should wait.
        max_attachment_bytes: largest run attachment (run ingest); larger ones get 413.
        forward: destination URLs every stored run is forwarded to (`otel_llm.forward`).
        forward_wait_seconds: a run that has not ended is forwarded after this.
        forward_max_bytes: outbox bound per destination; the oldest runs beyond it go to
            the spill directory.
        forward_spill_dir: where those go (None: `<db>.forward-spill` next to the store).
        forward_batch_size: runs per forwarded request.
        log_join_wait_seconds: an OTLP log record whose span has not arrived after this
            counts as unjoined (it is kept, and still joins a span that comes later).
    """

    host: str = DEFAULT_HOST
    grpc_port: int | None = DEFAULT_GRPC_PORT
    http_port: int = DEFAULT_HTTP_PORT
    api_key: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    queue_size: int = DEFAULT_QUEUE_SIZE
    max_inflight_bytes: int = DEFAULT_MAX_INFLIGHT_BYTES
    workers: int = 0
    retention_seconds: float | None = None
    retention_check_seconds: float = DEFAULT_RETENTION_CHECK_SECONDS
    retry_after_seconds: int = 1
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
    forward: tuple[str, ...] = ()
    forward_wait_seconds: float = DEFAULT_FORWARD_WAIT_SECONDS
    forward_max_bytes: int = DEFAULT_FORWARD_MAX_BYTES
    forward_spill_dir: str | None = None
    forward_batch_size: int = DEFAULT_FORWARD_BATCH_SIZE
    log_join_wait_seconds: float = 600.0

    def __post_init__(self) -> None:
        problems = [
            message
            for failed, message in (
                (
                    self.grpc_port is not None and not 0 <= self.grpc_port <= 65535,
                    f"grpc_port {self.grpc_port} out of range",
                ),
                (not 0 <= self.http_port <= 65535, f"http_port {self.http_port} out of range"),
                (self.max_body_bytes < 1024, "max_body_bytes must be at least 1024"),
                (self.queue_size < 1, "queue_size must be at least 1"),
                (self.max_inflight_bytes < 1, "max_inflight_bytes must be positive"),
                (self.workers < 0, "workers must be 0 or more"),
                (
                    self.retention_seconds is not None and self.retention_seconds <= 0,
                    "retention must be positive",
                ),
                (self.retention_check_seconds <= 0, "retention_check_seconds must be positive"),
                (self.retry_after_seconds < 1, "retry_after_seconds must be at least 1"),
                (self.max_attachment_bytes < 1, "max_attachment_bytes must be positive"),
                (self.api_key == "", "api_key must not be empty (leave it unset instead)"),
                (self.forward_wait_seconds < 0, "forward_wait_seconds must be 0 or more"),
                (self.forward_max_bytes < 1, "forward_max_bytes must be positive"),
                (self.forward_batch_size < 1, "forward_batch_size must be at least 1"),
            )
            if failed
        ]
        if self.forward:
            from otel_llm.forward.destinations import parse_destination

            names = []
            for url in self.forward:
                try:
                    names.append(parse_destination(url).name)
                except ValueError as exc:
                    problems.append(str(exc))
            if len(set(names)) < len(names):
                problems.append("a forward destination is given twice")
        if problems:
            raise ValueError("; ".join(problems))
