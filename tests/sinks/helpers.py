"""A loopback HTTP server that records what run sinks send, and a strict parser for
multipart/form-data bodies."""

from __future__ import annotations

import gzip
import http.server
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

INFO = {
    "version": "0.0-test",
    "instance_flags": {"zstd_compression_enabled": False},
    "batch_ingest_config": {
        "use_multipart_endpoint": True,
        "size_limit": 100,
        "size_limit_bytes": 20_971_520,
        "scale_up_qsize_trigger": 1000,
        "scale_up_nthreads_limit": 16,
        "scale_down_nempty_trigger": 4,
    },
}


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes  # decompressed

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"{}"
    drop_connection: bool = False  # close the socket without answering


Responder = Callable[[Request], Reply]


class IngestServer:
    """Answers GET /info with `info` (404 when None) and POSTs with `respond`."""

    def __init__(self, respond: Responder | None = None, info: dict[str, Any] | None = INFO):
        self.requests: list[Request] = []
        self.respond = respond or (lambda req: Reply())
        self.info = info
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, reply: Reply) -> None:
                if reply.drop_connection:
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def do_GET(self) -> None:
                req = Request("GET", self.path, dict(self.headers.items()), b"")
                outer.requests.append(req)
                if self.path == "/info" and outer.info is not None:
                    self._answer(
                        Reply(
                            200,
                            {"Content-Type": "application/json"},
                            json.dumps(outer.info).encode(),
                        )
                    )
                else:
                    self._answer(Reply(404, body=b'{"detail":"not found"}'))

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = (
                    gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
                )
                req = Request("POST", self.path, dict(self.headers.items()), body)
                outer.requests.append(req)
                self._answer(outer.respond(req))

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> IngestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def posts(self, path: str | None = None) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and (path is None or r.path == path)]


@dataclass
class Part:
    name: str
    content_type: str
    headers: dict[str, str]
    data: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.data)


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """Split a multipart/form-data body part by part, checking its framing strictly:
    CRLF line ends, a Content-Disposition with a name on every part, and a
    Content-Length (when given) that matches the data."""
    m = re.fullmatch(r'multipart/form-data; boundary="?([^";]+)"?', content_type)
    assert m, f"not multipart/form-data with a boundary: {content_type!r}"
    delimiter = b"--" + m.group(1).encode()
    assert body.startswith(delimiter + b"\r\n"), body[:80]
    assert body.endswith(delimiter + b"--\r\n"), body[-80:]
    inner = body[: -len(delimiter) - 4]
    assert inner.endswith(b"\r\n"), "the last part must end with CRLF"
    chunks = inner[:-2].split(b"\r\n" + delimiter + b"\r\n")
    chunks[0] = chunks[0][len(delimiter) + 2 :]
    parts: list[Part] = []
    for chunk in chunks:
        head, sep, data = chunk.partition(b"\r\n\r\n")
        assert sep, f"part without a header/body separator: {chunk[:80]!r}"
        headers: dict[str, str] = {}
        for line in head.decode().split("\r\n"):
            key, _, value = line.partition(": ")
            headers[key.lower()] = value
        disposition = re.fullmatch(r'form-data; name="([^"]+)"', headers["content-disposition"])
        assert disposition, headers
        if "content-length" in headers:
            assert int(headers["content-length"]) == len(data), (headers, len(data))
        parts.append(Part(disposition.group(1), headers.get("content-type", ""), headers, data))
    return parts
