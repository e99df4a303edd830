"""`LangSmithRunSink`: runs to any LangSmith-compatible endpoint, as the LangSmith SDK
sends them.

- `GET /info` once, to learn the batch limits and whether to use the multipart endpoint.
- `POST /runs/multipart`: one `post.{id}` part per run (the run without its big fields),
  then `post.{id}.inputs|outputs|events|extra|error|serialized` and
  `attachment.{id}.{name}`; every part has its own Content-Type and Content-Length.
- A 404 there switches to `POST /runs/batch` (`{"post": [run, ...]}`) for good.
- gzip bodies (`Content-Encoding: gzip`); a server that answers 400/415 to a compressed
  body gets it uncompressed from then on.
- Retries on 408, 429, 5xx and connection errors, with exponential backoff and full
  jitter, honouring `Retry-After`, within a time budget per batch; 409 is success.

Only the standard library is used (http.client): the sink runs inside users'
processes, where a new HTTP stack would be one more dependency to clash with theirs.
"""

from __future__ import annotations

import email.utils
import gzip
import http.client
import logging
import random
import ssl
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import orjson

from otel_llm import config
from otel_llm.model import Run
from otel_llm.sinks.base import RunSink, SinkResult, reinit_after_fork

logger = logging.getLogger(__name__)

# The big fields the SDK sends as parts of their own, in its order.
PART_FIELDS = ("inputs", "outputs", "events", "extra", "error", "serialized")
# run_types whose `serialized` manifest the SDK keeps.
SERIALIZED_RUN_TYPES = frozenset({"llm", "prompt"})
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
DEFAULT_SIZE_LIMIT = 100  # runs per request when /info says nothing
DEFAULT_SIZE_LIMIT_BYTES = 20 * 1024 * 1024


def _version() -> str:
    try:
        return version("otel-llm")
    except PackageNotFoundError:  # running from a source tree
        return "0"


USER_AGENT = f"otel-llm/{_version()}"


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def dumps(value: Any) -> bytes:
    """JSON bytes as the sink sends them (UUIDs and datetimes as strings)."""
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS)


def _attachment_bytes(value: Any) -> tuple[str, bytes] | None:
    """(mime type, data) of an attachment that carries its bytes, else None.

    Accepts the SDK's `(mime_type, data)` pair and `{"mime_type", "data"}`; entries that
    only describe an attachment (`{"mime_type", "size"}`) have nothing to send.
    """
    if isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[1], bytes):
        return str(value[0]), value[1]
    if isinstance(value, dict) and isinstance(value.get("data"), bytes):
        return str(value.get("mime_type") or "application/octet-stream"), value["data"]
    return None


def run_payload(run: Run, project: str | None) -> dict[str, Any]:
    """The run as the SDK posts it: its JSON shape without null fields, the project
    filled in when the run names none, `serialized` only for llm and prompt runs."""
    d = run.to_dict()
    d.pop("attachments", None)
    if run.run_type not in SERIALIZED_RUN_TYPES:
        d.pop("serialized", None)
    if project and not d.get("session_name") and not d.get("session_id"):
        d["session_name"] = project
    return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True)
class Part:
    """One part of a multipart body."""

    name: str
    data: bytes
    content_type: str = "application/json"


def run_parts(run: Run, project: str | None) -> list[Part]:
    """The multipart parts of one run, in the SDK's order."""
    payload = run_payload(run, project)
    big = {k: payload.pop(k) for k in PART_FIELDS if k in payload}
    rid = payload["id"]
    parts = [Part(f"post.{rid}", dumps(payload))]
    parts.extend(Part(f"post.{rid}.{k}", dumps(big[k])) for k in PART_FIELDS if k in big)
    for name, value in run.attachments.items():
        found = _attachment_bytes(value)
        if found is None:
            continue
        if "." in name:
            logger.warning("attachment %r of run %s skipped: names cannot contain '.'", name, rid)
            continue
        parts.append(Part(f"attachment.{rid}.{name}", found[1], found[0]))
    return parts


