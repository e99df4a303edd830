"""Forward destinations: the URL syntax, and one client per protocol.

    http(s)://host:4318/v1/traces     OTLP/HTTP protobuf, to the path as given
    grpc://host:4317, grpcs://host    OTLP/gRPC (TLS with grpcs)
    langsmith+http(s)://host[/path]   a LangSmith-compatible run-ingest endpoint

Options are query parameters (taken off the URL before it is used):

    emit=gen_ai,openinference         OTLP: convention families written (default all)
    header.NAME=VALUE                 any destination: a header sent with every request
    api_key=KEY, project=NAME         LangSmith: x-api-key, project of runs that name none
    workspace_id=ID                   LangSmith: X-Tenant-Id
    timeout=SECONDS                   per request (default 10)
    compression=gzip|none             request bodies (default: none for OTLP, gzip for
                                      LangSmith)

A destination renders runs into what it sends (`render`, CPU work the forwarder may run
in a worker process; the result must pickle) and sends one rendered batch (`send`,
exactly one attempt: the forwarder owns retries, backoff and the outbox).
"""

from __future__ import annotations

import gzip
import http.client
import logging
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import grpc

from otel_llm.convert import DEFAULT_EMIT, runs_to_spans
from otel_llm.model import Run
from otel_llm.otlp import encode_otlp_protobuf
from otel_llm.server.projects import PROJECT_RESOURCE_KEYS
from otel_llm.sinks.base import RunSink, SinkResult
from otel_llm.sinks.langsmith import USER_AGENT, LangSmithRunSink, retry_after_seconds

logger = logging.getLogger(__name__)

OTLP_HTTP, OTLP_GRPC, LANGSMITH = "otlp-http", "otlp-grpc", "langsmith"
_SCHEMES = {
    "http": OTLP_HTTP,
    "https": OTLP_HTTP,
    "grpc": OTLP_GRPC,
    "grpcs": OTLP_GRPC,
    "langsmith+http": LANGSMITH,
    "langsmith+https": LANGSMITH,
}
_OPTIONS = {"emit", "api_key", "project", "workspace_id", "timeout", "compression"}
# Refusals of the data itself: retrying cannot help, so the batch is spilled. Every other
# failure (connection errors, 429/503, but also 401/403/404 and 5xx: a wrong key or path
# is fixed by a restart, and the runs must still be there then) is retried with backoff.
_REFUSED_HTTP = frozenset({400, 413})
_REFUSED_GRPC = frozenset({grpc.StatusCode.INVALID_ARGUMENT})
_EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_RETRY_INFO_TRAILER = "google.rpc.retryinfo-bin"
# Splits a list of URLs at commas or white space that come before a scheme, so commas
# inside a URL (`emit=gen_ai,openinference`) stay where they are.
_URL_LIST_SPLIT = re.compile(r"[\s,]+(?=[A-Za-z][A-Za-z0-9+.-]*://)")


def split_urls(values: Sequence[str]) -> list[str]:
    """Destination URLs from flag values or `OTEL_LLM_FORWARD` (comma/space lists)."""
    return [u for v in values for u in _URL_LIST_SPLIT.split(v.strip().strip(",")) if u]


@dataclass(frozen=True)
class DestinationSpec:
    """A parsed destination URL. `name` (the URL without its options, which may hold
    secrets) labels it in logs, `/status`, the outbox and the spill directory."""

    name: str
    kind: str
    target: str  # what the client connects to: an URL, or host:port for gRPC
    tls: bool = False
    emit: frozenset[str] = DEFAULT_EMIT
    headers: dict[str, str] = field(default_factory=dict)
    api_key: str | None = None
    project: str | None = None
    workspace_id: str | None = None
    timeout: float = 10.0
    gzip: bool = False


