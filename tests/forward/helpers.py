"""A small LangSmith-compatible run-ingest server that records what it is sent, and
helpers to look into a receiving store."""

from __future__ import annotations

import gzip
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from otel_llm.store.sqlite import SQLiteStore


class RunIngestRecorder:
    """Answers `GET /info` and `POST /runs/multipart` on a free loopback port and keeps
    every run posted (merged from its parts), with the request headers."""

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}
        self.headers: list[dict[str, str]] = []
        self.posts = 0
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = orjson.dumps(
                    {
                        "version": "test",
                        "batch_ingest_config": {"use_multipart_endpoint": True, "size_limit": 100},
                    }
                )
                self.send_response(200 if self.path == "/info" else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    data = gzip.decompress(data)
                if self.path == "/runs/multipart":
                    recorder._record(dict(self.headers), self.headers["Content-Type"], data)
                    status = 202
                else:
                    status = 404
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _record(self, headers: dict[str, str], content_type: str, data: bytes) -> None:
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + data
        )
        with self.lock:
            self.posts += 1
            self.headers.append({k.lower(): v for k, v in headers.items()})
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                kind, run_id, *field = str(name).split(".")
                assert kind == "post", name
                value = orjson.loads(part.get_payload(decode=True))
                run = self.runs.setdefault(run_id, {})
                if field:
                    run[field[0]] = value
                else:
                    run.update(value)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def stored_ids(store: SQLiteStore) -> set[str]:
    return {r for (r,) in store._reader().execute("SELECT id FROM runs")}


def run_count(store: SQLiteStore) -> int:
    count: int = store._reader().execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    return count


def trace_run_counts(store: SQLiteStore) -> int:
    """The runs the traces table counted: each new id once, so a run stored twice as a
    new run would show here."""
    total: int = (
        store._reader().execute("SELECT COALESCE(SUM(run_count), 0) FROM traces").fetchone()[0]
    )
    return total
