"""The read side: projects, runs and traces in LangSmith's read shape, and the query
plans of `query_runs` (keyset pages per project, content filters)."""

from __future__ import annotations

import base64
import heapq
import operator
import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

from otel_llm._gc import collector_paused
from otel_llm.duplicates import DUPLICATE_OF_KEY
from otel_llm.model import iso_to_ns, mark_incomplete, ns_to_iso
from otel_llm.store.base import (
    DEFAULT_LIMIT,
    Attachment,
    ProjectDict,
    RunDict,
    RunQuery,
)
from otel_llm.store.query import reads_content
from otel_llm.store.query.sqlite import compile_filter
from otel_llm.store.sqlite import feedback
from otel_llm.store.sqlite.rows import INT64_MAX, INT64_MIN, int_details
from otel_llm.store.sqlite.schema import (
    ALWAYS_SELECTED,
    COLUMN_AT,
    DEFAULT_SELECT,
    DOTTED_KEY,
    GENERATION_TYPES,
    METADATA_FIELDS,
    READ_FIELDS,
    READ_SQL,
    READ_SQL_R,
    TENANT_ID,
    loads,
)

_MERGE_PROJECTS = 64  # up to this many projects are read one by one and merged

_CONTENT_PROBE = 10_000  # newest runs a content filter tries before a full table scan


