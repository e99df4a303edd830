"""The store's failure paths: a failed commit leaves no trace and spreads to nothing else.

Failures are real SQLite failures: a trigger that refuses some rows (a permanent,
data-bound failure) and a page limit that fills the database (a passing one).
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import pytest

from otel_llm.convert import spans_to_runs
from otel_llm.model import Run
from otel_llm.server.writer import GroupCommitWriter
from otel_llm.store import RunQuery, SQLiteStore
from otel_llm.store.base import StoreChanges, StoreError, UnstorableRun
from otel_llm.store.sqlite import store_error
from tests.store.helpers import make_span, new_span_id, new_trace_id

POISON = "poison"


def refuse_poison(path: Path) -> None:
    """Every run named "poison" fails its transaction, as a constraint would."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON runs WHEN NEW.name = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'poison run refused'); END"
        )


def trace_runs(project: str, name: str = "step", count: int = 3) -> list[Run]:
    trace = new_trace_id()
    root = new_span_id()
    spans = [make_span(trace, root, name=name)]
    spans += [make_span(trace, new_span_id(), root, name=name) for _ in range(count - 1)]
    runs = spans_to_runs(spans)
    for run in runs:
        run.session_name = project
    return runs


def listed(store: SQLiteStore, project: str) -> set[uuid.UUID]:
    projects = {p["name"]: p["id"] for p in store.list_projects()}
    if project not in projects:
        return set()
    page, _ = store.query_runs(RunQuery(session=[projects[project]], limit=1000))
    return {uuid.UUID(str(r["id"])) for r in page}


def uuid_named_projects(store: SQLiteStore) -> list[str]:
    names = []
    for project in store.list_projects():
        try:
            uuid.UUID(project["name"])
        except ValueError:
            continue
        names.append(project["name"])
    return names


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    path = tmp_path / "runs.db"
    SQLiteStore(path).close()
    refuse_poison(path)
    return SQLiteStore(path)


def test_rows_handed_in_are_not_changed_by_a_commit(store: SQLiteStore) -> None:
    rows = store.row_builder(trace_runs("alpha"), None)
    before = [row.copy() for row in rows]
    store.ingest_rows(rows)
    assert rows == before


def test_a_failed_group_commit_files_each_innocent_request_under_its_own_project(
    store: SQLiteStore,
) -> None:
    """The group fails on the poison request; the retry of each request alone must
    start from the rows as they came, not rows whose project name became an id."""
    good = {name: trace_runs(name) for name in ("alpha", "beta")}
    poison = trace_runs("gamma", name=POISON)
    build = store.row_builder

    async def send() -> list[object]:
        writer = GroupCommitWriter(store)
        # Queued before the thread starts, so all three go into one group commit.
        futures = [writer.write(StoreChanges(build(runs, None))) for runs in good.values()]
        futures.append(writer.write(StoreChanges(build(poison, None))))
        writer.start()
        try:
            return await asyncio.gather(*futures, return_exceptions=True)
        finally:
            writer.stop()

    results = asyncio.run(send())
    assert results[:2] == [3, 3]
    assert isinstance(results[2], StoreError) and not results[2].transient
    assert "poison run refused" in str(results[2])
    for project, runs in good.items():
        assert listed(store, project) == {r.id for r in runs}
    assert uuid_named_projects(store) == []
    assert {p["name"] for p in store.list_projects()} == {"alpha", "beta"}


def test_a_project_created_by_a_rolled_back_commit_is_created_again(
    store: SQLiteStore, tmp_path: Path
) -> None:
    with pytest.raises(StoreError, match="poison run refused"):
        store.ingest(trace_runs("fresh") + trace_runs("fresh", name=POISON))
    assert store.list_projects() == []
    later = trace_runs("fresh")
    store.ingest(later)
    assert listed(store, "fresh") == {r.id for r in later}
    store.close()
    reopened = SQLiteStore(tmp_path / "runs.db")
    try:
        assert listed(reopened, "fresh") == {r.id for r in later}
    finally:
        reopened.close()