def parse_destination(url: str) -> DestinationSpec:
    """Parse one `--forward` URL.

    Raises:
        ValueError: saying what is wrong and what is accepted.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    kind = _SCHEMES.get(scheme)
    if kind is None or not parts.hostname:
        raise ValueError(
            f"forward URL {_without_secrets(url)!r}: use http(s)://host:4318/v1/traces "
            "(OTLP/HTTP), grpc(s)://host:4317 (OTLP/gRPC) or langsmith+http(s)://host"
        )
    headers: dict[str, str] = {}
    options: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.startswith("header."):
            headers[key[len("header.") :]] = value
        elif key in _OPTIONS:
            options[key] = value
        else:
            raise ValueError(
                f"forward URL {parts.hostname}: unknown option {key!r}; known: "
                f"header.NAME, {', '.join(sorted(_OPTIONS))}"
            )
    tls = scheme in ("https", "grpcs", "langsmith+https")
    port = parts.port
    if kind == OTLP_GRPC:
        target = f"{parts.hostname}:{port or (443 if tls else 4317)}"
        name = f"{scheme}://{target}"
    else:
        http_scheme = "https" if tls else "http"
        target = urlunsplit((http_scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
        name = urlunsplit((scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
    emit = DEFAULT_EMIT
    if "emit" in options:
        emit = frozenset(f.strip() for f in options["emit"].split(",") if f.strip())
        unknown = emit - DEFAULT_EMIT
        if unknown or not emit:
            raise ValueError(
                f"forward URL {name}: emit must name some of "
                f"{', '.join(sorted(DEFAULT_EMIT))}, got {options['emit']!r}"
            )
    try:
        timeout = float(options.get("timeout", 10.0))
    except ValueError:
        raise ValueError(f"forward URL {name}: timeout must be seconds") from None
    # OTLP: none by default, as the OTel SDK exporters (gzip of ~2.5 MB per 1,000 spans
    # costs more CPU than a local or LAN link saves); LangSmith: gzip, as its SDK.
    compression = options.get("compression", "gzip" if kind == LANGSMITH else "none")
    if compression not in ("gzip", "none") or timeout <= 0:
        raise ValueError(f"forward URL {name}: compression is gzip or none; timeout > 0")
    if kind != LANGSMITH and {"api_key", "project", "workspace_id"} & options.keys():
        raise ValueError(
            f"forward URL {name}: api_key, project and workspace_id are for "
            "langsmith+http(s) destinations; OTLP ones take header.NAME=VALUE"
        )
    if parts.username:  # user:password@ is basic auth for OTLP/HTTP collectors
        headers.setdefault("Authorization", _basic(parts.username, parts.password or ""))
    return DestinationSpec(
        name=name,
        kind=kind,
        target=target,
        tls=tls,
        emit=emit,
        headers=headers,
        api_key=options.get("api_key"),
        project=options.get("project"),
        workspace_id=options.get("workspace_id"),
        timeout=timeout,
        gzip=compression == "gzip",
    )


def _basic(user: str, password: str) -> str:
    import base64

    raw = f"{unquote(user)}:{unquote(password)}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _without_secrets(url: str) -> str:
    return url.split("?", 1)[0].rpartition("@")[2]


@dataclass(frozen=True)
class Outcome:
    """One send attempt: delivered, or why not and whether trying again can help."""

    ok: bool
    retryable: bool = False
    retry_after: float | None = None  # what the destination asked for, in seconds
    problem: str = ""


# --- rendering (may run in a worker process) -------------------------------------------


def render(spec: DestinationSpec, runs: Sequence[Run]) -> Any:
    """What `spec`'s client sends for `runs`: OTLP protobuf bytes, or the runs."""
    if spec.kind == LANGSMITH:
        return list(runs)
    spans = runs_to_spans(runs, spec.emit)
    for run, span in zip(runs, spans, strict=True):
        if run.session_name:  # the project it is stored in, which any header had decided
            span.resource = {**span.resource, PROJECT_RESOURCE_KEYS[0]: run.session_name}
        if run.otel_incomplete:
            # Ancestors not stored yet: these would name a provisional trace; backends
            # that trust them (LangSmith's OTLP endpoint) would misplace the span.
            span.attributes.pop("langsmith.trace.id", None)
            span.attributes.pop("langsmith.span.dotted_order", None)
    return encode_otlp_protobuf(spans)


# --- clients ------------------------------------------------------------------------------


