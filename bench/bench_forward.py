"""Forwarding: does it keep up with ingest, and what does it cost ingest?

Phases in one run, each on real `python -m otel_llm serve` subprocesses with fresh
databases, the same realistic spans (bench/fixtures.py: ~20 attributes, 1,000 spans per
request, 4 clients, OTLP/HTTP protobuf, ack = committed):

1. OTLP ingest, no forwarding: acknowledged spans / elapsed time (the reference).
2. OTLP ingest with one forward destination on (OTLP/gRPC), draining at the same time:
   the same figure; target >= 0.85x of (1). (1) and (2) run in alternating rounds
   (`--rounds`, the same requests to both servers) and their medians are compared, as
   the load of a shared machine changes from minute to minute. Also printed: how many
   spans had reached the destination when each round's ingest ended, and how long after
   that the rest took.
3. Forwarding throughput: a server whose destination is down takes the same spans into
   its outbox; then the destination starts, and the rate at which spans arrive there is
   measured from the first to the last; target >= 1.0x of (1).

The destination of (2) and (3) is a local OTLP receiver: a separate process serving
OTLP/gRPC `TraceService/Export` (grpcio and the opentelemetry-proto classes), which
parses every request and counts its spans; it stores nothing, so the figures measure the
forwarder, not a second store. (3) is also run with a second `otel-llm serve` as the
destination (it decodes, converts and commits each forwarded span, about twice the bytes
of an ingested one, on the same cores), printed for comparison.

    python bench/bench_forward.py [--requests 40] [--clients 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import httpx
from bench_serve import Server, free_port
from fixtures import make_request_spans

from otel_llm.otlp import encode_otlp_protobuf

SPANS_PER_REQUEST = 1000


def ingest(server: Server, bodies: list[bytes], clients: int) -> float:
    """Send every body (503s retried); acknowledged spans per second."""
    work = iter(bodies)
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(timeout=120) as http:
            while True:
                with lock:
                    body = next(work, None)
                if body is None:
                    return
                while http.post(f"{server.base}/v1/traces", content=body,
                                headers={"content-type": "application/x-protobuf"}
                                ).status_code == 503:  # fmt: skip
                    time.sleep(0.05)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    return len(bodies) * SPANS_PER_REQUEST / (time.perf_counter() - start)


def _count_spans(port: int, count: Synchronized[int]) -> None:
    """Serve OTLP/gRPC on `port`: parse each request, add its spans to `count`."""
    from concurrent import futures

    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as pb
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as pb_grpc

    class Counter(pb_grpc.TraceServiceServicer):  # type: ignore[misc]
        def Export(self, request: pb.ExportTraceServiceRequest, context: object) -> object:
            spans = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
            with count.get_lock():
                count.value += spans
            return pb.ExportTraceServiceResponse()

    server = grpc.server(
        futures.ThreadPoolExecutor(4),
        options=[("grpc.max_receive_message_length", 256 * 1024 * 1024)],
    )
    pb_grpc.add_TraceServiceServicer_to_server(Counter(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


class CountingReceiver:
    """A local OTLP/gRPC receiver in its own process that parses and counts spans."""

    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port()
        context = multiprocessing.get_context("spawn")
        self.count: Synchronized[int] = context.Value("q", 0)  # type: ignore[assignment]
        self.proc = context.Process(target=_count_spans, args=(self.port, self.count), daemon=True)
        self.proc.start()

    def spans(self) -> int:
        return int(self.count.value)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(30)


def wait_for(predicate: Callable[[], bool], timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.05)


def arrival_rate(count: Callable[[], int], total: int) -> float:
    """Spans per second arriving at a destination, from the first to the last."""
    wait_for(lambda: count() > 0)
    first, start = count(), time.perf_counter()
    wait_for(lambda: count() >= total)
    return (total - first) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    total = args.requests * SPANS_PER_REQUEST

    def bodies(first_seed: int) -> list[bytes]:
        return [encode_otlp_protobuf(make_request_spans(SPANS_PER_REQUEST, 20, seed=first_seed + i))
                for i in range(args.requests)]  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # 1 and 2, in alternating rounds (the same requests to each server, so a shared
        # machine's changing load falls on both alike); the medians are compared.
        plain = Server(work / "plain", [])
        receiver = CountingReceiver()
        source = Server(work / "source", ["--forward", f"grpc://127.0.0.1:{receiver.port}"])
        warm_up = bodies(1_000)  # workers, page cache
        ingest(plain, warm_up, args.clients)
        ingest(source, warm_up, args.clients)
        wait_for(lambda: receiver.spans() >= total)
        bases, withs, arrivals, drains = [], [], [], []
        for n in range(args.rounds):
            batch = bodies(10_000 * (n + 1))
            bases.append(ingest(plain, batch, args.clients))
            before = receiver.spans()
            withs.append(ingest(source, batch, args.clients))
            ended = time.perf_counter()
            arrivals.append(receiver.spans() - before)
            # Drained before the next round, so each starts level.
            wait_for(lambda goal=before + total: receiver.spans() >= goal)
            drains.append(time.perf_counter() - ended)
        base, with_forward = statistics.median(bases), statistics.median(withs)
        plain.stop()
        source.stop()
        receiver.stop()

        # 3. forwarding throughput: a full outbox, then the destination starts
        rates = {}
        for destination in ("receiver", "serve"):
            port = free_port()
            backlog = Server(
                work / f"backlog-{destination}", ["--forward", f"grpc://127.0.0.1:{port}"]
            )
            ingest(backlog, bodies(3_000), args.clients)
            if destination == "receiver":
                counter = CountingReceiver(port)
                rates[destination] = arrival_rate(counter.spans, total)
                counter.stop()
            else:
                late = Server(work / "late", [], grpc_port=port)
                rates[destination] = arrival_rate(late.runs, total)
                late.stop()
            backlog.stop()

    rounds = ", ".join(f"{w / b:.2f}x" for b, w in zip(bases, withs, strict=True))
    print(f"OTLP/HTTP protobuf ingest, no forwarding:   {base:>9,.0f} spans/s  "
          f"(median of {args.rounds} rounds)")  # fmt: skip
    ratio = with_forward / base
    mark = "met" if ratio >= 0.85 else "not met"
    print(f"ingest with one forward destination on:     {with_forward:>9,.0f} spans/s  "
          f"{ratio:.2f}x (target >= 0.85x: {mark}; rounds {rounds})")  # fmt: skip
    arrived = ", ".join(f"{a:,}" for a in arrivals)
    rest = ", ".join(f"{d:.1f}" for d in drains)
    print(f"  at the destination when ingest ended: {arrived} of {total:,} spans; "
          f"the rest {rest} s later")  # fmt: skip
    ratio = rates["receiver"] / base
    mark = "met" if ratio >= 1.0 else "not met"
    print(f"forwarding to a local OTLP/gRPC receiver:   {rates['receiver']:>9,.0f} spans/s  "
          f"{ratio:.2f}x (target >= 1.0x: {mark})")  # fmt: skip
    print(f"forwarding to a local otel-llm serve (gRPC): {rates['serve']:>8,.0f} spans/s  "
          f"{rates['serve'] / base:.2f}x (it stores what it gets, on the same cores)")  # fmt: skip


if __name__ == "__main__":
    main()
