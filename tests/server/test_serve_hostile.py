"""Hostile input against a real `otel-llm serve` process on loopback, as a permanent test.

Hypothesis mutates the recorded golden traces (span fields set to boundary values,
wrong-length ids, deep and wide values, then bit flips, truncation, duplicated bytes,
invalid UTF-8, gzip / deflate, bombs) and writes filter expressions (deep, wide, huge
numbers, NUL, surrogates, garbage), and sends them over OTLP/HTTP, OTLP/gRPC and the read
API. Whatever it sends:

- the answer is never a 5xx, except 503 for "busy";
- the server process keeps running, and a valid request still ingests afterwards;
- every acknowledged span is stored under its own project and listed there;
- `PRAGMA integrity_check` says ok.

Runs derandomised with a fixed example budget (the `ci` profile in tests/conftest.py),
so a failure reports its example instead of timing out.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otel_llm.model import SpanRecord
from otel_llm.otlp import decode_otlp_json, encode_otlp_json, encode_otlp_protobuf
from otel_llm.server.body import Media
from otel_llm.server.prepare import prepare
from otel_llm.server.status import RequestError
from otel_llm.store import RunQuery, SQLiteStore
from otel_llm.store.sqlite import SQLiteRowBuilder
from tests.server.helpers import PROTOBUF, ServeProcess, grpc_export, protobuf_body, trace_spans

MAX_BODY = 1 << 20  # small, so bombs are cheap to make
GOLDEN = {
    f"{p.parent.parent.name}-{p.parent.name}": decode_otlp_json(p.read_bytes())
    for p in sorted((Path(__file__).parents[1] / "golden").glob("*/*/request.json"))
}
BOUNDARY_TIMES = [0, 1, 2**63 - 1, 2**63, 2**64 - 1]
EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],  # no explain phase
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


@dataclass
class Ledger:
    """What the server acknowledged, by project: checked against the store at the end."""

    server: ServeProcess
    row_builder: SQLiteRowBuilder
    acknowledged: dict[str, set[str]] = field(default_factory=dict)

    def expect(self, body: bytes, media: Media, encoding: str, project: str, rejected: int) -> None:
        """Record what a 200 stored: the server's own preparation of the same bytes."""
        prepared = prepare(body, media, encoding, project, MAX_BODY, self.row_builder)
        assert prepared.rejected == rejected, prepared.problems
        for name, rows in prepared.batches:
            self.acknowledged.setdefault(name, set()).update(row[0] for row in rows)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    db = tmp_path_factory.mktemp("hostile") / "runs.db"
    server = ServeProcess(db, "--max-body-bytes", str(MAX_BODY), "--queue-size", "64")
    with SQLiteStore(db) as store:
        builder = store.row_builder
    yield Ledger(server, builder)
    server.kill()


# --- strategies ------------------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


@st.composite
def mutated_spans(draw: st.DrawFn) -> tuple[str, list[SpanRecord]]:
    case = draw(st.sampled_from(sorted(GOLDEN)))
    spans = list(GOLDEN[case])
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(spans) - 1))
        span = spans[i]
        change = draw(
            st.sampled_from(
                ["start", "end", "trace_id", "span_id", "parent", "deep", "wide", "int"]
            )
        )
        if change in ("start", "end"):
            span = replace(
                span, **{f"{change}_time_unix_nano": draw(st.sampled_from(BOUNDARY_TIMES))}
            )
        elif change in ("trace_id", "span_id", "parent"):
            name = "parent_span_id" if change == "parent" else change
            span = replace(span, **{name: draw(st.binary(min_size=0, max_size=20))})
        elif change == "deep":
            span = replace(
                span, attributes={**span.attributes, "deep": nested(draw(st.integers(1, 60)))}
            )
        elif change == "wide":
            span = replace(
                span, attributes={**span.attributes, **{f"w{n}": n for n in range(2000)}}
            )
        else:
            span = replace(
                span,
                attributes={
                    **span.attributes,
                    "big": draw(st.sampled_from([2**63 - 1, -(2**63), 0])),
                },
            )
        spans[i] = span
    return case, spans


