"""Start `phoenix serve` with its OTLP/gRPC listener on 127.0.0.1 only.

Phoenix binds gRPC to `[::]` whatever PHOENIX_HOST says (its grpc_server.py); the test
must listen on loopback only, so the address is rewritten before the server starts.
Run with the Phoenix environment's interpreter: `python phoenix_launch.py`.
"""

from __future__ import annotations

import sys

import grpc.aio._server as aio_server  # type: ignore[import-not-found]

_add_insecure = aio_server.Server.add_insecure_port
_add_secure = aio_server.Server.add_secure_port


def _loopback(address: str) -> str:
    host, _, port = address.rpartition(":")
    return f"127.0.0.1:{port}" if host in ("[::]", "0.0.0.0", "") else address


def _insecure(self, address):  # type: ignore[no-untyped-def]
    return _add_insecure(self, _loopback(address))


def _secure(self, address, credentials):  # type: ignore[no-untyped-def]
    return _add_secure(self, _loopback(address), credentials)


aio_server.Server.add_insecure_port = _insecure
aio_server.Server.add_secure_port = _secure

from phoenix.server.main import main  # type: ignore[import-not-found]  # noqa: E402

sys.argv = ["phoenix", "serve"]
sys.exit(main())
