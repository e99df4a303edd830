"""Runs as the LangSmith SDK sends them: the request bodies -> what the store commits.

`/runs/multipart` (parts `post.{id}`, `patch.{id}`, their `.inputs` `.outputs` `.events`
`.extra` `.error` `.serialized` parts, `attachment.{id}.{name}`, `feedback.{id}`),
`/runs/batch` (`{"post": [...], "patch": [...]}`), `POST /runs`, `PATCH /runs/{id}` and
`POST /feedback` all become one `StoreChanges`: posted runs as store rows (their OTel ids
follow the SDK's rule: trace id = the root run's UUID, so SDK runs and OTLP spans of one
trace meet in one tree), patches, feedback, attachments.

Like `prepare.py` for OTLP, these are plain functions of picklable values, run in the
decode workers. A malformed part is a problem of its own: the request's valid runs are
still stored, and the answer is a 4xx naming each bad part.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
import zstandard

from otel_llm.model import Run, iso_to_ns
from otel_llm.server.body import decompress
from otel_llm.server.multipart import MultipartError, Part, boundary_of, parse_parts
from otel_llm.server.status import Failure, RequestError
from otel_llm.store.base import Attachment, RowBuilder, StoreChanges, UnstorableRun

RUN_FIELDS = ("inputs", "outputs", "events", "extra", "error", "serialized")
CONTENT_ENCODINGS = ("", "identity", "gzip", "deflate", "zstd")
_PROBLEMS_SHOWN = 5


@dataclass(frozen=True)
class IngestLimits:
    """Sizes a run-ingest request may have.

    Args:
        max_body_bytes: the body, on the wire and after decompression.
        max_attachment_bytes: one attachment; beyond it the attachment is refused (413).
    """

    max_body_bytes: int
    max_attachment_bytes: int


@dataclass
class PreparedRuns:
    """What one run-ingest request became."""

    store_changes: StoreChanges = field(default_factory=StoreChanges)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (HTTP status, why)
    decoded_bytes: int = 0

    def changes(self) -> StoreChanges:
        return self.store_changes

    def problem(self, status: int, message: str) -> None:
        self.problems.append((status, message))

    @property
    def status(self) -> int:
        """The answer: 200, or the most severe problem's status (413 over 422 over 400)."""
        if not self.problems:
            return 200
        statuses = {s for s, _ in self.problems}
        return 413 if 413 in statuses else max(statuses)

    def message(self) -> str:
        shown = "; ".join(m for _, m in self.problems[:_PROBLEMS_SHOWN])
        more = len(self.problems) - _PROBLEMS_SHOWN
        stored = self.store_changes
        kept = (
            f" (stored the rest: {len(stored.rows)} runs, {len(stored.patches)} patches, "
            f"{len(stored.feedback)} feedback, {len(stored.attachments)} attachments)"
        )
        return shown + (f"; and {more} more" if more > 0 else "") + kept


# --- bodies ------------------------------------------------------------------------------


def prepare_multipart(
    body: bytes, content_type: str, encoding: str, limits: IngestLimits, build: RowBuilder
) -> PreparedRuns:
    """A `/runs/multipart` body (any part order; posts before patches of the same run)."""
    data = _decoded(body, encoding, limits)
    try:
        parts = parse_parts(data, boundary_of(content_type))
    except MultipartError as exc:
        raise RequestError(Failure.MALFORMED, str(exc)) from None
    prepared = PreparedRuns(decoded_bytes=len(data))
    ops: dict[tuple[str, str], dict[str, Any]] = {}  # (post|patch, id) -> run
    fields: dict[tuple[str, str], dict[str, Any]] = {}
    for part in parts:
        _read_part(part, ops, fields, prepared, limits)
    for key, extra in fields.items():
        if key not in ops:
            prepared.problem(422, f"parts {key[0]}.{key[1]}.* came without {key[0]}.{key[1]}")
            continue
        ops[key].update(extra)
    _add_runs(
        [run for (op, _), run in ops.items() if op == "post"],
        [run for (op, _), run in ops.items() if op == "patch"],
        prepared,
        build,
    )
    return prepared


