from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import langsmith
import pytest

from otel_llm.server import OtelLlmServer, ServerSettings
from otel_llm.store.sqlite import SQLiteStore
from tests.server.helpers import load_read_data


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "runs.db")
    yield s
    s.close()


@pytest.fixture
def make_server(store: SQLiteStore) -> Iterator[Callable[..., OtelLlmServer]]:
    """Start an in-process server on free loopback ports; stopped after the test."""
    started: list[OtelLlmServer] = []

    def make(before_commit: Callable[[], None] | None = None, **settings: Any) -> OtelLlmServer:
        settings.setdefault("grpc_port", 0)
        settings.setdefault("http_port", 0)
        server = OtelLlmServer(store, ServerSettings(**settings), before_commit=before_commit)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., OtelLlmServer]) -> OtelLlmServer:
    return make_server()


@pytest.fixture
def loaded(server: OtelLlmServer) -> OtelLlmServer:
    """A server holding `helpers.load_read_data`."""
    load_read_data(server)
    return server


@pytest.fixture
def client(loaded: OtelLlmServer) -> Iterator[langsmith.Client]:
    c = langsmith.Client(api_url=loaded.http_url, api_key="unused", auto_batch_tracing=False)
    yield c
    c.close()
