"""End-to-end ingest of `otel-llm serve`: spans/s per transport, then RSS under overload.

Starts the real server as a subprocess (`python -m otel_llm serve`) on free loopback
ports with a fresh database, and sends realistic LLM spans (bench/fixtures.py: ~20
attributes, 1,000 spans per request, every request new spans) from client threads:

1. Throughput, per transport (OTLP/HTTP protobuf, OTLP/HTTP JSON, OTLP/gRPC), each on a
   fresh server and database so the transports compare fairly: every request is
   acknowledged only after its spans are committed, so acknowledged spans / elapsed
   time is the rate of durable ingest. Also prints the server's CPU time per 1,000
   spans (server process, decode workers): the figure that holds on a busy machine.
2. Overload: clients send as fast as they can for `--overload-seconds` (default 60),
   retrying 503s at once, while the server's RSS (server process plus its decode
   workers, from /proc/PID/status VmRSS) is sampled. Prints the peak and the 503 count.

Rates are also printed as ratios to the yardstick measured in the same run
(fixtures.Yardstick: one core's orjson.loads + walk of a 1,000-span OTLP/JSON request),
and the targets are those ratios. The server's log (access lines; every 503 of the
overload phase is a warning line) goes to a file in its temporary directory.

    python bench/bench_serve.py [--requests 40] [--clients 4] [--workers N]
                                [--overload-seconds 60] [--transports protobuf,json,grpc]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import httpx
from fixtures import Yardstick, make_request_spans

from otel_llm.otlp import encode_otlp_json, encode_otlp_protobuf

# x the yardstick's spans/s: 25,000 and 20,000 spans/s on 2026-11-21, whose yardstick is
# estimated at 71,600 spans/s (see bench_convert.py).
TARGETS = {"protobuf": 0.35, "json": 0.28}
RSS_TARGET_MB = 300
MAX_RETRIES = 200  # per request, on 503, before the request counts as failed
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`python -m otel_llm serve` with a fresh database in `workdir` (made if missing),
    on free loopback ports (or the given gRPC port)."""

    def __init__(self, workdir: Path, extra: list[str], *, grpc_port: int = 0) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.db = workdir / "bench.db"
        self.http_port, self.grpc_port = free_port(), grpc_port or free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "otel_llm",
                "serve",
                "--db",
                str(self.db),
                "--http-port",
                str(self.http_port),
                "--grpc-port",
                str(self.grpc_port),
                "--log-level",
                "warning",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=open(workdir / "server.log", "w"),  # noqa: SIM115 (closed with the dir)
            text=True,
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if "read API" in line:
                break
        else:
            raise SystemExit("otel-llm serve did not start")
        # Keep reading stdout so the server never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def url(self) -> str:
        return f"{self.base}/v1/traces"

    def runs(self) -> int:
        """Runs stored so far."""
        with sqlite3.connect(self.db, timeout=30) as conn:
            count: int = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            return count

    def rss_mb(self) -> tuple[float, float]:
        """(server process, server + its children) resident memory in MB."""
        own = _rss_kb(self.proc.pid)
        children = sum(_rss_kb(pid) for pid in _children(self.proc.pid))
        return own / 1024, (own + children) / 1024

    def cpu_seconds(self) -> tuple[float, float]:
        """(server process, its decode workers) CPU time used so far, in seconds."""
        return _cpu(self.proc.pid), sum(_cpu(pid) for pid in _children(self.proc.pid))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(120)


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                found.append(int(entry))
    return found


Sender = Callable[[bytes], int]  # sends one body, returns an HTTP-like status


def http_sender(url: str, content_type: str) -> Callable[[], Sender]:
    def make() -> Sender:
        client = httpx.Client(timeout=120)

        def send(body: bytes) -> int:
            return client.post(
                url, content=body, headers={"content-type": content_type}
            ).status_code

        return send

    return make


def grpc_sender(address: str) -> Callable[[], Sender]:
    def make() -> Sender:
        channel = grpc.insecure_channel(
            address, options=[("grpc.max_send_message_length", 1 << 28)]
        )
        call = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)

        def send(body: bytes) -> int:
            try:
                call(body, timeout=120)
            except grpc.RpcError as exc:
                code = exc.code()  # type: ignore[attr-defined]
                return 503 if code == grpc.StatusCode.UNAVAILABLE else 500
            return 200

        return send

    return make


ENCODERS = {
    "protobuf": encode_otlp_protobuf,
    "json": encode_otlp_json,
    "grpc": encode_otlp_protobuf,
}


def senders(server: Server) -> dict[str, Callable[[], Sender]]:
    return {
        "protobuf": http_sender(server.url, "application/x-protobuf"),
        "json": http_sender(server.url, "application/json"),
        "grpc": grpc_sender(f"127.0.0.1:{server.grpc_port}"),
    }


def bodies(transport: str, count: int, first_seed: int, spans: int, attrs: int) -> list[bytes]:
    encode = ENCODERS[transport]
    return [encode(make_request_spans(spans, attrs, seed=first_seed + i)) for i in range(count)]