def prepare_json(
    body: bytes,
    encoding: str,
    route: str,
    limits: IngestLimits,
    build: RowBuilder,
    path_run_id: str | None = None,
) -> PreparedRuns:
    """A JSON body of `/runs/batch`, `POST /runs`, `PATCH /runs/{id}` or `POST /feedback`."""
    data = _decoded(body, encoding, limits)
    prepared = PreparedRuns(decoded_bytes=len(data))
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RequestError(Failure.MALFORMED, f"body is not JSON: {exc}") from None
    if route == "batch":
        if not isinstance(doc, dict):
            raise RequestError(Failure.MALFORMED, 'body must be {"post": [...], "patch": [...]}')
        posts, patches = (_objects(doc.get(k), k, prepared) for k in ("post", "patch"))
        _add_runs(posts, patches, prepared, build)
    elif route == "feedback":
        if not isinstance(doc, dict):
            raise RequestError(Failure.MALFORMED, "feedback must be a JSON object")
        _add_feedback(doc, "body", prepared)
    else:
        if not isinstance(doc, dict):
            raise RequestError(Failure.MALFORMED, "a run must be a JSON object")
        if path_run_id is not None:
            doc = {**doc, "id": path_run_id}
        _add_runs(
            [doc] if route == "post" else [], [doc] if route == "patch" else [], prepared, build
        )
    if prepared.problems and not prepared.store_changes.size:
        status, message = prepared.problems[0]
        raise RequestError(Failure.MALFORMED if status != 413 else Failure.TOO_LARGE, message)
    return prepared


def _decoded(body: bytes, encoding: str, limits: IngestLimits) -> bytes:
    encoding = encoding.strip().lower()
    if encoding not in CONTENT_ENCODINGS:
        raise RequestError(
            Failure.UNSUPPORTED_MEDIA,
            f"Content-Encoding {encoding!r} is not supported; use gzip or zstd",
        )
    if encoding != "zstd":
        return decompress(body, "" if encoding == "identity" else encoding, limits.max_body_bytes)
    try:
        with zstandard.ZstdDecompressor().stream_reader(body) as reader:
            data = reader.read(limits.max_body_bytes + 1)
    except zstandard.ZstdError as exc:
        raise RequestError(Failure.MALFORMED, f"body is not valid zstd: {exc}") from None
    if len(data) > limits.max_body_bytes:
        raise RequestError(
            Failure.TOO_LARGE,
            f"body is larger than {limits.max_body_bytes} bytes once decompressed",
        )
    return data


# --- parts -------------------------------------------------------------------------------


def _read_part(
    part: Part,
    ops: dict[tuple[str, str], dict[str, Any]],
    fields: dict[tuple[str, str], dict[str, Any]],
    prepared: PreparedRuns,
    limits: IngestLimits,
) -> None:
    kind, _, rest = part.name.partition(".")
    if kind == "attachment":
        _add_attachment(part, rest, prepared, limits)
        return
    if kind == "feedback":
        doc = _json_part(part, prepared)
        if isinstance(doc, dict):
            _add_feedback({"id": rest, **doc}, part.name, prepared)
        elif doc is not None:
            prepared.problem(422, f"part {part.name}: feedback must be a JSON object")
        return
    if kind not in ("post", "patch"):
        prepared.problem(
            422,
            f"part {part.name}: unknown part name; expected post.<id>, "
            "patch.<id>, attachment.<id>.<name> or feedback.<id>",
        )
        return
    raw_id, _, sub = rest.partition(".")
    run_id = canonical_id(raw_id)
    if run_id is None:
        prepared.problem(422, f"part {part.name}: {raw_id!r} is not a UUID")
        return
    if sub and sub not in RUN_FIELDS:
        prepared.problem(
            422,
            f"part {part.name}: unknown run field {sub!r}; expected one of {', '.join(RUN_FIELDS)}",
        )
        return
    doc = _json_part(part, prepared)
    if doc is None:
        return
    key = (kind, run_id)
    if sub:
        fields.setdefault(key, {})[sub] = doc
    elif not isinstance(doc, dict):
        prepared.problem(422, f"part {part.name}: a run must be a JSON object")
    else:
        ops[key] = {**doc, "id": key[1]}


def _json_part(part: Part, prepared: PreparedRuns) -> Any:
    try:
        return orjson.loads(part.data)
    except orjson.JSONDecodeError as exc:
        prepared.problem(400, f"part {part.name}: not JSON: {exc}")
        return None


