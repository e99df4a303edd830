"""Retention applied by the server on its schedule: a global age and per-project ages."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from otel_llm.server import OtelLlmServer
from otel_llm.store.sqlite import SQLiteStore
from tests.server.helpers import PROTOBUF, protobuf_body, run_ids, trace_spans, wait_until

DAY_NS = 86_400 * 10**9


def send(server: OtelLlmServer, seed: int, service: str, age_ns: int) -> set[str]:
    spans = trace_spans(seed, service=service, start_ns=time.time_ns() - age_ns)
    response = httpx.post(
        server.http_url + "/v1/traces", content=protobuf_body(spans), headers=PROTOBUF
    )
    assert response.status_code == 200
    return run_ids(spans)


def gone(store: SQLiteStore, ids: set[str]) -> bool:
    return all(store.get_run(i) is None for i in ids)


def kept(store: SQLiteStore, ids: set[str]) -> bool:
    return all(store.get_run(i) is not None for i in ids)


def test_global_retention_deletes_old_traces(
    make_server: Callable[..., OtelLlmServer], store: SQLiteStore
) -> None:
    server = make_server(retention_seconds=14 * 86_400, retention_check_seconds=0.05)
    old = send(server, 1, "app", 30 * DAY_NS)
    fresh = send(server, 2, "app", DAY_NS)
    wait_until(lambda: gone(store, old))
    assert kept(store, fresh)


def test_per_project_retention(
    make_server: Callable[..., OtelLlmServer], store: SQLiteStore
) -> None:
    store.set_retention("short-lived", 3600)
    server = make_server(retention_check_seconds=0.05)
    short = send(server, 3, "short-lived", 2 * 3600 * 10**9)
    long = send(server, 4, "kept-forever", 2 * 3600 * 10**9)
    wait_until(lambda: gone(store, short))
    assert kept(store, long)