class SQLiteReads:
    """The read side of the store: projects, runs, traces, pages (a base of SQLiteStore,
    which gives it a reader connection per thread and the project name cache)."""

    _project_names: dict[str, str]  # id -> name

    def _reader(self) -> sqlite3.Connection:
        raise NotImplementedError

    # --- reads: projects -------------------------------------------------------------

    def list_projects(
        self, name: str | None = None, limit: int = DEFAULT_LIMIT, offset: int = 0
    ) -> list[ProjectDict]:
        """Projects (LangSmith's TracerSessionResult shape), newest first.

        Args:
            name: only the project of this exact name.
            limit / offset: the page.
        """
        conn = self._reader()
        sql = "SELECT id, name, start_time, retention_seconds FROM projects"
        params: list[Any] = []
        if name is not None:
            sql += " WHERE name = ?"
            params.append(name)
        sql += " ORDER BY start_time DESC, name LIMIT ? OFFSET ?"
        params += [max(limit, 0), max(offset, 0)]
        rows = conn.execute(sql, params).fetchall()
        return [_project_dict(row, self._project_stats(conn, row[0])) for row in rows]

    def get_project(self, project_id: str | uuid.UUID) -> ProjectDict | None:
        """One project by id, or None."""
        try:
            pid = str(uuid.UUID(str(project_id)))
        except ValueError:
            return None
        conn = self._reader()
        row = conn.execute(
            "SELECT id, name, start_time, retention_seconds FROM projects WHERE id = ?", (pid,)
        ).fetchone()
        return None if row is None else _project_dict(row, self._project_stats(conn, pid))

    def _project_stats(self, conn: sqlite3.Connection, project_id: str) -> tuple[Any, ...]:
        row: tuple[Any, ...] = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(run_count), 0), COALESCE(SUM(prompt_tokens), 0), "
            "COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(total_tokens), 0), "
            "COALESCE(SUM(prompt_cost), 0), COALESCE(SUM(completion_cost), 0), "
            "COALESCE(SUM(total_cost), 0), MAX(start_time), "
            "COALESCE(SUM(error_count > 0), 0) FROM traces WHERE project_id = ?",
            (project_id,),
        ).fetchone()
        return row

    def _project_name(self, conn: sqlite3.Connection, project_id: str) -> str | None:
        name = self._project_names.get(project_id)
        if name is None:
            row = conn.execute("SELECT name FROM projects WHERE id = ?", (project_id,)).fetchone()
            if row is not None:
                name = self._project_names[project_id] = row[0]
        return name

    # --- reads: runs -----------------------------------------------------------------

    def get_run(self, run_id: str | uuid.UUID) -> RunDict | None:
        """One run in the read shape, with its child_run_ids; None when unknown."""
        try:
            rid = str(uuid.UUID(str(run_id)))
        except ValueError:
            return None
        conn = self._reader()
        row = conn.execute(f"SELECT {READ_SQL} FROM runs WHERE id = ?", (rid,)).fetchone()
        if row is None:
            return None
        run = self._run_dict(conn, row, DEFAULT_SELECT)
        run["child_run_ids"] = _children(conn, row)
        _add_feedback_stats(conn, [run])
        return run

    def trace_runs(self, trace_id: str | uuid.UUID) -> list[RunDict]:
        """Every run of a trace in dotted order (parents first), with child_run_ids.

        Args:
            trace_id: the run trace id (the root run's id) or the OTel trace id (hex);
                the latter also returns runs still waiting for their ancestors.
        """
        conn = self._reader()
        rows: list[tuple[Any, ...]] = []
        for key, run_trace_id in _trace_selector(conn, trace_id):
            if run_trace_id is None:
                rows += conn.execute(
                    f"SELECT {READ_SQL} FROM runs WHERE trace_key = ?", (key,)
                ).fetchall()
            else:
                rows += conn.execute(
                    f"SELECT {READ_SQL} FROM runs WHERE trace_key = ? AND trace_id = ?",
                    (key, run_trace_id),
                ).fetchall()
        rows.sort(key=DOTTED_KEY)
        with collector_paused():
            runs = [self._run_dict(conn, row, DEFAULT_SELECT) for row in rows]
        children: dict[str, list[str]] = {}
        for run in runs:
            if run["parent_run_id"] is not None:
                children.setdefault(run["parent_run_id"], []).append(run["id"])
        for run in runs:
            run["child_run_ids"] = children.get(run["id"], [])
        return runs

    def get_trace(self, trace_id: str | uuid.UUID) -> dict[str, Any] | None:
        """Trace-level aggregates by run trace id or OTel trace id (hex); None if unknown."""
        column, value = _trace_key(trace_id)
        conn = self._reader()
        row = conn.execute(
            "SELECT otel_trace_id, trace_id, project_id, root_run_id, name, start_time, "
            "end_time, run_count, error_count, prompt_tokens, completion_tokens, total_tokens, "
            "prompt_cost, completion_cost, total_cost, first_token_time FROM traces "
            f"WHERE {column} = ?",
            (value,),
        ).fetchone()
        if row is None:
            return None
        (otel, tid, pid, root, name, start, end, count, errors, pt, ct, tt, pc, cc, tc, first) = row
        end_ns = end or None
        return {
            "trace_id": tid,
            "otel_trace_id": otel,
            "session_id": pid,
            "root_run_id": root,
            "name": name,
            "incomplete": root is None,
            "start_time": ns_to_iso(start),
            "end_time": ns_to_iso(end_ns) if end_ns else None,
            "latency": (end_ns - start) / 1e9 if end_ns else None,
            "run_count": count,
            "error_count": errors,
            "prompt_tokens": pt,
            "completion_tokens": ct,
            "total_tokens": tt,
            "prompt_cost": pc,
            "completion_cost": cc,
            "total_cost": tc,
            "first_token_time": ns_to_iso(first) if first else None,
        }

    def query_runs(self, q: RunQuery) -> tuple[list[RunDict], str | None]:
        """A page of runs (LangSmith's `POST /runs/query`) and the next page's cursor.

        Raises:
            ValueError: for a bad cursor, time or limit; `FilterSyntaxError` (a
                ValueError) for a bad filter.
        """
        q.validate()
        conn = self._reader()
        conds, params = self._conditions(conn, q)
        if conds is None:
            return [], None
        desc = q.order == "desc"
        keyset, keyset_params = "1", []
        if q.cursor is not None:
            start, rowid = _decode_cursor(q.cursor)
            keyset = f"(r.start_time, r.rowid) {'<' if desc else '>'} (?, ?)"
            keyset_params = [start, rowid]
        direction = "DESC" if desc else "ASC"
        order = f" ORDER BY r.start_time {direction}, r.rowid {direction}"
        tail = f"{order} LIMIT {q.limit + 1}"
        where = " AND ".join([*conds, keyset])
        params += keyset_params
        select = f"SELECT {READ_SQL_R} FROM runs r WHERE"
        sessions = q.session
        if sessions is None and not (q.trace or q.id or q.parent_run):
            sessions = [r[0] for r in conn.execute("SELECT id FROM projects")]
        rows: list[Any] | None = None
        if sessions is None:
            rows = conn.execute(f"{select} {where}{tail}", params).fetchall()
        elif q.trace or q.id or q.parent_run or len(sessions) > _MERGE_PROJECTS:
            marks = ", ".join("?" * len(sessions))
            rows = conn.execute(
                f"{select} r.project_id IN ({marks}) AND {where}{tail}", [*sessions, *params]
            ).fetchall()
        elif _scans_content(q):
            rows = _content_rows(
                conn, sessions, select, where, params, q.limit, order, (keyset, keyset_params)
            )
        if rows is None:
            assert sessions is not None
            # One keyset scan per project on its (project_id, start_time) index, merged:
            # far cheaper than sorting every matching run of several projects.
            sql = f"{select} r.project_id = ? AND {where}{tail}"
            pages = [conn.execute(sql, [pid, *params]).fetchall() for pid in sessions]
            rows = list(heapq.merge(*pages, key=_row_order_key(desc)))[: q.limit + 1]
        more = len(rows) > q.limit
        rows = rows[: q.limit]
        fields = _select_fields(q.select)
        runs = [self._run_dict(conn, row, fields) for row in rows]
        if "child_run_ids" in fields:
            for run, row in zip(runs, rows, strict=True):
                run["child_run_ids"] = _children(conn, row)
        if "feedback_stats" in fields:
            _add_feedback_stats(conn, runs)
        next_cursor = None
        if more and rows:
            last = rows[-1]
            next_cursor = _encode_cursor(last[COLUMN_AT["start_time"]], last[COLUMN_AT["rowid"]])
        return runs, next_cursor

    def run_stats(self, q: RunQuery, end_time: str | None = None) -> dict[str, Any]:
        """Aggregates over the runs `q` selects (`POST /runs/stats`): `store/stats.py`."""
        from otel_llm.store.stats import run_stats

        return run_stats(self, q, end_time)

    def _stored_run(self, conn: sqlite3.Connection, run_id: str) -> RunDict | None:
        """A run in the read shape through `conn` (the writer's, inside a transaction)."""
        row = conn.execute(f"SELECT {READ_SQL} FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else self._run_dict(conn, row, DEFAULT_SELECT, notes=False)

    # --- reads: sessions (conversations of many traces) --------------------------------

    def list_sessions(
        self, project_id: str, limit: int = DEFAULT_LIMIT, offset: int = 0
    ) -> list[dict[str, Any]]:
        """A project's sessions, the latest active first: first and last time, trace
        count, tokens, cost and traces with errors (`otel_llm.sessions` decides a run's
        session; a trace is in its root's)."""
        rows = (
            self._reader()
            .execute(
                "SELECT session_key, count(*), min(start_time), max(max(end_time, start_time)), "
                "sum(run_count), sum(total_tokens), sum(total_cost), sum(error_count > 0) "
                "FROM traces WHERE project_id = ? AND session_key IS NOT NULL "
                "GROUP BY session_key ORDER BY max(start_time) DESC, session_key LIMIT ? OFFSET ?",
                (project_id, max(limit, 0), max(offset, 0)),
            )
            .fetchall()
        )
        return [
            {
                "session_id": key,
                "trace_count": traces,
                "first_start_time": ns_to_iso(first),
                "last_time": ns_to_iso(last),
                "run_count": runs,
                "total_tokens": tokens,
                "total_cost": cost,
                "error_count": errors,
            }
            for key, traces, first, last, runs, tokens, cost, errors in rows
        ]

    def session_traces(self, project_id: str, session_id: str) -> list[dict[str, Any]]:
        """A session's traces in the order they started."""
        rows = (
            self._reader()
            .execute(
                "SELECT trace_id, root_run_id, name, start_time, end_time, run_count, error_count, "
                "total_tokens, total_cost FROM traces WHERE project_id = ? AND session_key = ? "
                "ORDER BY start_time",
                (project_id, session_id),
            )
            .fetchall()
        )
        return [
            {
                "trace_id": trace,
                "root_run_id": root,
                "name": name,
                "start_time": ns_to_iso(start),
                "end_time": ns_to_iso(end) if end else None,
                "run_count": runs,
                "error_count": errors,
                "total_tokens": tokens,
                "total_cost": cost,
            }
            for trace, root, name, start, end, runs, errors, tokens, cost in rows
        ]

    # --- reads: feedback and attachments ----------------------------------------------

    def list_feedback(
        self,
        run_ids: Sequence[str] | None = None,
        keys: Sequence[str] | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Feedback of some runs and keys (None: all), oldest first."""
        return feedback.list_feedback(self._reader(), run_ids, keys, limit, offset)

    def get_feedback(self, feedback_id: str) -> dict[str, Any] | None:
        return feedback.get_feedback(self._reader(), feedback_id)

    def attachment_types(self, run_id: str) -> dict[str, str]:
        """name -> MIME type of a run's attachments."""
        return feedback.attachment_types(self._reader(), run_id)

    def read_attachment(self, run_id: str, name: str) -> Attachment | None:
        return feedback.read_attachment(self._reader(), run_id, name)

    def _conditions(
        self, conn: sqlite3.Connection, q: RunQuery
    ) -> tuple[list[str] | None, list[Any]]:
        """WHERE conditions for a query; None when it cannot match anything."""
        conds: list[str] = []
        params: list[Any] = []
        if q.run_type is not None:
            conds.append("r.run_type = ?")
            params.append(q.run_type)
        if q.is_root is not None:
            conds.append("r.parent_run_id IS NULL" if q.is_root else "r.parent_run_id IS NOT NULL")
        if q.trace is not None:
            selected = _trace_selector(conn, q.trace)
            if not selected:
                return None, []
            either = []
            for key, run_trace_id in selected:
                either.append(
                    "r.trace_key = ?"
                    if run_trace_id is None
                    else "(r.trace_key = ? AND r.trace_id = ?)"
                )
                params += [key] if run_trace_id is None else [key, run_trace_id]
            conds.append("(" + " OR ".join(either) + ")")
        if q.parent_run is not None:
            parent = conn.execute(
                "SELECT trace_key FROM runs WHERE id = ?", (q.parent_run,)
            ).fetchone()
            if parent is None:
                return None, []
            conds.append("r.trace_key = ? AND r.parent_run_id = ?")
            params += [parent[0], q.parent_run]
        if q.start_time is not None:
            try:
                start_ns = iso_to_ns(q.start_time)
            except ValueError:
                raise ValueError(f"start_time is not an ISO 8601 time: {q.start_time!r}") from None
            conds.append("r.start_time >= ?")
            params.append(min(max(start_ns, INT64_MIN), INT64_MAX))  # beyond: all or none
        if q.error is not None:
            conds.append("r.error IS NOT NULL" if q.error else "r.error IS NULL")
        if q.id is not None:
            if not q.id:
                return None, []
            conds.append(f"r.id IN ({', '.join('?' * len(q.id))})")
            params += q.id
        if q.reference_example is not None:
            if not q.reference_example:
                return None, []
            conds.append(f"r.reference_example_id IN ({', '.join('?' * len(q.reference_example))})")
            params += q.reference_example
        if q.query:
            sql, p = compile_filter(f"search({_quote(q.query)})")
            conds.append(sql)
            params += p
        if q.filter:
            sql, p = compile_filter(q.filter, "r")
            conds.append(sql)
            params += p
        if q.trace_filter:
            sql, p = compile_filter(q.trace_filter, "t")
            conds.append(f"EXISTS (SELECT 1 FROM runs t WHERE t.id = r.trace_id AND {sql})")
            params += p
        if q.tree_filter:
            sql, p = compile_filter(q.tree_filter, "t")
            conds.append(
                "EXISTS (SELECT 1 FROM runs t WHERE t.trace_key = r.trace_key "
                f"AND t.trace_id = r.trace_id AND {sql})"
            )
            params += p
        return conds, params

    def _run_dict(
        self,
        conn: sqlite3.Connection,
        row: tuple[Any, ...],
        fields: frozenset[str],
        notes: bool = True,
    ) -> RunDict:
        """One row in LangSmith's read shape, restricted to `fields` (JSON columns are
        decoded only when selected). `notes`: with the store's notes to readers (the
        duplicate mark); without them for a run that is merged and stored again."""
        (
            _,
            run_id,
            project_id,
            trace_id,
            parent,
            dotted,
            incomplete,
            name,
            run_type,
            start,
            end,
            error,
            inputs,
            outputs,
            extra_raw,
            metadata_raw,
            tags,
            events,
            serialized,
            reference,
            pt,
            ct,
            tt,
            pc,
            cc,
            tc,
            first,
            session,
            _,
            duplicate_of,
        ) = row
        full = fields is DEFAULT_SELECT
        d: RunDict = {
            "id": run_id,
            "name": name,
            "run_type": run_type,
            "start_time": _iso(start),
            "end_time": _iso(end) if end is not None else None,
            "error": error,
            "status": "error" if error is not None else ("pending" if end is None else "success"),
            "session_id": project_id,
            "session_name": self._project_name(conn, project_id),
            "reference_example_id": reference,
            "parent_run_id": parent,
            "trace_id": trace_id,
            "dotted_order": dotted,
            "parent_run_ids": [seg[-36:] for seg in dotted.split(".")[:-1]],
            "prompt_tokens": pt,
            "completion_tokens": ct,
            "total_tokens": tt,
            "prompt_cost": pc,
            "completion_cost": cc,
            "total_cost": tc,
            "first_token_time": _iso(first) if first is not None else None,
            "thread_id": session,
            "feedback_stats": None,
            "app_path": None,
            "in_dataset": False,
        }
        if full or "inputs" in fields:
            d["inputs"] = loads(inputs) if inputs is not None else {}
        if full or "outputs" in fields:
            d["outputs"] = loads(outputs) if outputs is not None else None
        if full or "tags" in fields:
            d["tags"] = loads(tags) if tags is not None else []
        if full or "events" in fields:
            d["events"] = loads(events) if events is not None else []
        if full or "serialized" in fields:
            d["serialized"] = loads(serialized) if serialized is not None else None
        if full or not METADATA_FIELDS.isdisjoint(fields):
            metadata = loads(metadata_raw) if metadata_raw is not None else None
            extra: dict[str, Any] = loads(extra_raw) if extra_raw is not None else {}
            if duplicate_of is not None and notes:
                # The same provider call as its parent: its usage counts there only.
                metadata = {**(metadata or {}), DUPLICATE_OF_KEY: duplicate_of}
            if metadata is not None:
                extra["metadata"] = metadata
            mark_incomplete(extra, bool(incomplete))
            d["extra"] = extra
            usage = metadata.get("usage_metadata") if isinstance(metadata, dict) else None
            if run_type in GENERATION_TYPES and isinstance(usage, dict):
                d["prompt_token_details"] = int_details(usage.get("input_token_details"))
                d["completion_token_details"] = int_details(usage.get("output_token_details"))
        if full:
            return d
        return {k: v for k, v in d.items() if k in fields}


def _add_feedback_stats(conn: sqlite3.Connection, runs: list[RunDict]) -> None:
    stats = feedback.feedback_stats(conn, [r["id"] for r in runs])
    for run in runs:
        run["feedback_stats"] = stats.get(run["id"])


def _children(conn: sqlite3.Connection, row: tuple[Any, ...]) -> list[str]:
    children = conn.execute(
        "SELECT id, dotted_order FROM runs WHERE trace_key = ? AND parent_run_id = ?",
        (row[COLUMN_AT["trace_key"]], row[COLUMN_AT["id"]]),
    ).fetchall()
    return [c[0] for c in sorted(children, key=operator.itemgetter(1))]


def _project_dict(row: tuple[Any, ...], stats: tuple[Any, ...]) -> ProjectDict:
    project_id, name, start, retention = row
    traces, runs, pt, ct, tt, pc, cc, tc, last_start, errored = stats
    return {
        "id": project_id,
        "name": name,
        "start_time": ns_to_iso(start),
        "end_time": None,
        "description": None,
        "extra": {"retention_seconds": retention} if retention is not None else {},
        "tenant_id": TENANT_ID,
        "reference_dataset_id": None,
        "run_count": runs,
        "trace_count": traces,
        "prompt_tokens": pt,
        "completion_tokens": ct,
        "total_tokens": tt,
        "prompt_cost": pc,
        "completion_cost": cc,
        "total_cost": tc,
        "last_run_start_time": ns_to_iso(last_start) if last_start is not None else None,
        "error_rate": errored / traces if traces else None,
        "feedback_stats": None,
    }


def _select_fields(select: list[str] | None) -> frozenset[str]:
    if not select:
        return DEFAULT_SELECT
    fields = ALWAYS_SELECTED | (frozenset(select) & frozenset(READ_FIELDS))
    return DEFAULT_SELECT if fields == DEFAULT_SELECT else fields


def _scans_content(q: RunQuery) -> bool:
    return bool(q.query) or any(reads_content(f) for f in (q.filter, q.tree_filter) if f)


def _content_rows(
    conn: sqlite3.Connection,
    sessions: Sequence[str],
    select: str,
    where: str,
    params: list[Any],
    limit: int,
    order: str,
    keyset: tuple[str, list[Any]],
) -> list[Any] | None:
    """A page for a filter that reads every candidate's content (a search, a metadata
    test), or None when the usual per-project index walk is the cheaper way."""
    tail = f"{order} LIMIT {limit + 1}"
    if len(sessions) == 1:
        # A common term fills the page from the newest runs: try those first.
        newest = (
            f"SELECT rowid FROM runs r WHERE r.project_id = ? AND {keyset[0]}"
            f"{order} LIMIT {_CONTENT_PROBE}"
        )
        rows = conn.execute(
            f"{select} r.rowid IN ({newest}) AND {where}{tail}", [*sessions, *keyset[1], *params]
        ).fetchall()
        if len(rows) > limit:
            return rows
    if not _holds_most_runs(conn, sessions):
        return None
    # One sequential pass over the table (the unary + keeps SQLite off the project
    # index) beats fetching most of its rows by rowid in start-time order.
    marks = ", ".join("?" * len(sessions))
    return conn.execute(
        f"{select} +r.project_id IN ({marks}) AND {where}{tail}", [*sessions, *params]
    ).fetchall()


def _holds_most_runs(conn: sqlite3.Connection, projects: Sequence[str]) -> bool:
    """Whether these projects hold more than half the table's rows; counted on the
    project index and stopped at that half (~25 ms at most over a million runs, measured)."""
    newest = conn.execute("SELECT max(rowid) FROM runs").fetchone()[0] or 0
    half = newest // 2  # rowids are distinct and positive: max(rowid) >= row count
    marks = ", ".join("?" * len(projects))
    count = conn.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM runs WHERE project_id IN ({marks}) LIMIT ?)",
        [*projects, half + 1],
    ).fetchone()[0]
    return bool(count > half)


