"""Feedback on runs and files attached to runs: the two side tables of the run store.

Feedback is stored in LangSmith's shape (key, score, value, comment, correction, source)
and read back as its `Feedback` model; a run's `feedback_stats` summarise it per key.
Attachments keep their bytes; the read API serves them at a URL the SDK downloads.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from otel_llm.model import iso_to_ns, ns_to_iso
from otel_llm.store.base import Attachment
from otel_llm.store.sqlite.schema import chunks, placeholders

_COLUMNS = (
    "id",
    "run_id",
    "trace_id",
    "key",
    "score",
    "value",
    "comment",
    "correction",
    "feedback_source",
    "extra",
    "created_time",
    "modified_time",
)
_JSON = ("value", "correction", "feedback_source", "extra")


def feedback_row(item: dict[str, Any]) -> tuple[Any, ...]:
    """One feedback (LangSmith's create shape, already validated) as a row."""
    now = time.time_ns()
    created = _time(item.get("created_at"), now)
    return (
        str(item["id"]),
        _text(item.get("run_id")),
        _text(item.get("trace_id")),
        item["key"],
        item.get("score"),
        _json(item.get("value")),
        item.get("comment"),
        _json(item.get("correction")),
        _json(item.get("feedback_source")),
        _json(item.get("extra")),
        created,
        _time(item.get("modified_at"), created),
    )


def insert_feedback(conn: sqlite3.Connection, items: Sequence[dict[str, Any]]) -> None:
    """Upsert by id: a feedback sent again (a retry, or an update) replaces the first."""
    conn.executemany(
        f"INSERT INTO feedback ({', '.join(_COLUMNS)}) VALUES ({placeholders(_COLUMNS)}) "
        "ON CONFLICT (id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in ("id", "created_time")),
        [feedback_row(item) for item in items],
    )


def list_feedback(
    conn: sqlite3.Connection,
    run_ids: Sequence[str] | None = None,
    keys: Sequence[str] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Feedback, oldest first, of some runs and keys (None: all)."""
    where, params = [], []
    for column, values in (("run_id", run_ids), ("key", keys)):
        if values is not None:
            where.append(f"{column} IN ({placeholders(values)})")
            params += list(values)
    sql = f"SELECT {', '.join(_COLUMNS)} FROM feedback"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_time, id LIMIT ? OFFSET ?"
    return [_feedback_dict(row) for row in conn.execute(sql, [*params, limit, offset])]


def get_feedback(conn: sqlite3.Connection, feedback_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM feedback WHERE id = ?", (feedback_id,)
    ).fetchone()
    return None if row is None else _feedback_dict(row)


def feedback_stats(conn: sqlite3.Connection, run_ids: Iterable[str]) -> dict[str, Any]:
    """run id -> {key: {"n", "avg", "values"}}, as LangSmith's `feedback_stats`."""
    stats: dict[str, dict[str, Any]] = {}
    for chunk in chunks(list(run_ids)):
        for run_id, key, n, avg in conn.execute(
            f"SELECT run_id, key, count(*), avg(score) FROM feedback "
            f"WHERE run_id IN ({placeholders(chunk)}) GROUP BY run_id, key",
            chunk,
        ):
            stats.setdefault(run_id, {})[key] = {"n": n, "avg": avg, "values": {}}
    return stats


def insert_attachments(conn: sqlite3.Connection, items: Sequence[Attachment]) -> None:
    conn.executemany(
        "INSERT INTO attachments (run_id, name, mime_type, data) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (run_id, name) DO UPDATE SET mime_type = excluded.mime_type, "
        "data = excluded.data",
        [(a.run_id, a.name, a.mime_type, a.data) for a in items],
    )


def attachment_types(conn: sqlite3.Connection, run_id: str) -> dict[str, str]:
    """name -> MIME type of a run's attachments."""
    return dict(
        conn.execute(
            "SELECT name, mime_type FROM attachments WHERE run_id = ? ORDER BY name", (run_id,)
        )
    )


def read_attachment(conn: sqlite3.Connection, run_id: str, name: str) -> Attachment | None:
    row = conn.execute(
        "SELECT mime_type, data FROM attachments WHERE run_id = ? AND name = ?", (run_id, name)
    ).fetchone()
    return None if row is None else Attachment(run_id, name, row[0], bytes(row[1]))


def _feedback_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    d = dict(zip(_COLUMNS, row, strict=True))
    for key in _JSON:
        d[key] = orjson.loads(d[key]) if d[key] is not None else None
    d["created_at"] = ns_to_iso(d.pop("created_time"))
    d["modified_at"] = ns_to_iso(d.pop("modified_time"))
    d["extra"] = d["extra"] or None
    return d


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


def _text(value: Any) -> str | None:
    return None if value is None else str(uuid.UUID(str(value)))


def _time(value: Any, default: int) -> int:
    if isinstance(value, str):
        try:
            return iso_to_ns(value)
        except ValueError:
            return default
    return default