def encode_multipart(parts: Sequence[Part], boundary: str) -> bytes:
    """A multipart/form-data body laid out byte for byte as the SDK lays it out."""
    chunks: list[bytes] = []
    for p in parts:
        chunks.append(
            (
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="{p.name}"\r\n'
                f"Content-Type: {p.content_type}\r\n"
                f"Content-Length: {len(p.data)}\r\n\r\n"
            ).encode()
        )
        chunks.append(p.data)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds to wait (delta-seconds or an HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class _Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


class _Connection:
    """One keep-alive HTTP(S) connection to the endpoint, reopened after any error."""

    def __init__(self, endpoint: str, timeout: float) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"endpoint must be an http:// or https:// URL, got {endpoint!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.base_path = parts.path.rstrip("/")
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _open(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self.https:
                self._conn = http.client.HTTPSConnection(
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> _Response:
        conn = self._open()
        try:
            conn.request(method, self.base_path + path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except BaseException:
            self.close()
            raise
        if resp.will_close:
            self.close()
        return _Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)

    def forget(self) -> None:
        """Drop the connection without closing it (it belongs to another process)."""
        self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class LangSmithRunSink(RunSink):
    """Delivers runs to a LangSmith-compatible run-ingest endpoint.

    Args:
        endpoint: base URL (default: LANGSMITH_ENDPOINT, then LANGCHAIN_ENDPOINT, then
            LangSmith's cloud endpoint).
        api_key: sent as `x-api-key` (default: LANGSMITH_API_KEY / LANGCHAIN_API_KEY).
        project: project of runs that name none (default: LANGSMITH_PROJECT, ...,
            "default").
        workspace_id: sent as `X-Tenant-Id` (default: LANGSMITH_WORKSPACE_ID).
        compression: "gzip" or "none".
        timeout: seconds per HTTP request.
        retry_seconds: the time budget for retrying one batch; when it runs out the
            batch fails (and the span processor spills it).
        max_attempts: attempts per request at most.
        backoff_initial / backoff_max: exponential backoff bounds in seconds (each wait
            is drawn uniformly from 0 to the bound: full jitter).
        headers: extra headers for every request.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        api_key: str | None = None,
        project: str | None = None,
        *,
        workspace_id: str | None = None,
        compression: str = "gzip",
        timeout: float = 10.0,
        retry_seconds: float = 60.0,
        max_attempts: int = 8,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if compression not in ("gzip", "none"):
            raise ValueError(f"compression must be 'gzip' or 'none', got {compression!r}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.endpoint = (endpoint or config.langsmith_endpoint()).rstrip("/")
        self.project = project or config.langsmith_project()
        self._conn = _Connection(self.endpoint, timeout)
        self._gzip = compression == "gzip"
        self._retry_seconds = retry_seconds
        self._max_attempts = max_attempts
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        key = api_key if api_key is not None else config.langsmith_api_key()
        if key:
            self._headers["x-api-key"] = key
        tenant = workspace_id if workspace_id is not None else config.langsmith_workspace_id()
        if tenant:
            self._headers["X-Tenant-Id"] = tenant
        self._headers.update(headers or {})
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._info: dict[str, Any] | None = None
        self._multipart = True
        self._size_limit = DEFAULT_SIZE_LIMIT
        self._size_limit_bytes = DEFAULT_SIZE_LIMIT_BYTES
        self._last_warning = 0.0
        reinit_after_fork(self._after_fork)

    def _after_fork(self) -> None:
        # The child must not share the parent's socket, nor inherit a held lock.
        self._lock = threading.Lock()
        self._conn.forget()

    # --- the RunSink interface -------------------------------------------------------

    def export(self, runs: Sequence[Run]) -> SinkResult:
        """POST the runs (split to the server's batch limits), retrying within budget.

        Args:
            runs: the batch to deliver.
        """
        if self._stop.is_set():
            return SinkResult.FAILURE
        if not runs:
            return SinkResult.SUCCESS
        with self._lock:
            self._load_info()
            ok = True
            for chunk in self._chunks(runs):
                ok = self._deliver(chunk) and ok
                if self._stop.is_set():
                    return SinkResult.FAILURE
        return SinkResult.SUCCESS if ok else SinkResult.FAILURE

    def shutdown(self) -> None:
        # Wakes a retry that is waiting out its backoff; the batch then fails fast.
        self._stop.set()
        with self._lock:
            self._conn.close()

    # --- what the server says about itself -------------------------------------------

    @property
    def info(self) -> dict[str, Any]:
        """The server's `/info` answer ({} when it has none)."""
        with self._lock:
            return dict(self._load_info())

    def _load_info(self) -> dict[str, Any]:
        if self._info is not None:
            return self._info
        self._info = {}
        try:
            resp = self._conn.request("GET", "/info", None, dict(self._headers))
            if resp.status == 200:
                body = orjson.loads(resp.body)
                if isinstance(body, dict):
                    self._info = body
        except (OSError, http.client.HTTPException, orjson.JSONDecodeError) as exc:
            logger.debug(
                "GET %s/info failed (%s); assuming the multipart endpoint", self.endpoint, exc
            )
        cfg = self._info.get("batch_ingest_config") or {}
        if isinstance(cfg, dict):
            if cfg.get("use_multipart_endpoint") is False:
                self._multipart = False
            self._size_limit = _positive(cfg.get("size_limit"), DEFAULT_SIZE_LIMIT)
            self._size_limit_bytes = _positive(
                cfg.get("size_limit_bytes"), DEFAULT_SIZE_LIMIT_BYTES
            )
        return self._info

    # --- delivery ----------------------------------------------------------------------

    def _chunks(self, runs: Sequence[Run]) -> Iterator[Sequence[Run]]:
        step = max(1, self._size_limit)
        for i in range(0, len(runs), step):
            yield runs[i : i + step]

    def _deliver(self, runs: Sequence[Run]) -> bool:
        if self._multipart:
            parts = [p for r in runs for p in run_parts(r, self.project)]
            if sum(len(p.data) for p in parts) > self._size_limit_bytes and len(runs) > 1:
                return self._split(runs)
            boundary = uuid.uuid4().hex
            body = encode_multipart(parts, boundary)
            ctype = f"multipart/form-data; boundary={boundary}"
            resp = self._post("/runs/multipart", body, ctype)
            if resp is not None and resp.status == 404:
                logger.info("%s has no /runs/multipart; using /runs/batch", self.endpoint)
                self._multipart = False
            else:
                return self._accepted(resp, runs)
        body = dumps({"post": [run_payload(r, self.project) for r in runs]})
        return self._accepted(self._post("/runs/batch", body, "application/json"), runs)

    def _split(self, runs: Sequence[Run]) -> bool:
        half = len(runs) // 2
        first = self._deliver(runs[:half])
        return self._deliver(runs[half:]) and first

    def _accepted(self, resp: _Response | None, runs: Sequence[Run]) -> bool:
        if resp is None:
            return False
        if 200 <= resp.status < 300 or resp.status == 409:  # 409: already there
            return True
        if resp.status == 413 and len(runs) > 1:
            return self._split(runs)
        self._warn(
            f"{self.endpoint} refused {len(runs)} runs: HTTP {resp.status} "
            f"{resp.body[:300].decode('utf-8', 'replace')}"
        )
        return False

    def _post(self, path: str, body: bytes, content_type: str) -> _Response | None:
        resp = self._send(path, body, content_type, compress=self._gzip)
        if resp is not None and self._gzip and resp.status in (400, 415):
            # Some servers do not take compressed bodies: try once without, and keep to
            # that if it works.
            plain = self._send(path, body, content_type, compress=False)
            if plain is not None and plain.status not in (400, 415):
                logger.info(
                    "%s does not take gzip bodies; sending them uncompressed", self.endpoint
                )
                self._gzip = False
                return plain
        return resp

    def _send(self, path: str, body: bytes, content_type: str, compress: bool) -> _Response | None:
        """POST with retries; the last response, or None when no response came."""
        headers = dict(self._headers)
        headers["Content-Type"] = content_type
        if compress:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        deadline = time.monotonic() + self._retry_seconds
        last: _Response | None = None
        for attempt in range(1, self._max_attempts + 1):
            problem: str
            try:
                last = self._conn.request("POST", path, body, headers)
            except (OSError, http.client.HTTPException) as exc:
                last, problem, wait = None, f"{type(exc).__name__}: {exc}", None
            else:
                if last.status not in RETRYABLE_STATUS:
                    return last
                problem = f"HTTP {last.status}"
                wait = retry_after_seconds(last.headers.get("retry-after"))
            if wait is None:
                bound = min(self._backoff_max, self._backoff_initial * 2 ** (attempt - 1))
                wait = random.uniform(0, bound)
            if attempt == self._max_attempts or time.monotonic() + wait > deadline:
                self._warn(f"POST {self.endpoint}{path} failed after {attempt} attempts: {problem}")
                break
            logger.debug("POST %s%s: %s; retry in %.2fs", self.endpoint, path, problem, wait)
            if self._stop.wait(wait):
                break
        return last

    def _warn(self, message: str) -> None:
        """Log delivery problems at most every 10 s: a dead endpoint must not flood logs."""
        now = time.monotonic()
        if now - self._last_warning >= 10.0:
            self._last_warning = now
            logger.warning(message)
        else:
            logger.debug(message)


def _positive(value: Any, default: int) -> int:
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
    )