def _row_order_key(desc: bool) -> Any:
    start, rowid = COLUMN_AT["start_time"], COLUMN_AT["rowid"]
    if desc:
        return lambda r: (-r[start], -r[rowid])
    return lambda r: (r[start], r[rowid])


def _encode_cursor(start_ns: int, rowid: int) -> str:
    return base64.urlsafe_b64encode(f"{start_ns}:{rowid}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        start, rowid = text.split(":")
        return int(start), int(rowid)
    except (ValueError, UnicodeDecodeError):
        raise ValueError(
            f"bad cursor {cursor!r}: pass back cursors.next of the previous page unchanged"
        ) from None


def _trace_key(trace_id: str | uuid.UUID) -> tuple[str, str]:
    """("trace_id", uuid) for a run trace id, ("otel_trace_id", hex) for an OTel one."""
    text = str(trace_id).strip().lower()
    if len(text) == 32 and all(c in "0123456789abcdef" for c in text):
        return "otel_trace_id", text
    try:
        return "trace_id", str(uuid.UUID(text))
    except ValueError:
        raise ValueError(
            f"not a trace id: {trace_id!r} (use the run trace UUID or the OTel trace id, "
            "32 hex digits)"
        ) from None


def _trace_selector(
    conn: sqlite3.Connection, trace_id: str | uuid.UUID
) -> list[tuple[int, str | None]]:
    """The traces a trace id names: (trace key, run trace id the runs must carry, or
    None for all runs of that trace).

    An OTel trace id, as 32 hex digits or as the UUID of its 16 bytes (which is also the
    provisional trace id of runs still waiting for ancestors), names every run of the
    OTel trace. A run trace id (the root run's id) names the runs that carry it.
    """
    column, value = _trace_key(trace_id)
    if column == "otel_trace_id":
        rows = conn.execute("SELECT key FROM traces WHERE otel_trace_id = ?", (value,))
        return [(r[0], None) for r in rows]
    otel = uuid.UUID(value).hex
    rows = conn.execute(
        "SELECT key, otel_trace_id FROM traces WHERE trace_id = ? OR otel_trace_id = ?",
        (value, otel),
    )
    return [(key, None if found == otel else value) for key, found in rows]


def trace_keys(conn: sqlite3.Connection, trace_id: str | uuid.UUID) -> list[int]:
    return [key for key, _ in _trace_selector(conn, trace_id)]


_SECOND_PREFIX: dict[int, str] = {}  # epoch second -> "YYYY-MM-DDTHH:MM:SS"


def _iso(ns: int) -> str:
    """`ns_to_iso`, memoising the date part: runs read together share their seconds."""
    secs, rest = divmod(ns, 1_000_000_000)
    prefix = _SECOND_PREFIX.get(secs)
    if prefix is None:
        if len(_SECOND_PREFIX) > 65_536:
            _SECOND_PREFIX.clear()
        prefix = _SECOND_PREFIX[secs] = ns_to_iso(secs * 1_000_000_000)[:19]
    return f"{prefix}.{rest // 1000:06d}+00:00"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