def throughput(
    make_sender: Callable[[], Sender], work: list[bytes], clients: int
) -> tuple[float, Counter[int]]:
    """Send every body once (retrying 503s after a short pause); seconds taken, statuses."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    queue = iter(work)

    def client() -> None:
        send = make_sender()
        while True:
            with lock:
                body = next(queue, None)
            if body is None:
                return
            for _ in range(MAX_RETRIES):
                status = send(body)
                with lock:
                    statuses[status] += 1
                if status != 503:
                    break
                time.sleep(0.05)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(client) for _ in range(clients)]:
            f.result()
    return time.perf_counter() - start, statuses


def overload(
    server: Server,
    make_sender: Callable[[], Sender],
    work: list[bytes],
    clients: int,
    seconds: float,
    spans_per_request: int,
) -> None:
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    stop = threading.Event()
    peak_own = peak_total = 0.0

    def client(n: int) -> None:
        send = make_sender()
        i = n
        while not stop.is_set():
            status = send(work[i % len(work)])
            i += clients
            with lock:
                statuses[status] += 1

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client, n) for n in range(clients)]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            own, total = server.rss_mb()
            peak_own, peak_total = max(peak_own, own), max(peak_total, total)
            time.sleep(0.2)
        stop.set()
        for f in futures:
            f.result()
    spans_ok = statuses[200] * spans_per_request
    verdict = "ok" if peak_total < RSS_TARGET_MB else "ABOVE TARGET"
    print(
        f"overload {seconds:.0f} s, {clients} clients: {statuses[200]} requests stored "
        f"({spans_ok / seconds:,.0f} spans/s), {statuses[503]} answered 503, "
        f"other {sum(v for k, v in statuses.items() if k not in (200, 503))}"
    )
    print(
        f"peak RSS: server process {peak_own:.0f} MB, with decode workers {peak_total:.0f} MB "
        f"(target < {RSS_TARGET_MB} MB: {verdict})"
    )


def main() -> None:
    # A SIGTERM must still stop the server subprocess (the `finally` below).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=1000, help="spans per request")
    parser.add_argument("--attrs", type=int, default=20, help="attributes per span")
    parser.add_argument("--requests", type=int, default=40, help="requests per transport")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--workers", type=int, default=None, help="server decode workers")
    parser.add_argument("--fsync", action="store_true", help="serve with --fsync")
    parser.add_argument("--overload-seconds", type=float, default=60.0)
    parser.add_argument(
        "--overload-clients", type=int, default=32, help="more than the queue holds (8)"
    )
    parser.add_argument("--transports", default="protobuf,json,grpc")
    args = parser.parse_args()

    extra = ["--workers", str(args.workers)] if args.workers is not None else []
    extra += ["--fsync"] if args.fsync else []
    workers = "default" if args.workers is None else args.workers
    print(
        f"{args.spans} spans x {args.attrs} attributes per request, {args.requests} requests "
        f"per transport, {args.clients} client threads, {os.cpu_count()} CPUs, server "
        f"workers: {workers}; a fresh server and database for each transport"
    )
    yard = Yardstick(args.spans, args.attrs)  # measured again at the end, the faster kept
    results: list[tuple[str, float, Counter[int], float, float]] = []
    for n, transport in enumerate(args.transports.split(",")):
        work = bodies(transport, args.requests, 1_000_000 * (n + 1), args.spans, args.attrs)
        with running_server(extra) as server:
            make = senders(server)[transport]
            throughput(make, work[:2], 1)  # warm up (first-use costs)
            cpu_before = server.cpu_seconds()
            seconds, statuses = throughput(make, work[2:], args.clients)
            cpu_after = server.cpu_seconds()
        # CPU per span says where the time goes, whatever else the machine runs.
        kspans = max(statuses[200] * args.spans / 1000, 1)
        main_ms = (cpu_after[0] - cpu_before[0]) * 1000 / kspans
        workers_ms = (cpu_after[1] - cpu_before[1]) * 1000 / kspans
        results.append(
            (transport, statuses[200] * args.spans / seconds, statuses, main_ms, workers_ms)
        )

    yard.remeasure(args.spans, args.attrs)
    print(yard.describe())
    print(
        f"{'transport':<10} {'spans/s':>9} {'x yard':>7}  {'target (x yard)':<18} "
        "server CPU per 1,000 spans"
    )
    rates = {transport: yard.rate_ratio(rate) for transport, rate, *_ in results}
    for transport, rate, statuses, main_ms, workers_ms in results:
        # gRPC's target is "as fast as HTTP protobuf" (within 5 %).
        ratio = yard.rate_ratio(rate)
        target = TARGETS.get(transport, rates.get("protobuf", 0.0))
        slack = 1.0 if transport in TARGETS else 0.95
        verdict = "ok" if ratio >= slack * target else "BELOW"
        failed = sum(count for code, count in statuses.items() if code not in (200, 503))
        notes = f" ({statuses[503]} x 503 retried)" if statuses[503] else ""
        notes += f" ({failed} FAILED)" if failed else ""
        goal = f">= {target:.2f} {verdict}"
        print(
            f"{transport:<10} {rate:>9,.0f} {ratio:>7.2f}  {goal:<18} {main_ms:.1f} ms server "
            f"process + {workers_ms:.1f} ms decode workers{notes}"
        )
    if args.overload_seconds > 0:
        work = bodies("protobuf", 32, 9_000_000, args.spans, args.attrs)
        with running_server(extra) as server:
            overload(
                server,
                senders(server)["protobuf"],
                work,
                args.overload_clients,
                args.overload_seconds,
                args.spans,
            )


@contextlib.contextmanager
def running_server(extra: list[str]) -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="otel-llm-bench-") as tmp:
        server = Server(Path(tmp), extra)
        try:
            yield server
        finally:
            server.stop()


if __name__ == "__main__":
    main()
