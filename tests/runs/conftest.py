"""A run store and a real `otel-llm serve` over it on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_llm.server import OtelLlmServer, ServerSettings
from otel_llm.store import SQLiteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "runs.db")
    yield s
    s.close()


@pytest.fixture
def server_settings() -> ServerSettings:
    """What the `server` fixture starts with; a module overrides it to change a limit."""
    return ServerSettings(grpc_port=0, http_port=0)


@pytest.fixture
def server(store: SQLiteStore, server_settings: ServerSettings) -> Iterator[OtelLlmServer]:
    with OtelLlmServer(store, server_settings) as running:
        yield running
