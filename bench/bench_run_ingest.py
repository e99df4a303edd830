"""Run ingest of `otel-llm serve` next to its OTLP ingest, in one run on one machine.

This machine's speed drifts between days, so the target is a ratio within one run:
multipart ingest of realistic LangSmith SDK runs, in runs/s, is at least 0.6x OTLP/HTTP
protobuf ingest in spans/s.

- OTLP: bench_serve's workload (1,000 spans x 20 attributes per request, new spans each).
- Runs: a 10-run LangChain-shaped trace (a chain, a retriever, a prompt, chat models,
  tools) with ~2 KB of inputs and outputs per run, each run posted and then patched, as
  the SDK does; 100 traces (1,000 runs, the batch size the server's /info gives the
  SDK; `--traces 10` for the SDK's own default of 100) per request, merged and
  encoded by the real SDK's own serialisation (`langsmith._internal._operations`), zstd
  compressed as the SDK sends by default (`--plain` for uncompressed).

Each request is acknowledged only after its runs are committed, so acknowledged items /
elapsed time is the rate of durable ingest; every workload runs on a fresh server.

    python bench/bench_run_ingest.py [--requests 40] [--clients 4] [--plain]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import zstandard
from bench_serve import Server, bodies, http_sender, throughput
from langsmith._internal._operations import (
    combine_serialized_queue_operations,
    encode_multipart_parts_and_context,
    serialize_run_dict,
    serialized_run_operation_to_multipart_parts_and_context,
)

RATIO_TARGET = 0.6
BOUNDARY = "bench-boundary"
STEPS = [
    ("RunnableSequence", "chain"),
    ("Wiki", "retriever"),
    ("ChatPromptTemplate", "prompt"),
    ("ChatOpenAI", "llm"),
    ("get_weather", "tool"),
    ("ChatOpenAI", "llm"),
    ("StrOutputParser", "parser"),
    ("lookup_order", "tool"),
    ("ChatOpenAI", "llm"),
    ("format", "chain"),
]
TEXT = (
    "The customer asks where order #{n} is; the warehouse says it left on Monday and "
    "the carrier expects delivery by Thursday. "
) * 9  # ~1 KB each way


def trace_ops(seed: int) -> list[tuple[str, dict[str, object]]]:
    """One 10-run trace: a post and a patch per run, as the SDK queues them."""
    start = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=seed)
    root_id = uuid.uuid4()
    root_dotted = start.strftime("%Y%m%dT%H%M%S%fZ") + str(root_id)
    ops: list[tuple[str, dict[str, object]]] = []
    for i, (name, run_type) in enumerate(STEPS):
        run_id = root_id if i == 0 else uuid.uuid4()
        begin = start + dt.timedelta(milliseconds=i)
        dotted = (
            root_dotted if i == 0 else f"{root_dotted}.{begin.strftime('%Y%m%dT%H%M%S%fZ')}{run_id}"
        )
        ops.append(
            (
                "post",
                {
                    "id": run_id,
                    "trace_id": root_id,
                    "parent_run_id": None if i == 0 else root_id,
                    "dotted_order": dotted,
                    "name": name,
                    "run_type": run_type,
                    "start_time": begin.isoformat(),
                    "session_name": "bench",
                    "inputs": {"question": TEXT.format(n=seed), "step": i},
                    "extra": {
                        "metadata": {
                            "ls_provider": "openai",
                            "ls_model_name": "gpt-4o-mini",
                            "thread_id": f"t-{seed % 50}",
                        }
                    },
                    "tags": ["bench"],
                    "serialized": {"name": name},
                },
            )
        )
        usage = {"input_tokens": 120, "output_tokens": 40, "total_tokens": 160}
        ops.append(
            (
                "patch",
                {
                    "id": run_id,
                    "trace_id": root_id,
                    "dotted_order": dotted,
                    "end_time": (begin + dt.timedelta(milliseconds=50)).isoformat(),
                    "outputs": {
                        "answer": TEXT.format(n=seed),
                        **({"usage_metadata": usage} if run_type == "llm" else {}),
                    },
                },
            )
        )
    return ops


def multipart_body(first_seed: int, traces: int, compress: bool) -> bytes:
    ops = [
        serialize_run_dict(kind, payload)
        for seed in range(first_seed, first_seed + traces)
        for kind, payload in trace_ops(seed)
    ]
    chunks: list[bytes] = []
    for op in combine_serialized_queue_operations(ops):  # type: ignore[arg-type]
        parts, _ = serialized_run_operation_to_multipart_parts_and_context(op)  # type: ignore[arg-type]
        for header, data in encode_multipart_parts_and_context(parts, BOUNDARY):
            chunks += [header, data if isinstance(data, bytes) else data.read(), b"\r\n"]
    chunks.append(f"--{BOUNDARY}--\r\n".encode())
    body = b"".join(chunks)
    return zstandard.ZstdCompressor(level=3).compress(body) if compress else body


def multipart_sender(url: str, compress: bool) -> Callable[[], Callable[[bytes], int]]:
    headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    if compress:
        headers["content-encoding"] = "zstd"

    def make() -> Callable[[bytes], int]:
        client = httpx.Client(timeout=120)

        def send(body: bytes) -> int:
            return client.post(url, content=body, headers=headers).status_code

        return send

    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--traces",
        type=int,
        default=100,
        help="traces per multipart request (100 = 1,000 runs: the batch "
        "size otel-llm serve's /info gives the SDK)",
    )
    parser.add_argument("--plain", action="store_true", help="send multipart uncompressed")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        for sub in ("otlp", "runs"):
            (Path(tmp) / sub).mkdir()
        server = Server(Path(tmp) / "otlp", [])
        try:
            work = bodies("protobuf", args.requests, 0, 1000, 20)
            seconds, statuses = throughput(
                http_sender(server.url, "application/x-protobuf"), work, args.clients
            )
        finally:
            server.stop()
        otlp = statuses[200] * 1000 / seconds
        print(f"OTLP/HTTP protobuf ingest     {otlp:>10,.0f} spans/s  (statuses {dict(statuses)})")

        compress = not args.plain
        server = Server(Path(tmp) / "runs", [])
        try:
            work = [
                multipart_body(i * args.traces, args.traces, compress) for i in range(args.requests)
            ]
            url = f"http://127.0.0.1:{server.http_port}/runs/multipart"
            seconds, statuses = throughput(multipart_sender(url, compress), work, args.clients)
        finally:
            server.stop()
        runs = statuses[202] * args.traces * len(STEPS) / seconds
        ratio = runs / otlp
        verdict = "met" if ratio >= RATIO_TARGET else "NOT met"
        kind = "zstd" if compress else "plain"
        print(f"multipart run ingest ({kind})  {runs:>10,.0f} runs/s   (statuses {dict(statuses)})")
        print(
            f"ratio runs/s : spans/s        {ratio:>10.2f}   target >= {RATIO_TARGET} ({verdict})"
        )


if __name__ == "__main__":
    main()