def encode(spans: list[SpanRecord], media: Media) -> bytes:
    try:
        if media is Media.JSON:
            return encode_otlp_json(spans)
        return encode_otlp_protobuf(spans)
    except (ValueError, TypeError, OverflowError):  # a value the encoding cannot carry
        return b""


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    how = draw(st.sampled_from(["none", "none", "flip", "truncate", "duplicate", "utf8", "number"]))
    if not data or how == "none":
        return data
    buf = bytearray(data)
    at = draw(st.integers(0, len(buf) - 1))
    if how == "flip":
        for _ in range(draw(st.integers(1, 8))):
            pos = draw(st.integers(0, len(buf) - 1))
            buf[pos] ^= 1 << draw(st.integers(0, 7))
    elif how == "truncate":
        del buf[at:]
    elif how == "duplicate":
        end = min(len(buf), at + draw(st.integers(1, 200)))
        buf[end:end] = buf[at:end]
    elif how == "utf8":
        buf[at : at + 1] = draw(st.sampled_from([b"\xff", b"\xc0\x80", b"\xed\xa0\x80"]))
    else:  # in JSON: an integer or float too large for its field
        text = bytes(buf).replace(b'"intValue":"', b'"intValue":"18446744073709551616', 1)
        return text.replace(b'"startTimeUnixNano":"', b'"startTimeUnixNano":"9', 1)
    return bytes(buf)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, Media, str, bytes]:
    case, spans = draw(mutated_spans())
    media = draw(st.sampled_from([Media.PROTOBUF, Media.JSON]))
    body = draw(damaged(encode(spans, media)))
    encoding = draw(st.sampled_from(["", "", "gzip", "deflate", "bomb", "fake-gzip"]))
    if encoding == "gzip":
        body = gzip.compress(body, compresslevel=1)
    elif encoding == "deflate":
        body = zlib.compress(body, 1)
    elif encoding == "bomb":
        body, encoding = BOMB, "gzip"
    elif encoding == "fake-gzip":  # says gzip, is not
        encoding = "gzip"
    return case, media, encoding, body


BOMB = gzip.compress(b"\0" * (4 * MAX_BODY), compresslevel=9)

LEAF_VALUES = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(
        [
            "1e300",
            "-1e999",
            "1e-400",
            ".5",
            '"9999-12-31T23:59:59Z"',
            '"5s"',
            '"' + "9" * 400 + 's"',
            "null",
            "true",
            '"\\u0000x"',
            '"x\\u0000"',
            "[1, 2, 3]",
            "[" * 40 + "]" * 40,
            '"\\ud800"',
        ]
    ),
    st.text(max_size=30).map(json.dumps),
)
FIELDS = st.sampled_from(
    [
        "name",
        "run_type",
        "latency",
        "start_time",
        "total_tokens",
        "total_cost",
        "error",
        "tags",
        "metadata_key",
        "metadata_value",
        "id",
        "trace_id",
        "is_root",
        "status",
        "bogus",
    ]
)
OPS = st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte", "has", "in", "search", "xx"])


def filters() -> st.SearchStrategy[str]:
    leaf = st.builds(lambda op, f, v: f"{op}({f}, {v})", OPS, FIELDS, LEAF_VALUES)
    search = LEAF_VALUES.map(lambda v: f"search({v})")
    tree = st.recursive(
        st.one_of(leaf, search),
        lambda inner: st.builds(
            lambda op, items: f"{op}({', '.join(items)})",
            st.sampled_from(["and", "or"]),
            st.lists(inner, min_size=1, max_size=4),
        ),
        max_leaves=12,
    )
    deep = st.integers(1, 1200).map(lambda n: "and(" * n + 'eq(name, "x")' + ")" * n)
    wide = st.integers(1, 4000).map(lambda n: "or(" + ", ".join(['eq(name, "x")'] * n) + ")")
    garbage = st.text(alphabet="(),[]\"' abcdeqgtlnr0123456789.-e\\\0", max_size=80)
    return st.one_of(tree, deep, wide, garbage)


# --- the properties ----------------------------------------------------------------------


def beyond_the_store(field: str, value: int, media: Media) -> tuple[str, Media, str, bytes]:
    """The first golden case with one span's time past what 64-bit nanoseconds hold."""
    case = sorted(GOLDEN)[0]
    spans = list(GOLDEN[case])
    spans[0] = replace(spans[0], **{field: value})
    return case, media, "", encode(spans, media)


@EXAMPLES
@given(request=requests(), transport=st.sampled_from(["http", "http", "grpc"]))
@example(request=beyond_the_store("start_time_unix_nano", 2**63, Media.PROTOBUF), transport="http")
@example(request=beyond_the_store("end_time_unix_nano", 2**64 - 1, Media.JSON), transport="http")
@example(
    request=beyond_the_store("start_time_unix_nano", 2**64 - 1, Media.PROTOBUF), transport="grpc"
)
def test_hostile_export_requests(
    ledger: Ledger, request: tuple[str, Media, str, bytes], transport: str
) -> None:
    case, media, encoding, body = request
    project = f"hostile-{case}"
    if transport == "grpc":
        if media is Media.JSON or encoding == "deflate":
            return  # gRPC carries protobuf; its own compression is gzip or none
        rejected = grpc_call(ledger, body, project, encoding)
    else:
        rejected = http_call(ledger, body, media, encoding, project)
    if rejected is not None:
        ledger.expect(body, media, encoding, project, rejected)
    assert ledger.server.proc.poll() is None, "the server died"