def _add_attachment(part: Part, rest: str, prepared: PreparedRuns, limits: IngestLimits) -> None:
    run_id, _, name = rest.partition(".")
    if _uuid(run_id) is None or not name or "." in name:
        prepared.problem(
            422,
            f"part attachment.{rest}: expected attachment.<run UUID>.<name> (a name without '.')",
        )
        return
    if len(part.data) > limits.max_attachment_bytes:
        prepared.problem(
            413,
            f"part attachment.{rest}: {len(part.data)} bytes, over the "
            f"{limits.max_attachment_bytes}-byte limit for one attachment",
        )
        return
    mime = part.content_type.split(";")[0].strip() or "application/octet-stream"
    prepared.store_changes.attachments.append(
        Attachment(str(uuid.UUID(run_id)), name, mime, part.data)
    )


def _add_feedback(doc: dict[str, Any], where: str, prepared: PreparedRuns) -> None:
    feedback_id = _uuid(doc.get("id")) if doc.get("id") is not None else uuid.uuid4()
    key = doc.get("key")
    score = doc.get("score")
    problem = (
        "id is not a UUID"
        if feedback_id is None
        else "key must be a non-empty string"
        if not isinstance(key, str) or not key
        else "score must be a number, a boolean or null"
        if score is not None and not isinstance(score, (int, float))
        else next(
            (
                f"{f} is not a UUID"
                for f in ("run_id", "trace_id", "session_id")
                if doc.get(f) is not None and _uuid(doc.get(f)) is None
            ),
            None,
        )
    )
    if problem is not None:
        prepared.problem(422, f"feedback ({where}): {problem}")
        return
    prepared.store_changes.feedback.append(
        {**doc, "id": str(feedback_id), "score": float(score) if score is not None else None}
    )


# --- runs --------------------------------------------------------------------------------


def _add_runs(
    posts: list[dict[str, Any]],
    patches: list[dict[str, Any]],
    prepared: PreparedRuns,
    build: RowBuilder,
) -> None:
    runs: list[Run] = []
    for doc in posts:
        try:
            run = Run.from_dict(doc)
            _check_tree(doc)
        except (ValueError, TypeError) as exc:
            prepared.problem(422, f"post {doc.get('id')!r}: {exc}")
            continue
        runs.append(run)
    rows = prepared.store_changes.rows
    for run in runs:
        try:
            rows += build([run], None)
        except UnstorableRun as exc:
            prepared.problem(422, f"post {run.id}: {exc.reason}")
    for doc in patches:
        problem = _patch_problem(doc)
        if problem is None:
            prepared.store_changes.patches.append({**doc, "id": str(uuid.UUID(str(doc["id"])))})
        else:
            prepared.problem(422, f"patch {doc.get('id')!r}: {problem}")


def _check_tree(doc: dict[str, Any]) -> None:
    """A dotted order must agree with the run's id, trace id and parent."""
    dotted = doc.get("dotted_order")
    if not dotted:
        return
    segments = str(dotted).split(".")
    for seg in segments:
        if len(seg) < 37 or seg[-37] != "Z" or canonical_id(seg[-36:]) is None:
            raise ValueError(f"bad dotted_order segment {seg!r}")
    implied = {
        "id": segments[-1][-36:].lower(),
        "trace_id": segments[0][-36:].lower(),
        "parent_run_id": segments[-2][-36:].lower() if len(segments) > 1 else None,
    }
    for name, value in implied.items():
        stated = doc.get(name)
        if name == "parent_run_id" and stated is None and value is not None:
            raise ValueError(f"dotted_order names parent {value}, the run none")
        if stated is not None and canonical_id(stated) != value:
            raise ValueError(f"dotted_order says {name} {value}, the run says {stated}")


def _patch_problem(doc: dict[str, Any]) -> str | None:
    if _uuid(doc.get("id")) is None:
        return f"id {doc.get('id')!r} is not a UUID"
    for name in ("start_time", "end_time"):
        value = doc.get(name)
        if value is not None:
            try:
                iso_to_ns(value)
            except (TypeError, ValueError):
                return f"{name} {value!r} is not an ISO 8601 time"
    return None


def _objects(value: Any, name: str, prepared: PreparedRuns) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        prepared.problem(422, f"{name} must be a list of runs")
        return []
    good = [v for v in value if isinstance(v, dict)]
    if len(good) != len(value):
        prepared.problem(422, f"{name}: {len(value) - len(good)} items are not JSON objects")
    return good


def canonical_id(value: Any) -> str | None:
    """A UUID's canonical text (lowercase, dashed), or None when it is not one."""
    return _canonical(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=4096)  # a request names each run several times
def _canonical(text: str) -> str | None:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None
