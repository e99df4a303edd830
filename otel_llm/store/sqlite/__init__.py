"""The run store on SQLite: one file, WAL, one serialized writer, readers in parallel.

Durability: every `ingest` is one transaction committed before it returns. With WAL and
`synchronous=NORMAL` (the default) a commit is in the operating system's hands when
`ingest` returns, so it survives `kill -9` of the process; only an OS crash or power
loss can lose the last commits. `synchronous="FULL"` fsyncs every commit and closes
that gap at the cost of one fsync per transaction.

Trees are completed on ingest. Spans end child-first, so a run often arrives before its
parent. Such a run (`extra.otel.incomplete`) has a provisional trace id and a dotted
order that starts at its topmost ancestor present; the topmost run of each such
fragment is listed in the `orphans` table. When a parent arrives, every fragment that
waits for it gets the parent's dotted order as prefix and its trace id, in one indexed
range UPDATE per fragment. A complete trace in one batch touches no orphan at all.

Token counts and costs: a generation (run_type llm or embedding) shows its own usage;
any other run shows the sum over the generations below it (kept current on ingest, so
an agent span's own usage attributes never count twice). A generation that records the
same provider call as its parent generation (double instrumentation) is marked
`duplicate_of` and counts nowhere but in its parent (`duplicates`). Trace aggregates
live in the `traces` table, keyed by OTel trace id so that they never move when a tree
is completed.

Indexes, kept few because every one costs ingest time: runs by id, by (project,
start_time) and (project, run_type, start_time) for pages with a keyset cursor, and by
(trace_key, dotted_order) for trees. `trace_key` is an integer each OTel trace gets in
arrival order, so that index grows at its end instead of taking random inserts of UUID
text. WAL checkpoints run on a background thread (`_Checkpointer`), off the commit path.

The package, one module per part (a second store can take the parts it shares):
`schema` (tables, row columns, the upsert and rollup SQL), `rows` (runs -> rows, no
database access: the server runs it in its decode workers), `ingest` (one ingest
transaction: tree placement, upserts, aggregates), `duplicates` (double
instrumentation: marks and the totals they move), `log_events` (OTLP log records joined
to runs), `reads` (projects, runs, traces, query plans), `transactions` (the writer's
transaction, WAL checkpoints, failure classification) and `store` (`SQLiteStore`
itself).
"""

from otel_llm.store.sqlite.rows import Row, SQLiteRowBuilder
from otel_llm.store.sqlite.schema import (
    ALWAYS_SELECTED,
    GENERATION_TYPES,
    READ_FIELDS,
    SCHEMA_VERSION,
    TENANT_ID,
)
from otel_llm.store.sqlite.store import SQLiteStore
from otel_llm.store.sqlite.transactions import store_error

__all__ = [
    "ALWAYS_SELECTED",
    "GENERATION_TYPES",
    "READ_FIELDS",
    "SCHEMA_VERSION",
    "TENANT_ID",
    "Row",
    "SQLiteRowBuilder",
    "SQLiteStore",
    "store_error",
]
