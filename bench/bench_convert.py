"""Throughput of the OTLP codecs and the span <-> run conversion, on one core.

Builds a realistic request (bench/fixtures.py: mixed conventions, traces of ~10 spans)
and prints spans/s, best of N runs, next to each target.

    python bench/bench_convert.py [--spans 1000] [--attrs 20] [--repeat 7]
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from collections.abc import Callable

from fixtures import make_request_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otel_llm.convert import runs_to_spans, spans_to_runs
from otel_llm.otlp import (
    decode_otlp_json,
    decode_otlp_protobuf,
    decode_request,
    encode_otlp_json,
    encode_otlp_protobuf,
    encode_request,
    span_from_readable,
    spans_to_readable,
)


def best_rate(work: Callable[[], object], n_spans: int, repeat: int) -> float:
    """Spans per second of the fastest of `repeat` runs (the garbage collector stays on:
    a server pays for it too)."""
    work()  # warm caches and lazy imports
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return n_spans / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=1000, help="spans per request")
    parser.add_argument("--attrs", type=int, default=20, help="attributes per span")
    parser.add_argument("--repeat", type=int, default=7, help="runs per figure (best kept)")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):  # one core, as the targets are stated
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    spans = make_request_spans(args.spans, args.attrs)
    n = len(spans)
    proto = encode_otlp_protobuf(spans)
    json_body = encode_otlp_json(spans)
    runs = spans_to_runs(decode_otlp_protobuf(proto))
    readable = spans_to_readable(spans)

    cases: list[tuple[str, Callable[[], object], float | None]] = [
        ("protobuf decode", lambda: decode_otlp_protobuf(proto), 70_000),
        # The reference path, which an install without a C compiler takes.
        ("  upb only", lambda: decode_request(ExportTraceServiceRequest.FromString(proto)), None),
        ("OTLP/JSON decode", lambda: decode_otlp_json(json_body), None),
        ("protobuf encode", lambda: encode_otlp_protobuf(spans), None),
        ("  upb only", lambda: encode_request(spans).SerializeToString(), None),
        ("OTLP/JSON encode", lambda: encode_otlp_json(spans), None),
        ("ReadableSpan -> SpanRecord", lambda: [span_from_readable(s) for s in readable], None),
        ("protobuf -> runs", lambda: spans_to_runs(decode_otlp_protobuf(proto)), 40_000),
        ("OTLP/JSON -> runs", lambda: spans_to_runs(decode_otlp_json(json_body)), 30_000),
        ("runs -> protobuf", lambda: encode_otlp_protobuf(runs_to_spans(runs)), 40_000),
        ("  the same, emit={'gen_ai'}",
         lambda: encode_otlp_protobuf(runs_to_spans(runs, emit={"gen_ai"})), None),
    ]
    print(
        f"{n} spans x {args.attrs} attributes; protobuf {len(proto):,} bytes, "
        f"OTLP/JSON {len(json_body):,} bytes; best of {args.repeat}, one core"
    )
    print(f"{'step':<28} {'spans/s':>10}  target")
    for label, work, target in cases:
        rate = best_rate(work, n, args.repeat)
        verdict = ""
        if target is not None:
            verdict = f">= {target:,}  {'ok' if rate >= target else 'BELOW TARGET'}"
        print(f"{label:<28} {rate:>10,.0f}  {verdict}")


if __name__ == "__main__":
    main()
