"""Throughput of the OTLP codecs and the span <-> run conversion, on one core.

Builds a realistic request (bench/fixtures.py: mixed conventions, traces of ~10 spans)
and prints spans/s, best of N runs, and each as a ratio to the yardstick measured in the
same run on the same request (fixtures.Yardstick: one core's orjson.loads + a walk of the
OTLP/JSON body). Targets are ratios, so a verdict means the same on a slow day.

    python bench/bench_convert.py [--spans 1000] [--attrs 20] [--repeat 7]
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from collections.abc import Callable

from fixtures import Yardstick, make_request_spans
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

# Targets as multiples of the yardstick: the absolute targets of 2026-11-21 (70,000,
# 40,000, 30,000, 40,000 spans/s) over that day's yardstick, estimated as 71,600 spans/s
# (2026-12-03's yardstick times the drift of the C protobuf decoder, unchanged code,
# between the two days: 286,400 / 148,900 spans/s).
TARGETS = {
    "protobuf decode": 1.0,
    "protobuf -> runs": 0.55,
    "OTLP/JSON -> runs": 0.4,
    "runs -> protobuf": 0.55,
}


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

    # Targets, as multiples of the yardstick's spans/s.
    cases: list[tuple[str, Callable[[], object], float | None]] = [
        ("protobuf decode", lambda: decode_otlp_protobuf(proto), TARGETS["protobuf decode"]),
        # The reference path, which an install without a C compiler takes.
        ("  upb only", lambda: decode_request(ExportTraceServiceRequest.FromString(proto)), None),
        ("OTLP/JSON decode", lambda: decode_otlp_json(json_body), None),
        ("protobuf encode", lambda: encode_otlp_protobuf(spans), None),
        ("  upb only", lambda: encode_request(spans).SerializeToString(), None),
        ("OTLP/JSON encode", lambda: encode_otlp_json(spans), None),
        ("ReadableSpan -> SpanRecord", lambda: [span_from_readable(s) for s in readable], None),
        (
            "protobuf -> runs",
            lambda: spans_to_runs(decode_otlp_protobuf(proto)),
            TARGETS["protobuf -> runs"],
        ),
        (
            "OTLP/JSON -> runs",
            lambda: spans_to_runs(decode_otlp_json(json_body)),
            TARGETS["OTLP/JSON -> runs"],
        ),
        (
            "runs -> protobuf",
            lambda: encode_otlp_protobuf(runs_to_spans(runs)),
            TARGETS["runs -> protobuf"],
        ),
        (
            "  the same, emit={'gen_ai'}",
            lambda: encode_otlp_protobuf(runs_to_spans(runs, emit={"gen_ai"})),
            None,
        ),
    ]
    print(
        f"{n} spans x {args.attrs} attributes; protobuf {len(proto):,} bytes, "
        f"OTLP/JSON {len(json_body):,} bytes; best of {args.repeat}, one core"
    )
    yard = Yardstick(args.spans, args.attrs, args.repeat)
    print(yard.describe())
    print(f"{'step':<28} {'spans/s':>10} {'x yard':>7}  target (x yardstick)")
    for label, work, target in cases:
        rate = best_rate(work, n, args.repeat)
        ratio = yard.rate_ratio(rate)
        verdict = ""
        if target is not None:
            verdict = f">= {target:.2f}  {'ok' if ratio >= target else 'BELOW TARGET'}"
        print(f"{label:<28} {rate:>10,.0f} {ratio:>7.2f}  {verdict}")


if __name__ == "__main__":
    main()