def test_a_full_database_is_a_passing_failure_and_the_retry_succeeds(
    store: SQLiteStore,
) -> None:
    store.ingest(trace_runs("alpha"))
    pages = store._writer.execute("PRAGMA page_count").fetchone()[0]
    store._writer.execute(f"PRAGMA max_page_count = {pages}")
    big = trace_runs("alpha", count=50)
    for run in big:
        run.inputs = {"text": "x" * 20_000}
    with pytest.raises(StoreError) as failed:
        store.ingest(big)
    assert failed.value.transient
    assert "full" in str(failed.value)
    store._writer.execute("PRAGMA max_page_count = 1073741823")
    assert store.ingest(big) == 50
    assert {r.id for r in big} <= listed(store, "alpha")


@pytest.mark.parametrize(
    ("field", "value"),
    [("start_time_ns", 2**63), ("end_time_ns", 2**64 - 1), ("start_time_ns", -(2**63) - 1)],
)
def test_a_time_the_store_cannot_hold_is_a_rejection_naming_the_field(
    store: SQLiteStore, field: str, value: int
) -> None:
    runs = trace_runs("alpha", count=1)
    setattr(runs[0], field, value)
    with pytest.raises(UnstorableRun, match=field.removesuffix("_ns")):
        store.row_builder(runs, None)


def test_counts_beyond_the_count_columns_are_kept_out_of_them(store: SQLiteStore) -> None:
    runs = trace_runs("alpha", count=1)
    runs[0].run_type = "llm"
    runs[0].extra.setdefault("metadata", {})["usage_metadata"] = {
        "input_tokens": 2**70,
        "output_tokens": float("inf"),
        "total_tokens": 2**63,
    }
    store.ingest(runs)
    stored = store.get_run(runs[0].id)
    assert stored is not None
    assert (stored["prompt_tokens"], stored["completion_tokens"]) == (None, None)
    # The raw counts stay in the run's JSON, wider than 64 bits as decimal text.
    assert stored["extra"]["metadata"]["usage_metadata"]["input_tokens"] == str(2**70)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (sqlite3.IntegrityError("poison run refused"), False),
        (OverflowError("Python int too large to convert to SQLite INTEGER"), False),
        (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), False),
        (sqlite3.DataError("string or blob too big"), False),
        (MemoryError(), True),
    ],
)
def test_failures_are_classified_by_whether_a_retry_can_help(
    error: BaseException, transient: bool
) -> None:
    assert store_error(error).transient is transient


@pytest.mark.parametrize(
    ("code", "transient"),
    [
        (5, True),
        (6, True),
        (10, True),
        (13, True),
        (266, True),
        (19, False),
        (1811, False),
        (18, False),
        (20, False),
        (1, False),
    ],
)
def test_sqlite_result_codes_are_classified(code: int, transient: bool) -> None:
    error = sqlite3.OperationalError("from SQLite")
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    assert store_error(error).transient is transient


def test_a_span_sent_again_with_other_content_replaces_it_and_counts_once(
    store: SQLiteStore,
) -> None:
    """OTLP retries resend spans; one resent with other content replaces the stored run
    (the fields it gives win), and the trace's totals are recomputed, not added."""
    trace, root, child = new_trace_id(), new_span_id(), new_span_id()

    def send(tokens: int, error: str | None) -> None:
        store.ingest(
            spans_to_runs(
                [
                    make_span(trace, root, name="agent"),
                    make_span(
                        trace,
                        child,
                        root,
                        name="chat",
                        run_type="llm",
                        error=error,
                        usage={
                            "input_tokens": tokens,
                            "output_tokens": 1,
                            "total_tokens": tokens + 1,
                        },
                        metadata={"attempt": tokens},
                    ),
                ]
            ),
            "alpha",
        )

    send(100, "boom")
    send(10, None)
    (project,) = store.list_projects()
    assert project["run_count"] == 2
    assert project["total_tokens"] == 11
    runs = {r["name"]: r for r in store.query_runs(RunQuery(limit=10))[0]}
    assert runs["chat"]["extra"]["metadata"]["attempt"] == 10
    assert runs["agent"]["total_tokens"] == 11  # the parent's rollup moved by the difference
    # An error, once stored, stays: a resend without one does not erase it.
    assert runs["chat"]["error"] == "boom"
