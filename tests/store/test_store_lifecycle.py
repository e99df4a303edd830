"""Runs from the LangSmith SDK, merges, retention, deletion, threads, crashes, schema."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from otel_llm.convert import spans_to_runs
from otel_llm.ids import dotted_order
from otel_llm.model import Run
from otel_llm.store import RunQuery, SQLiteStore
from tests.store.helpers import MS, T0, make_span, new_span_id, new_trace_id

DAY = 86_400 * 1_000_000_000


def sdk_run(name: str, parent: Run | None = None, *, start_ms: int = 0, **kw: object) -> Run:
    """A run as the LangSmith SDK posts it: full ids and dotted order from the start."""
    run_id = uuid.uuid4()
    start = T0 + start_ms * MS
    run = Run(id=run_id, name=name, start_time_ns=start, end_time_ns=start + 10 * MS, **kw)  # type: ignore[arg-type]
    run.parent_run_id = parent.id if parent else None
    run.trace_id = parent.trace_id if parent else run_id
    run.dotted_order = dotted_order(parent.dotted_order if parent else None, start, run_id)
    return run


def test_sdk_runs_children_first_roll_up_and_merge_patches(tmp_path: Path) -> None:
    root = sdk_run("pipeline", inputs={"q": "hi"}, session_name="sdk")
    chain = sdk_run("chain", root, start_ms=1)
    usage = {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
    llm = sdk_run(
        "llm",
        chain,
        start_ms=2,
        run_type="llm",
        outputs={"usage_metadata": usage, "text": "hello"},
        extra={"metadata": {"ls_model_name": "gpt-4o"}},
    )
    with SQLiteStore(tmp_path / "s.db") as store:
        assert store.ingest([llm]) == 1
        assert store.ingest([chain]) == 1
        root.end_time_ns = None  # posted at start, patched at the end
        assert store.ingest([root]) == 1
        runs = store.trace_runs(root.id)
        assert [r["name"] for r in runs] == ["pipeline", "chain", "llm"]
        assert [r["total_tokens"] for r in runs] == [10, 10, 10]
        assert runs[0]["status"] == "pending"
        assert runs[0]["session_name"] == "sdk"
        patch = Run(
            id=root.id,
            name="pipeline",
            start_time_ns=root.start_time_ns,
            end_time_ns=root.start_time_ns + 50 * MS,
            outputs={"a": 1},
            error="ValueError: late",
            trace_id=root.trace_id,
            dotted_order=root.dotted_order,
        )
        assert store.ingest([patch], "sdk") == 1
        merged = store.get_run(root.id)
        assert merged is not None
        assert merged["inputs"] == {"q": "hi"}  # a patch does not resend inputs
        assert merged["outputs"] == {"a": 1}
        assert merged["status"] == "error"
        assert merged["total_tokens"] == 10
        trace = store.get_trace(root.id)
        assert trace is not None
        assert (trace["run_count"], trace["error_count"], trace["total_tokens"]) == (3, 1, 10)
        assert trace["latency"] == pytest.approx(0.05)


def test_a_child_without_trace_id_is_refused_with_a_reason(tmp_path: Path) -> None:
    orphan = Run(id=uuid.uuid4(), name="x", parent_run_id=uuid.uuid4(), start_time_ns=T0)
    with (
        SQLiteStore(tmp_path / "s.db") as store,
        pytest.raises(ValueError, match="has a parent but no trace_id or dotted_order"),
    ):
        store.ingest([orphan])


def _trace(store: SQLiteStore, project: str, start_ms: float, size: int = 3) -> bytes:
    tid, root = new_trace_id(), new_span_id()
    spans = [make_span(tid, root, name="root", start_ms=start_ms)] + [
        make_span(tid, new_span_id(), root, name=f"c{i}", start_ms=start_ms + 1)
        for i in range(size - 1)
    ]
    store.ingest(spans_to_runs(spans), project)
    return tid


def _count(store: SQLiteStore) -> int:
    runs, _ = store.query_runs(RunQuery(limit=1000))
    return len(runs)


def test_prune_deletes_whole_traces_by_start_time(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        old = _trace(store, "a", 0)
        _trace(store, "b", 0)
        new = _trace(store, "a", 20 * 86_400_000)  # 20 days later
        # A trace whose children arrived but whose root never did is pruned too.
        waiting = new_trace_id()
        store.ingest(spans_to_runs([make_span(waiting, new_span_id(), new_span_id())]), "a")
        assert _count(store) == 10
        assert store.prune(T0 + DAY, project="a") == 4
        assert store.get_trace(old.hex()) is None
        assert store.trace_runs(waiting.hex()) == []
        assert store.prune(T0 + DAY, project="nope") == 0
        assert store.prune(T0 + DAY) == 3
        assert _count(store) == 3
        assert store.get_trace(new.hex()) is not None


def test_delete_traces_by_run_or_otel_trace_id(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        a, b = _trace(store, "p", 0), _trace(store, "p", 0)
        root_of_b = store.get_trace(b.hex())["trace_id"]  # type: ignore[index]
        assert store.delete_traces([a.hex(), uuid.UUID(root_of_b)]) == 6
        assert _count(store) == 0
        assert store.delete_traces([a.hex()]) == 0
        with pytest.raises(ValueError, match="not a trace id"):
            store.delete_traces(["xyz"])


def test_retention_per_project(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        _trace(store, "short", 0)
        _trace(store, "long", 0)
        store.set_retention("short", 7 * 86_400)
        store.set_retention("long", 30 * 86_400)
        assert store.list_projects(name="short")[0]["extra"] == {"retention_seconds": 604800.0}
        assert store.apply_retention(T0 + 10 * DAY) == 3
        assert {p["name"]: p["run_count"] for p in store.list_projects()} == {"short": 0, "long": 3}
        store.set_retention("long", None)
        assert store.apply_retention(T0 + 100 * DAY) == 0
        with pytest.raises(ValueError, match="positive number of seconds"):
            store.set_retention("long", 0)


def test_threads_write_and_read_at_once(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        errors: list[BaseException] = []

        def write(project: str) -> None:
            try:
                for i in range(25):
                    _trace(store, project, i, size=4)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        def read() -> None:
            try:
                for _ in range(50):
                    store.query_runs(RunQuery(filter='eq(name, "root")'))
                    store.list_projects()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(f"p{i}",)) for i in range(4)]
        threads += [threading.Thread(target=read) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sum(p["run_count"] for p in store.list_projects()) == 400
        assert sum(p["trace_count"] for p in store.list_projects()) == 100


_WRITER = textwrap.dedent("""
    from tests.store.helpers import make_span, new_span_id, new_trace_id
    from otel_llm.convert import spans_to_runs
    from otel_llm.store import SQLiteStore
    store = SQLiteStore({db!r})
    i = 0
    while True:
        tid, root = new_trace_id(), new_span_id()
        spans = [make_span(tid, root, name=f"t{{i}}")] + [
            make_span(tid, new_span_id(), root, name=f"t{{i}}-{{j}}") for j in range(199)]
        store.ingest(spans_to_runs(spans), "crash")
        print(tid.hex(), flush=True)  # the acknowledgement: sent only after the commit
        i += 1
