"""`otel-llm check [--repair]` on stores damaged the way the old failure paths left them."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from click.testing import CliRunner

from otel_llm.cli import main
from otel_llm.convert import spans_to_runs
from otel_llm.model import Run
from otel_llm.store import RunQuery, SQLiteStore
from otel_llm.store.check import check, repair
from tests.store.helpers import make_span, new_span_id, new_trace_id


def trace(name: str = "step") -> list[Run]:
    t, root = new_trace_id(), new_span_id()
    return spans_to_runs(
        [make_span(t, root, name=name), make_span(t, new_span_id(), root, name=name, error="boom")]
    )


def listed(store: SQLiteStore, project: str) -> int:
    ids = [p["id"] for p in store.list_projects() if p["name"] == project]
    return len(store.query_runs(RunQuery(session=ids, limit=1000))[0]) if ids else 0


def damaged(path: Path) -> None:
    """A store as the two bugs left it: a project whose row was rolled back while its id
    stayed in use, and runs misfiled under a project named after another's id."""
    with SQLiteStore(path) as store:
        store.ingest(trace(), "lost")
        store.ingest(trace(), "alpha")
        store.ingest(trace(), "beta")
    with sqlite3.connect(path) as conn:
        (lost_id,) = conn.execute("SELECT id FROM projects WHERE name = 'lost'").fetchone()
        (alpha_id,) = conn.execute("SELECT id FROM projects WHERE name = 'alpha'").fetchone()
        conn.execute("DELETE FROM projects WHERE id = ?", (lost_id,))
        # beta's runs, filed under a project named after alpha's id
        conn.execute("UPDATE projects SET name = ? WHERE name = 'beta'", (alpha_id,))
        conn.execute("UPDATE traces SET run_count = run_count + 5 WHERE rowid = 1")


def test_a_consistent_store_has_no_findings(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        store.ingest(trace(), "alpha")
        assert check(store) == []
        assert repair(store) == []


def test_check_finds_and_repair_fixes_each_damage(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    damaged(path)
    with SQLiteStore(path) as store:
        found = {f.check: f.count for f in check(store)}
        assert found == {
            "runs_without_project": 2,
            "traces_without_project": 1,
            "project_named_after_an_id": 2,
            "trace_counts": 1,
        }
        assert listed(store, "alpha") == 2
        repaired = repair(store)
        assert {f.check for f in repaired} == set(found)
        assert check(store) == []
        assert listed(store, "alpha") == 4  # beta's runs are alpha's now (their real project)
        names = {p["name"] for p in store.list_projects()}
        assert "alpha" in names and len(names) == 2
        (recovered,) = names - {"alpha"}
        assert uuid.UUID(recovered)  # the lost project's name is gone; its id names it
        assert listed(store, recovered) == 2
        counts = {p["name"]: p["run_count"] for p in store.list_projects()}
        assert counts == {"alpha": 4, recovered: 2}  # the trace counts were recomputed
        assert repair(store) == []  # safe to run again


def test_cli_exits_1_until_repaired(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    damaged(path)
    runner = CliRunner()
    first = runner.invoke(main, ["check", "--db", str(path)])
    assert first.exit_code == 1
    assert "runs_without_project: 2 runs of project id" in first.output
    assert "otel-llm check --repair" in first.output
    fixed = runner.invoke(main, ["check", "--db", str(path), "--repair"])
    assert fixed.exit_code == 0, fixed.output
    assert "repaired project_named_after_an_id" in fixed.output
    assert "consistent" in fixed.output
    assert runner.invoke(main, ["check", "--db", str(path)]).exit_code == 0
    missing = runner.invoke(main, ["check", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 1 and "no run store at" in missing.output
