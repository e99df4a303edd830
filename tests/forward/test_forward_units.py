"""Forward URLs, the outbox's rules (seq, due, bound figures), the schema migration and
the Prometheus text, without a network."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from otel_llm.cli import main
from otel_llm.convert import spans_to_runs
from otel_llm.forward import parse_destination, split_urls
from otel_llm.forward.render import render_stored
from otel_llm.otlp import decode_otlp_protobuf
from otel_llm.server.status_api import metrics_text
from otel_llm.store.sqlite import SCHEMA_VERSION, SQLiteStore
from otel_llm.store.sqlite.outbox import (
    START,
    Outbox,
    batch_end,
    depth,
    due_entries,
    entries_between,
    prepare_outbox,
    settle,
)
from tests.server.helpers import trace_spans


def test_urls_say_the_protocol_and_options_stay_out_of_the_name() -> None:
    http = parse_destination(
        "https://api.honeycomb.io/v1/traces?emit=gen_ai,openinference"
        "&header.x-honeycomb-team=SECRET"
    )
    assert (http.kind, http.target, http.name) == (
        "otlp-http",
        "https://api.honeycomb.io/v1/traces",
        "https://api.honeycomb.io/v1/traces",
    )
    assert http.emit == {"gen_ai", "openinference"}
    assert http.headers == {"x-honeycomb-team": "SECRET"}
    grpc = parse_destination("grpc://collector:4317?header.Authorization=Bearer%20t")
    assert (grpc.kind, grpc.target, grpc.tls) == ("otlp-grpc", "collector:4317", False)
    assert grpc.headers == {"Authorization": "Bearer t"}
    assert parse_destination("grpcs://tempo.example").target == "tempo.example:443"
    ls = parse_destination("langsmith+https://api.smith.langchain.com?api_key=K&project=p")
    assert (ls.kind, ls.target, ls.api_key, ls.project) == (
        "langsmith",
        "https://api.smith.langchain.com",
        "K",
        "p",
    )
    assert "SECRET" not in http.name and "K" not in ls.name.split("//")[1]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://x", r"use http\(s\)://"),
        ("http://x/v1/traces?emitt=gen_ai", "unknown option 'emitt'"),
        ("http://x/v1/traces?emit=zipkin", "emit must name"),
        ("grpc://x?api_key=k", "are for langsmith"),
        ("http://x/v1/traces?timeout=soon", "timeout"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_destination(url)


def test_url_lists_split_before_each_scheme_only() -> None:
    assert split_urls(
        ["grpc://a:4317, http://b/v1/traces?emit=gen_ai,langsmith", "langsmith+http://c"]
    ) == ["grpc://a:4317", "http://b/v1/traces?emit=gen_ai,langsmith", "langsmith+http://c"]


def test_serve_help_and_bad_forward_url() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"], terminal_width=200)
    for text in (
        "--forward",
        "OTEL_LLM_FORWARD",
        "--forward-wait",
        "OTEL_LLM_FORWARD_WAIT",
        "--forward-max-bytes",
        "--forward-spill-dir",
        "--forward-batch-size",
    ):
        assert text in result.output, text
    result = CliRunner().invoke(main, ["serve", "--forward", "tcp://x"])
    assert result.exit_code == 2 and "use http(s)://" in result.output


def _stored(store: SQLiteStore, outbox: Outbox, seed: int = 1) -> list[str]:
    store.outbox = outbox
    runs = spans_to_runs(trace_spans(seed))
    store.ingest(runs)
    return [str(r.id) for r in runs]


def test_a_change_while_in_flight_is_queued_again(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        ids = _stored(store, Outbox(["d"], open_wait_ns=0))
        entries = due_entries(store._reader(), "d", 2**62)
        assert sorted(e.run_id for e in entries) == sorted(ids)
        store.ingest(spans_to_runs(trace_spans(1)))  # the same runs again: changed
        with store._write() as conn:
            settle(conn, "d", entries)  # sent as read before the change
        again = due_entries(store._reader(), "d", 2**62)
        assert sorted(e.run_id for e in again) == sorted(ids)  # the change still goes out
        with store._write() as conn:
            settle(conn, "d", again)
        assert depth(store._reader(), "d").runs == 0


def test_held_runs_are_queued_again_later(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        ids = _stored(store, Outbox(["d"], open_wait_ns=0))
        entries = due_entries(store._reader(), "d", 2**62)
        with store._write() as conn:
            settle(conn, "d", entries[1:], entries[:1], due_ns=2**62)
        assert due_entries(store._reader(), "d", 2**62 - 1) == []
        [held] = due_entries(store._reader(), "d", 2**62)
        assert held.run_id == ids[0] and depth(store._reader(), "d").runs == 1


def test_batches_are_consecutive_ranges_of_the_due_order(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        ids = [i for seed in range(1, 4) for i in _stored(store, Outbox(["d", "e"], 0), seed)]
        conn = store._reader()
        batches, after = [], START
        while (last := batch_end(conn, "d", after, 2**62, 4)) is not None:
            batches.append(entries_between(conn, "d", after, last))
            after = last
        # Each ingest appended one row per destination: a batch is whole rows.
        assert len(batches) == 3 and all(len(b) == len(ids) // 3 for b in batches)
        in_order = [e for b in batches for e in b]
        # Every run once, in the order `due_entries` gives, and only this destination's.
        assert in_order == due_entries(conn, "d", 2**62)
        assert sorted(e.run_id for e in in_order) == sorted(ids)
        assert batch_end(conn, "d", START, 0, 4) is None  # nothing due yet at time 0


def test_open_runs_are_due_after_the_wait(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        store.outbox = Outbox(["d"], open_wait_ns=3600 * 10**9)
        runs = spans_to_runs(trace_spans(2))
        runs[0].end_time_ns = None
        store.ingest(runs)
        due_later = {e.run_id for e in due_entries(store._reader(), "d", 2**62 // 2)}
        import time

        due_now = {e.run_id for e in due_entries(store._reader(), "d", time.time_ns())}
        assert due_later - due_now == {str(runs[0].id)}
        d = depth(store._reader(), "d")
        assert d.runs == len(runs) and d.bytes > 0 and d.oldest_queued_ns is not None


def test_rendered_spans_are_the_stored_runs(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        _stored(store, Outbox(["d"], 0), seed=3)
        entries = due_entries(store._reader(), "d", 2**62)
        spec = parse_destination("http://x/v1/traces?emit=gen_ai")
        rendered = render_stored(store._reader(), spec, entries, 0, per_request=2)
        assert len(rendered.payloads) == -(-len(entries) // 2)
        spans = [s for p in rendered.payloads for s in decode_otlp_protobuf(p)]
        assert sorted(s.name for s in spans) == sorted(s.name for s in trace_spans(3))
        assert not any(k.startswith("openinference") for s in spans for k in s.attributes)


def test_an_older_database_gets_the_outbox(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.executescript("DROP TABLE forward_outbox; PRAGMA user_version = 1;")
    conn.close()
    with SQLiteStore(path) as store:
        tables = {
            t
            for (t,) in store._reader().execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        }
        version = store._reader().execute("PRAGMA user_version").fetchone()[0]
    assert "forward_outbox" in tables and version == SCHEMA_VERSION


def test_rows_of_the_first_outbox_layout_are_moved(tmp_path: Path) -> None:
    """Version 2 files queued a row per (destination, run) in `outbox`."""
    path = tmp_path / "v2.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE outbox (destination TEXT NOT NULL, run_id TEXT NOT NULL, "
        "seq INTEGER NOT NULL, due INTEGER NOT NULL, queued INTEGER NOT NULL, "
        "bytes INTEGER NOT NULL, PRIMARY KEY (destination, run_id)) WITHOUT ROWID;"
        "INSERT INTO outbox VALUES ('d', 'r1', 1, 10, 10, 500), ('d', 'r2', 1, 99, 9, 700);"
    )
    conn.close()
    with SQLiteStore(path) as store:
        with store._write() as wconn:
            prepare_outbox(wconn)
        entries = due_entries(store._reader(), "d", 100)
        # Updated in place, a v2 row cannot tell whether its run was open when queued:
        # moved as not open, so the run is sent as stored (an open row of an ended run
        # would be skipped, and that run never sent).
        assert [(e.run_id, e.open) for e in entries] == [("r1", False), ("r2", False)]
        d = depth(store._reader(), "d")
        assert (d.runs, d.bytes, d.oldest_queued_ns) == (2, 1200, 9)
        tables = {t for (t,) in store._reader().execute("SELECT name FROM sqlite_master")}
        assert "outbox" not in tables


def test_metrics_text() -> None:
    text = metrics_text(
        [
            {
                "destination": "grpc://a:1",
                "outbox_runs": 3,
                "outbox_bytes": 900,
                "lag_seconds": 1.5,
                "sent_runs": 10,
                "sent_batches": 1,
                "retries": 2,
                "spilled_runs": 0,
                "refused_runs": 0,
                "gone_runs": 0,
            }
        ]
    )
    assert 'otel_llm_forward_outbox_runs{destination="grpc://a:1"} 3' in text
    assert "# TYPE otel_llm_forward_sent_runs_total counter" in text
    assert 'otel_llm_forward_lag_seconds{destination="grpc://a:1"} 1.5' in text


def test_a_change_to_an_ended_run_without_an_end_time_is_due_at_once(tmp_path: Path) -> None:
    """A repeated post of an ended run (no end_time in it) keeps the stored end time: its
    change is due now, and not queued as open (an ended run's open row is skipped)."""
    import time

    with SQLiteStore(tmp_path / "s.db") as store:
        store.outbox = Outbox(["d"], open_wait_ns=3600 * 10**9)
        (run,) = spans_to_runs(trace_spans(3, children=0))
        store.ingest([run])
        with store._write() as conn:
            settle(conn, "d", due_entries(conn, "d", 2**62))
        run.end_time_ns, run.name = None, "renamed"
        store.ingest([run])
        (entry,) = due_entries(store._reader(), "d", time.time_ns())
        assert (entry.run_id, entry.open) == (str(run.id), False)


def test_outbox_row_ids_are_never_reused_and_settle_is_per_destination(tmp_path: Path) -> None:
    """A batch in flight names its rows by id: a row deleted meanwhile (spilled) must not
    hand its id to a newer row that the batch's settle would then delete."""
    with SQLiteStore(tmp_path / "s.db") as store:
        _stored(store, Outbox(["d", "e"], 0), 1)
        conn = store._reader()
        in_flight = due_entries(conn, "d", 2**62)
        top = max(e.row for e in in_flight + due_entries(conn, "e", 2**62))
        with store._write() as wconn:
            wconn.execute("DELETE FROM forward_outbox")  # e.g. spilled by the bound
        _stored(store, Outbox(["d", "e"], 0), 2)
        newer = due_entries(conn, "d", 2**62) + due_entries(conn, "e", 2**62)
        assert min(e.row for e in newer) > top
        with store._write() as wconn:
            settle(wconn, "d", in_flight)  # the stale batch settles: nothing of the newer
            settle(wconn, "d", due_entries(wconn, "e", 2**62))  # another destination's ids
        assert depth(conn, "d").runs + depth(conn, "e").runs == len(newer)


def test_spilling_for_the_bound_drops_the_batches_in_flight(tmp_path: Path) -> None:
    """The bound spills the oldest rows, which are those of the batches rendered ahead:
    those batches are dropped, so a row is settled by the spill or by a send, not both."""
    import dataclasses
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    from otel_llm.forward.forwarder import Forwarder, ForwardSettings
    from otel_llm.forward.render import Rendered

    spec = parse_destination("grpc://127.0.0.1:1")
    with SQLiteStore(tmp_path / "s.db") as store:
        settings = ForwardSettings(batch_size=1, spill_dir=tmp_path / "spill")
        forwarder = Forwarder(store, [spec], settings)
        for seed in (1, 2, 3):
            _stored(store, Outbox([spec.name], 0), seed)
        assert store.outbox is not None
        store.outbox.last_enqueue = 0.0  # ingest quiet: batches are rendered ahead
        with ThreadPoolExecutor(1) as executor:
            forwarder._executor = executor
            pipeline: deque[Future[Rendered]] = deque()
            forwarder._fill(spec, START, pipeline, 2)
            assert len(pipeline) == 2
            stats = forwarder.stats[spec.name]
            forwarder._check_depth(spec, stats, pipeline)  # within the bound: kept
            assert len(pipeline) == 2
            total = depth(store._reader(), spec.name).bytes
            forwarder.settings = dataclasses.replace(settings, max_outbox_bytes=total - 1)
            forwarder._check_depth(spec, stats, pipeline)
            assert not pipeline and stats.spilled_runs > 0


def test_while_ingest_is_active_one_batch_is_rendered_at_a_time(tmp_path: Path) -> None:
    """Render workers slow ingest even at idle priority: while runs are being stored,
    a batch is submitted only when none is still rendering."""
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    from otel_llm.forward.forwarder import Forwarder, ForwardSettings
    from otel_llm.forward.render import Rendered

    spec = parse_destination("grpc://127.0.0.1:1")
    with SQLiteStore(tmp_path / "s.db") as store:
        forwarder = Forwarder(store, [spec], ForwardSettings(batch_size=1))
        outbox = Outbox([spec.name], 0)
        for seed in (1, 2, 3, 4):
            _stored(store, outbox, seed)  # ingest: active now
        with ThreadPoolExecutor(1) as executor:
            forwarder._executor = executor
            rendering: Future[Rendered] = Future()  # a batch still being rendered
            pipeline: deque[Future[Rendered]] = deque([rendering])
            cursor = forwarder._fill(spec, START, pipeline, 3)
            assert list(pipeline) == [rendering] and cursor == START
            outbox.last_enqueue = 0.0  # ingest quiet: fill the pipeline
            forwarder._fill(spec, START, pipeline, 3)
            assert len(pipeline) == 3