class Destination:
    """A client for one destination; `send` makes exactly one attempt."""

    def __init__(self, spec: DestinationSpec) -> None:
        self.spec = spec

    def send(self, payload: Any, count: int) -> Outcome:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; idempotent."""


class OtlpHttpDestination(Destination):
    """OTLP/HTTP protobuf over one keep-alive connection (reopened after errors)."""

    def __init__(self, spec: DestinationSpec) -> None:
        super().__init__(spec)
        parts = urlsplit(spec.target)
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if spec.tls else 80)
        self._path = parts.path or "/v1/traces"
        self._conn: http.client.HTTPConnection | None = None

    def send(self, payload: Any, count: int) -> Outcome:
        body: bytes = payload
        headers = {
            "Content-Type": "application/x-protobuf",
            "User-Agent": USER_AGENT,
            **self.spec.headers,
        }
        if self.spec.gzip:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        try:
            conn = self._open()
            conn.request("POST", self._path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            if resp.will_close:
                self.close()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Outcome(False, True, None, f"{type(exc).__name__}: {exc}")
        if 200 <= resp.status < 300:
            return Outcome(True)
        return Outcome(
            False,
            resp.status not in _REFUSED_HTTP,
            retry_after_seconds(resp.getheader("retry-after")),
            f"HTTP {resp.status} {data[:200].decode('utf-8', 'replace')}",
        )

    def _open(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self.spec.tls:
                self._conn = http.client.HTTPSConnection(
                    self._host,
                    self._port,
                    timeout=self.spec.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                self._conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=self.spec.timeout
                )
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class OtlpGrpcDestination(Destination):
    """OTLP/gRPC `TraceService/Export` with the request bytes as rendered."""

    def __init__(self, spec: DestinationSpec) -> None:
        super().__init__(spec)
        options = [("grpc.max_send_message_length", 256 * 1024 * 1024)]
        if spec.tls:
            self._channel = grpc.secure_channel(
                spec.target, grpc.ssl_channel_credentials(), options=options
            )
        else:
            self._channel = grpc.insecure_channel(spec.target, options=options)
        self._export = self._channel.unary_unary(
            _EXPORT_METHOD, request_serializer=None, response_deserializer=None
        )
        self._metadata = [(k.lower(), v) for k, v in spec.headers.items()]
        self._compression = grpc.Compression.Gzip if spec.gzip else None

    def send(self, payload: Any, count: int) -> Outcome:
        try:
            self._export(
                payload,
                metadata=self._metadata,
                timeout=self.spec.timeout,
                compression=self._compression,
            )
        except grpc.RpcError as exc:
            code, delay = exc.code(), _retry_delay(exc)
            # RESOURCE_EXHAUSTED without RetryInfo means too large (OTLP): a refusal.
            refused = code in _REFUSED_GRPC or (
                code == grpc.StatusCode.RESOURCE_EXHAUSTED and delay is None
            )
            return Outcome(
                False,
                not refused,
                delay,
                f"gRPC {code.name}: {exc.details()}",
            )
        return Outcome(True)

    def close(self) -> None:
        self._channel.close()


def _retry_delay(exc: grpc.RpcError) -> float | None:
    """The server's RetryInfo delay in seconds, if it sent one."""
    from google.rpc import error_details_pb2  # type: ignore[import-untyped]

    for key, value in exc.trailing_metadata() or ():
        if key == _RETRY_INFO_TRAILER:
            info = error_details_pb2.RetryInfo.FromString(value)
            delay: float = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
            return delay
    return None


class LangSmithDestination(Destination):
    """The project's `LangSmithRunSink`, one attempt per send (it honours the server's
    batch limits, multipart or batch endpoint, gzip fallback, 409 as success)."""

    def __init__(self, spec: DestinationSpec) -> None:
        super().__init__(spec)
        self.sink = LangSmithRunSink(
            spec.target,
            api_key=spec.api_key or "",
            project=spec.project,
            workspace_id=spec.workspace_id or "",
            compression="gzip" if spec.gzip else "none",
            # The sink retries a few times itself, honouring Retry-After (which it does
            # not report back); the forwarder backs off after that.
            timeout=spec.timeout,
            max_attempts=4,
            retry_seconds=30.0,
            headers=spec.headers,
        )

    def send(self, payload: Any, count: int) -> Outcome:
        if self.sink.export(payload) is SinkResult.SUCCESS:
            return Outcome(True)
        # The sink logs what the endpoint said; a refusal of the data (4xx) cannot be
        # told from a passing fault here, so every failure is retried, then spilled.
        return Outcome(False, True, None, "the endpoint did not take the batch (see log)")

    def close(self) -> None:
        self.sink.shutdown()


def open_destination(spec: DestinationSpec) -> Destination:
    if spec.kind == OTLP_HTTP:
        return OtlpHttpDestination(spec)
    if spec.kind == OTLP_GRPC:
        return OtlpGrpcDestination(spec)
    return LangSmithDestination(spec)


class DestinationSink(RunSink):
    """A destination as a `RunSink` (for `otel-llm replay --to URL`), retrying a few
    times with backoff before it answers FAILURE."""

    def __init__(self, url: str, attempts: int = 5) -> None:
        self.spec = parse_destination(url)
        self.destination = open_destination(self.spec)
        self.attempts = attempts

    def export(self, runs: Sequence[Run]) -> SinkResult:
        import random
        import time

        payload = render(self.spec, runs)
        for attempt in range(self.attempts):
            outcome = self.destination.send(payload, len(runs))
            if outcome.ok:
                return SinkResult.SUCCESS
            logger.warning("%s: %s", self.spec.name, outcome.problem)
            if not outcome.retryable or attempt == self.attempts - 1:
                break
            time.sleep(outcome.retry_after or random.uniform(0, 0.5 * 2**attempt))
        return SinkResult.FAILURE

    def shutdown(self) -> None:
        self.destination.close()
