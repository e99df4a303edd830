"""`otel-llm check`: find what would make stored runs invisible or misfiled, and repair it.

Each check is one SQL question about the store's invariants; each has a repair that is
safe to run twice. What they find:

- runs or traces whose project row is missing: acknowledged and readable by id, but no
  listing shows them (a rolled-back transaction once left a cached project id behind);
- projects named after another project's id: their runs belong to that project (a
  failed group commit once retried rows whose project name had become an id);
- traces whose run or error counts disagree with their runs;
- anything SQLite's own `PRAGMA integrity_check` reports (not repairable here: restore
  from a backup, or `sqlite3 otel-llm.db .recover`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from otel_llm.store.sqlite import SQLiteStore


@dataclass(frozen=True)
class Finding:
    """One broken invariant.

    Args:
        check: which check found it (a stable name).
        count: how many rows it concerns.
        detail: what is wrong, in English.
        repairable: whether `repair` fixes it.
    """

    check: str
    count: int
    detail: str
    repairable: bool = True


_MISSING_PROJECT = (
    "SELECT {table}.project_id, count(*) FROM {table} LEFT JOIN projects p "
    "ON p.id = {table}.project_id WHERE p.id IS NULL GROUP BY {table}.project_id"
)
_MISNAMED = (
    "SELECT bogus.id, bogus.name, (SELECT count(*) FROM runs WHERE project_id = bogus.id) "
    "FROM projects bogus JOIN projects real ON real.id = bogus.name WHERE bogus.id != real.id"
)
_COUNTS = (
    "SELECT t.key, t.run_count, t.error_count, count(r.id), "
    "COALESCE(sum(r.error IS NOT NULL), 0) FROM traces t LEFT JOIN runs r "
    "ON r.trace_key = t.key GROUP BY t.key "
    "HAVING t.run_count != count(r.id) OR t.error_count != COALESCE(sum(r.error IS NOT NULL), 0)"
)


def check(store: SQLiteStore) -> list[Finding]:
    """Every broken invariant of the store (an empty list when it is consistent)."""
    conn = store._reader()
    findings: list[Finding] = []
    integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if integrity != ["ok"]:
        findings.append(
            Finding("integrity", len(integrity), "; ".join(integrity[:5]), repairable=False)
        )
    for table, what in (("runs", "runs"), ("traces", "traces")):
        for project_id, count in conn.execute(_MISSING_PROJECT.format(table=table)):
            findings.append(
                Finding(
                    f"{table}_without_project",
                    count,
                    f"{count} {what} of project id {project_id} have no project row: no "
                    "listing shows them",
                )
            )
    for bogus_id, real_id, count in conn.execute(_MISNAMED):
        findings.append(
            Finding(
                "project_named_after_an_id",
                count,
                f"project {bogus_id} is named after project {real_id}'s id and holds {count} "
                "runs that belong to it",
            )
        )
    wrong = conn.execute(_COUNTS).fetchall()
    if wrong:
        findings.append(
            Finding(
                "trace_counts",
                len(wrong),
                f"{len(wrong)} traces count other runs or errors than they hold",
            )
        )
    return findings


def repair(store: SQLiteStore) -> list[Finding]:
    """Repair what `check` finds, in one transaction; returns what was repaired."""
    found = [f for f in check(store) if f.repairable]
    if not found:
        return []
    with store._write() as conn:
        _refile_misnamed(conn)
        _restore_project_rows(conn)
        conn.execute(
            "UPDATE traces SET run_count = (SELECT count(*) FROM runs WHERE trace_key = key), "
            "error_count = (SELECT count(*) FROM runs WHERE trace_key = key "
            "AND error IS NOT NULL)"
        )
    store._project_ids.clear()  # ids may have moved: look them up afresh
    return found


def _refile_misnamed(conn: sqlite3.Connection) -> None:
    for bogus_id, real_id, _ in conn.execute(_MISNAMED).fetchall():
        for table in ("runs", "traces"):
            conn.execute(
                f"UPDATE {table} SET project_id = ? WHERE project_id = ?", (real_id, bogus_id)
            )
        conn.execute("DELETE FROM projects WHERE id = ?", (bogus_id,))


def _restore_project_rows(conn: sqlite3.Connection) -> None:
    """A project row for every id runs or traces use; its name is lost, so the id names
    it (as for runs posted with a session id but no name)."""
    for table in ("runs", "traces"):
        conn.execute(
            f"INSERT OR IGNORE INTO projects (id, name, start_time) "
            f"SELECT project_id, project_id, min(start_time) FROM {table} "
            f"WHERE project_id NOT IN (SELECT id FROM projects) GROUP BY project_id"
        )