def http_call(ledger: Ledger, body: bytes, media: Media, encoding: str, project: str) -> int | None:
    """The rejected span count of an OK, or None for a refusal (checked here)."""
    headers = {"content-type": media.value, "Langsmith-Project": project}
    if encoding:
        headers["content-encoding"] = encoding
    response = httpx.post(
        ledger.server.http_url + "/v1/traces", content=body, headers=headers, timeout=60
    )
    if response.status_code == 200:
        if media is Media.JSON:
            partial = response.json().get("partialSuccess", {})
            return int(partial.get("rejectedSpans", 0))
        answer = ExportTraceServiceResponse.FromString(response.content)
        return int(answer.partial_success.rejected_spans)
    assert response.status_code in (400, 413, 503), (response.status_code, response.text[:500])
    if response.status_code == 503:
        assert "busy" in response.text, response.text[:500]
    with pytest.raises(RequestError):  # the server refused exactly what we would refuse
        prepare(body, media, encoding, project, MAX_BODY, ledger.row_builder)
    return None


def grpc_call(ledger: Ledger, body: bytes, project: str, encoding: str) -> int | None:
    compression = grpc.Compression.Gzip if encoding == "gzip" else None
    if encoding == "gzip":  # gRPC compresses itself: send the plain message
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError):
            return None  # a fake gzip has no gRPC equivalent
        if len(body) > MAX_BODY:
            body = body[: MAX_BODY + 1]
    try:
        answer = grpc_export(
            ledger.server.grpc_address, body, [("langsmith-project", project)], compression
        )
    except grpc.RpcError as error:
        code = error.code()  # type: ignore[attr-defined]
        assert code in (
            grpc.StatusCode.INVALID_ARGUMENT,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            grpc.StatusCode.UNAVAILABLE,
        ), (code, error.details())  # type: ignore[attr-defined]
        if code == grpc.StatusCode.UNAVAILABLE:
            assert "busy" in str(error.details())  # type: ignore[attr-defined]
        return None
    return int(answer.partial_success.rejected_spans)


@EXAMPLES
@given(text=filters(), key=st.sampled_from(["filter", "trace_filter", "tree_filter", "query"]))
def test_hostile_filters(ledger: Ledger, text: str, key: str) -> None:
    body = json.dumps({key: text, "limit": 5})  # ASCII: surrogates travel as escapes
    response = httpx.post(ledger.server.http_url + "/runs/query", content=body, timeout=60)
    assert response.status_code in (200, 400), (response.status_code, response.text[:500])


@EXAMPLES
@given(
    body=st.dictionaries(
        st.sampled_from(
            [
                "limit",
                "cursor",
                "session",
                "select",
                "order",
                "start_time",
                "id",
                "trace",
                "is_root",
                "error",
                "run_type",
                "reference_example",
            ]
        ),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(2**70), 2**70),
            st.floats(),
            st.text(max_size=40),
            st.lists(st.text(max_size=40), max_size=3),
            st.sampled_from(["9999-12-31T23:59:59Z", "MTIzOjQ1Ng", "AAAA", "-1:-1"]),
        ),
        max_size=4,
    )
)
def test_hostile_query_bodies(ledger: Ledger, body: dict[str, Any]) -> None:
    content = json.dumps(body, allow_nan=True)  # NaN and Infinity, as some clients write
    response = httpx.post(ledger.server.http_url + "/runs/query", content=content, timeout=60)
    assert response.status_code in (200, 400), (response.status_code, response.text[:500])


def test_after_all_that_valid_data_ingests_and_everything_acknowledged_is_listed(
    ledger: Ledger,
) -> None:
    """Runs after the properties above (pytest keeps file order)."""
    spans = trace_spans(4242)
    response = httpx.post(
        ledger.server.http_url + "/v1/traces",
        content=protobuf_body(spans),
        headers={**PROTOBUF, "Langsmith-Project": "after"},
    )
    assert response.status_code == 200
    ledger.expect(protobuf_body(spans), Media.PROTOBUF, "", "after", 0)
    assert ledger.server.proc.poll() is None
    with SQLiteStore(ledger.server.db) as store:
        projects = {p["name"]: p["id"] for p in store.list_projects()}
        assert set(projects) == set(ledger.acknowledged)
        for project, ids in ledger.acknowledged.items():
            listed: set[str] = set()
            wanted = sorted(ids)
            for i in range(0, len(wanted), 500):
                page, _ = store.query_runs(
                    RunQuery(session=[projects[project]], id=wanted[i : i + 500], limit=1000)
                )
                listed |= {str(r["id"]) for r in page}
            assert listed == ids, project
    with sqlite3.connect(ledger.server.db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
