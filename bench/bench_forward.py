"""Forwarding: does it keep up with ingest, and what does it cost ingest?

Three phases in one run, each on real `python -m otel_llm serve` subprocesses with fresh
databases, the same realistic spans (bench/fixtures.py: ~20 attributes, 1,000 spans per
request, 4 clients, OTLP/HTTP protobuf, ack = committed):

1. OTLP ingest, no forwarding: acknowledged spans / elapsed time (the reference).
2. OTLP ingest with one forward destination on (a second otel-llm serve over OTLP/gRPC,
   draining at the same time): the same figure; target >= 0.85x of (1).
3. Forwarding throughput: a server whose destination is down takes the same spans into
   its outbox; then the destination (a second otel-llm serve) starts, and the rate at
   which runs arrive there is measured until all are in; target >= 1.0x of (1).

    python bench/bench_forward.py [--requests 40] [--clients 4]
"""

from __future__ import annotations

import argparse
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from fixtures import make_request_spans

from otel_llm.otlp import encode_otlp_protobuf

SPANS_PER_REQUEST = 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`python -m otel_llm serve` on given or free loopback ports."""

    def __init__(self, db: Path, *extra: str, http_port: int = 0, grpc_port: int = 0) -> None:
        self.db = db
        self.http_port = http_port or free_port()
        self.grpc_port = grpc_port or free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "otel_llm", "serve", "--db", str(db),
             "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port),
             "--log-level", "warning", *extra],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if "read API" in line:
                break
        else:
            raise SystemExit("otel-llm serve did not start")
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def runs(self) -> int:
        with sqlite3.connect(self.db, timeout=30) as conn:
            count: int = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            return count

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(300)


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


def wait_for(predicate: object, timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    total = args.requests * SPANS_PER_REQUEST

    def bodies(first_seed: int) -> list[bytes]:
        return [encode_otlp_protobuf(make_request_spans(SPANS_PER_REQUEST, 20, seed=first_seed + i))
                for i in range(args.requests)]  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # 1. ingest alone
        plain = Server(work / "plain.db")
        ingest(plain, bodies(1_000), args.clients)  # warm-up: workers, page cache
        base = ingest(plain, bodies(2_000), args.clients)
        plain.stop()

        # 2. ingest with one destination draining at the same time
        receiver = Server(work / "receiver.db")
        source = Server(work / "source.db", "--forward", f"grpc://127.0.0.1:{receiver.grpc_port}")
        ingest(source, bodies(1_000), args.clients)
        with_forward = ingest(source, bodies(2_000), args.clients)
        wait_for(lambda: receiver.runs() >= 2 * total)
        source.stop()
        receiver.stop()

        # 3. forwarding throughput: a full outbox, then the destination starts
        port = free_port()
        backlog = Server(work / "backlog.db", "--forward", f"grpc://127.0.0.1:{port}")
        ingest(backlog, bodies(3_000), args.clients)
        late = Server(work / "late.db", grpc_port=port)
        wait_for(lambda: late.runs() > 0)
        first, start = late.runs(), time.perf_counter()
        wait_for(lambda: late.runs() >= total)
        forwarding = (total - first) / (time.perf_counter() - start)
        backlog.stop()
        late.stop()

    print(f"OTLP/HTTP protobuf ingest, no forwarding:   {base:>9,.0f} spans/s")
    ratio = with_forward / base
    mark = "met" if ratio >= 0.85 else "not met"
    print(f"ingest with one forward destination on:     {with_forward:>9,.0f} spans/s  "
          f"{ratio:.2f}x (target >= 0.85x: {mark})")  # fmt: skip
    ratio = forwarding / base
    mark = "met" if ratio >= 1.0 else "not met"
    print(f"forwarding to a local otel-llm serve (gRPC): {forwarding:>8,.0f} spans/s  "
          f"{ratio:.2f}x (target >= 1.0x: {mark})")  # fmt: skip


if __name__ == "__main__":
    main()
