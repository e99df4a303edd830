"""Run store benchmark: ingest rate, a 10,000-run trace read, filtered query pages.

    python bench/bench_store.py [--runs 1000000] [--db PATH] [--keep]

Generates realistic runs (LLM calls with messages and usage, tools, retrievers, nested
chains; ~20 runs per trace, one trace of 10,000 runs) directly as `Run` objects, so the
figures are the store's own work (row preparation, JSON encoding, SQLite), not span
conversion. Prints figures, each with its ratio to the yardstick measured in the same
run (fixtures.Yardstick: one core's orjson.loads + walk of a 1,000-span OTLP/JSON
request): rates as multiples of its spans/s, times as multiples of its time for 1,000
spans (`yr`). Targets are those ratios.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fixtures import Yardstick

from otel_llm.ids import dotted_order, run_id_from_span_id
from otel_llm.model import Run
from otel_llm.store import RunQuery, SQLiteStore

BATCH = 1000
# Targets in yardstick time for 1,000 spans (`yr`): 200 ms and 500 ms on 2026-11-21,
# whose yardstick is estimated at 14.0 ms per 1,000 spans (see bench_convert.py).
TREE_TARGET_YR = 14.0
PAGE_TARGET_YR = 36.0
T0 = 1_790_000_000_000_000_000
MS = 1_000_000
MODELS = ("gpt-4o-mini", "gpt-4o-2024-08-06", "claude-3-5-sonnet-20241022", "gemini-2.5-flash")
TOOLS = ("search_web", "get_weather", "run_sql", "read_file")


class Generator:
    """Traces as a converter would produce them from one complete batch of spans."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.clock = T0

    def run(
        self,
        name: str,
        run_type: str,
        parent: Run | None,
        trace_hex: str,
        start: int,
        duration_ms: float,
        **extra: Any,
    ) -> Run:
        rng = self.rng
        run_id = run_id_from_span_id(rng.randbytes(8))
        end = start + int(duration_ms * MS)
        run = Run(
            id=run_id,
            name=name,
            run_type=run_type,
            trace_id=parent.trace_id if parent else run_id,
            parent_run_id=parent.id if parent else None,
            dotted_order=dotted_order(parent.dotted_order if parent else None, start, run_id),
            start_time_ns=start,
            end_time_ns=end,
            extra={"otel": {"trace_id": trace_hex}, **extra.pop("extra", {})},
            **extra,
        )
        return run

    def trace(self, size: int) -> list[Run]:
        rng = self.rng
        self.clock += rng.randint(1, 200) * MS
        start = self.clock
        trace_hex = rng.randbytes(16).hex()
        tags = ["prod"] if rng.random() < 0.8 else ["beta"]
        root = self.run(
            "agent",
            "chain",
            None,
            trace_hex,
            start,
            rng.uniform(500, 9000),
            inputs={"input": f"question {rng.randint(0, 10**6)}"},
            outputs={"output": "an answer " * 5},
            tags=tags,
            extra={"metadata": {"user_id": f"u{rng.randint(0, 999)}", "observation_type": "agent"}},
        )
        runs = [root]
        chains = [root]
        while len(runs) < size:
            parent = rng.choice(chains)
            t = parent.start_time_ns + rng.randint(1, 50) * MS
            kind = rng.random()
            if kind < 0.45:
                model = rng.choice(MODELS)
                prompt, completion = rng.randint(50, 4000), rng.randint(10, 800)
                usage = {
                    "input_tokens": prompt,
                    "output_tokens": completion,
                    "total_tokens": prompt + completion,
                    "input_token_details": {"cache_read": prompt // 4},
                }
                run = self.run(
                    f"chat {model}",
                    "llm",
                    parent,
                    trace_hex,
                    t,
                    rng.uniform(200, 6000),
                    inputs={
                        "messages": [
                            {"role": "system", "content": "You help."},
                            {"role": "user", "content": "Tell me " * 8},
                        ]
                    },
                    outputs={"generations": [{"text": "Sure. " * 12}], "usage_metadata": usage},
                    extra={
                        "metadata": {
                            "ls_provider": "openai",
                            "ls_model_name": model,
                            "ls_model_type": "chat",
                            "usage_metadata": usage,
                        },
                        "invocation_params": {"model": model, "temperature": 0.2},
                    },
                )
            elif kind < 0.7:
                tool = rng.choice(TOOLS)
                error = "TimeoutError: no answer" if rng.random() < 0.03 else None
                run = self.run(
                    tool,
                    "tool",
                    parent,
                    trace_hex,
                    t,
                    rng.uniform(5, 800),
                    inputs={"input": '{"query": "weather in Paris"}'},
                    outputs=None if error else {"output": "sunny, 21 C"},
                    error=error,
                )
            elif kind < 0.85:
                run = self.run(
                    "retrieve_docs",
                    "retriever",
                    parent,
                    trace_hex,
                    t,
                    rng.uniform(20, 300),
                    inputs={"query": "capital of France"},
                    outputs={
                        "documents": [
                            {"page_content": "Paris " * 10, "metadata": {"id": i}} for i in range(4)
                        ]
                    },
                )
            else:
                run = self.run(
                    "step",
                    "chain",
                    parent,
                    trace_hex,
                    t,
                    rng.uniform(100, 3000),
                    inputs={"input": "x"},
                    outputs={"output": "y"},
                )
                chains.append(run)
            runs.append(run)
        return runs

    def runs(self, total: int, trace_size: int = 20) -> Iterator[list[Run]]:
        """Batches of BATCH runs made of whole traces."""
        batch: list[Run] = []
        made = 0
        while made < total:
            trace = self.trace(min(trace_size, total - made))
            made += len(trace)
            batch.extend(trace)
            if len(batch) >= BATCH:
                yield batch[:BATCH]
                batch = batch[BATCH:]
        if batch:
            yield batch


def split_children_first(batches: Iterator[list[Run]]) -> Iterator[list[Run]]:
    """The same runs, but every trace's root (and its direct children) arrives one batch
    later, after the rest: how spans reach a receiver when traces straddle exports."""
    held: list[Run] = []
    for batch in batches:
        late = [r for r in batch if r.parent_run_id is None or _depth(r) == 1]
        early = [r for r in batch if not (r.parent_run_id is None or _depth(r) == 1)]
        for run in early:
            # Cut the tree above depth 2: provisional trace id, partial dotted order.
            segments = run.dotted_order.split(".")  # type: ignore[union-attr]
            run.dotted_order = ".".join(segments[2:])
            run.trace_id = uuid.UUID(hex=run.extra["otel"]["trace_id"])
            run.extra["otel"]["incomplete"] = True
        yield early + held
        held = late
    if held:
        yield held


def _depth(run: Run) -> int:
    return run.dotted_order.count(".")  # type: ignore[union-attr]


def timed(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    """Median milliseconds of `repeat` calls, and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


def ingest(store: SQLiteStore, batches: Iterator[list[Run]], project: str) -> tuple[int, float]:
    runs, seconds = 0, 0.0
    for batch in batches:
        t = time.perf_counter()
        runs += store.ingest(batch, project)
        seconds += time.perf_counter() - t
    return runs, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the database file")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-store-")
    db = args.db or Path(tmp) / "bench.db"
    print(f"store file: {db}  ({os.cpu_count()} cores)")
    yard = Yardstick()
    gen = Generator()
    with SQLiteStore(db) as store:
        t = time.perf_counter()
        big = gen.trace(10_000)
        n, secs = ingest(
            store, iter([big[i : i + BATCH] for i in range(0, len(big), BATCH)]), "prod"
        )
        n2, secs2 = ingest(store, gen.runs(args.runs - 10_000 - args.runs // 10), "prod")
        n3, secs3 = ingest(store, gen.runs(args.runs // 10), "dev")
        total, ingest_secs = n + n2 + n3, secs + secs2 + secs3
        ingest_rate = total / ingest_secs
        print(
            f"ingest, complete traces, {BATCH} runs per transaction: {total:,} runs in "
            f"{ingest_secs:.1f} s = {ingest_rate:,.0f} runs/s "
            f"(wall incl. generation {time.perf_counter() - t:.0f} s)"
        )

        split_db = Path(tmp) / "split.db"
        with SQLiteStore(split_db) as split:
            m, msecs = ingest(split, split_children_first(Generator(2).runs(100_000)), "prod")
            split_rate = m / msecs
            print(
                f"ingest, traces split across requests (children first): {m:,} runs at "
                f"{split_rate:,.0f} runs/s"
            )
        split_db.unlink()

        tree_ms, runs = timed(lambda: store.trace_runs(big[0].id))
        print(f"trace tree read, {len(runs):,} runs (full read shape): {tree_ms:.0f} ms")
        prod = store.list_projects(name="prod")[0]["id"]
        user = big[0].extra["metadata"]["user_id"]
        queries: list[tuple[str, RunQuery]] = [
            ("newest runs of a project", RunQuery(session=[prod])),
            ("is_root=true", RunQuery(session=[prod], is_root=True)),
            ("run_type=llm", RunQuery(session=[prod], run_type="llm")),
            (
                'eq(run_type,"llm") and gt(latency,"5s")',
                RunQuery(session=[prod], filter='and(eq(run_type, "llm"), gt(latency, "5s"))'),
            ),
            ("neq(error, null)", RunQuery(session=[prod], filter="neq(error, null)")),
            (
                'has(tags, "beta") roots',
                RunQuery(session=[prod], is_root=True, filter='has(tags, "beta")'),
            ),
            (
                "metadata user_id = one user",
                RunQuery(
                    session=[prod],
                    filter=f'and(eq(metadata_key, "user_id"), eq(metadata_value, "{user}"))',
                ),
            ),
            ("gt(total_tokens, 4000)", RunQuery(session=[prod], filter="gt(total_tokens, 4000)")),
            (
                "tools in traces tagged beta (trace_filter)",
                RunQuery(session=[prod], run_type="tool", trace_filter='has(tags, "beta")'),
            ),
            ("all projects, no session", RunQuery()),
            (
                'search("question") (common: newest runs first)',
                RunQuery(session=[prod], filter='search("question")', limit=10),
            ),
            (
                'search("question 4242") (rare: full scan)',
                RunQuery(session=[prod], filter='search("question 4242")', limit=10),
            ),
        ]
        print(f"filtered /runs/query pages of 100 over {total:,} runs (median of 5):")
        pages: list[tuple[str, float, float, int]] = []
        for label, q in queries:
            ms, (page, cursor) = timed(lambda q=q: store.query_runs(q))
            ms2 = float("nan")
            if cursor is not None:
                q2 = RunQuery(**{**q.__dict__, "cursor": cursor})
                ms2, _ = timed(lambda q2=q2: store.query_runs(q2))
            pages.append((label, ms, ms2, len(page)))
        stats_ms, _ = timed(lambda: store.run_stats(RunQuery(session=[prod], is_root=True)))
        print(f"file size: {db.stat().st_size / 1e6:,.0f} MB")
    yard.remeasure()  # the faster of the start's and the end's
    print(yard.describe())
    yr = yard.request_ms
    print(
        f"ingest: {ingest_rate:,.0f} runs/s = {yard.rate_ratio(ingest_rate):.2f} x yardstick; "
        f"split: {split_rate:,.0f} runs/s = {yard.rate_ratio(split_rate):.2f} x"
    )
    verdict = "ok" if tree_ms / yr < TREE_TARGET_YR else "ABOVE TARGET"
    print(
        f"trace tree read: {tree_ms:.0f} ms = {tree_ms / yr:.1f} yr "
        f"(target < {TREE_TARGET_YR:.0f} yr: {verdict})"
    )
    worst = max(ms for _, ms, _, _ in pages)
    for label, ms, ms2, n_page in pages:
        print(
            f"  {label:48s} {ms:7.1f} ms {ms / yr:6.2f} yr  (next page {ms2:6.1f} ms, "
            f"{n_page} runs)"
        )
    verdict = "ok" if worst / yr < PAGE_TARGET_YR else "ABOVE TARGET"
    print(
        f"slowest page: {worst:.0f} ms = {worst / yr:.1f} yr (target < {PAGE_TARGET_YR:.0f} yr: "
        f"{verdict})"
    )
    print(f"run stats of every root of the big project: {stats_ms:.0f} ms = {stats_ms / yr:.1f} yr")
    if not args.keep and args.db is None:
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