""")


def test_acknowledged_runs_survive_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    code = _WRITER.format(db=str(db))
    # From the repository root, where `tests.store.helpers` imports.
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    acked = [proc.stdout.readline().strip() for _ in range(15)]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with SQLiteStore(db) as store:
        for tid in acked:
            trace = store.get_trace(tid)
            assert trace is not None, f"acknowledged trace {tid} was lost"
            assert trace["run_count"] == 200
            assert len(store.trace_runs(tid)) == 200


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    SQLiteStore(db).close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(ValueError, match=r"schema version 99.*upgrade otel-llm"):
        SQLiteStore(db)


def test_closed_store_says_so(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.ingest(spans_to_runs([make_span(new_trace_id(), new_span_id())]))
    with pytest.raises(RuntimeError, match="closed"):
        store.list_projects()


@pytest.mark.parametrize("interval", [None, 0.05])
def test_committed_pages_reach_the_database_file(tmp_path: Path, interval: float | None) -> None:
    """The background checkpointer copies committed WAL pages into the database file,
    after each commit (default) or on the interval the server asks for."""
    import shutil
    import time

    with SQLiteStore(tmp_path / "c.db", checkpoint_interval=interval) as store:
        store.ingest(spans_to_runs([make_span(new_trace_id(), new_span_id(), name="kept")]), "p")
        deadline = time.monotonic() + 10
        while True:
            # The database file alone (no WAL beside it) shows what was checkpointed.
            shutil.copyfile(tmp_path / "c.db", tmp_path / "copy.db")
            try:
                with sqlite3.connect(tmp_path / "copy.db") as conn:
                    names = [r[0] for r in conn.execute("SELECT name FROM runs")]
            except sqlite3.OperationalError:  # not even the schema copied yet
                names = []
            if names == ["kept"] or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert names == ["kept"]


def test_deleting_a_trace_deletes_its_feedback_attachments_and_old_waiting_patches(
    tmp_path: Path,
) -> None:
    from otel_llm.store.base import Attachment, StoreChanges

    with SQLiteStore(tmp_path / "s.db") as store:
        gone, kept = _trace(store, "p", 0), _trace(store, "p", 0)
        run_of = {t: store.trace_runs(t.hex())[0]["id"] for t in (gone, kept)}
        late_patch = {"id": str(uuid.uuid4()), "outputs": {"a": 1}}  # its run never comes
        store.commit(
            StoreChanges(
                feedback=[
                    {"id": str(uuid.uuid4()), "run_id": run_of[t], "key": "ok", "score": 1}
                    for t in (gone, kept)
                ],
                attachments=[
                    Attachment(run_of[t], "img", "image/png", b"x" * 10) for t in (gone, kept)
                ],
                patches=[late_patch],
            )
        )
        assert store.delete_traces([gone.hex()]) == 3
        assert [f["run_id"] for f in store.list_feedback()] == [run_of[kept]]
        assert store.read_attachment(run_of[gone], "img") is None
        assert store.read_attachment(run_of[kept], "img") is not None
        # Retention: a patch waiting longer than the cutoff is deleted by a global prune only.
        (count,) = store._reader().execute("SELECT count(*) FROM pending_patches").fetchone()
        assert count == 1
        store.prune(time.time_ns() + DAY, project="p")
        assert store._reader().execute("SELECT count(*) FROM pending_patches").fetchone() == (1,)
        store.prune(time.time_ns() + DAY)
        assert store._reader().execute("SELECT count(*) FROM pending_patches").fetchone() == (0,)
        assert store.list_feedback() == [] and store.read_attachment(run_of[kept], "img") is None
