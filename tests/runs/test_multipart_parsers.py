"""The two multipart parsers (`multipart`, and python-multipart where its compatibility
package took that name) read the LangSmith SDK's bodies alike and refuse the same
broken ones. python-multipart is installed for this test into a directory of its own,
as installing it beside `multipart` would replace the latter's package."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from langsmith._internal._operations import (
    encode_multipart_parts_and_context,
    serialize_run_dict,
    serialized_run_operation_to_multipart_parts_and_context,
)

from otel_llm.server import multipart
from otel_llm.server.multipart import MultipartError, parse_parts

BOUNDARY = "sdk-boundary"


@pytest.fixture(scope="module")
def python_multipart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    target = tmp_path_factory.mktemp("python-multipart")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            "python-multipart>=0.0.18",
        ],
        check=True,
        timeout=300,
    )
    sys.path.append(str(target))  # after site-packages: `multipart` stays the real one
    importlib.invalidate_caches()
    yield
    sys.path.remove(str(target))


def sdk_body(runs: int, attachment: bytes) -> bytes:
    out: list[bytes] = []
    for i in range(runs):
        run_id = uuid.uuid4()
        op = serialize_run_dict(
            "post",
            {
                "id": run_id,
                "trace_id": run_id,
                "name": f"run-ü-{i}",
                "run_type": "chain",
                "start_time": "2026-12-01T00:00:00+00:00",
                "inputs": {"text": "x" * (i * 997)},
                "outputs": {"r": i},
                "attachments": {"file": ("application/octet-stream", attachment)},
            },
        )
        parts, _ = serialized_run_operation_to_multipart_parts_and_context(op)
        for header, data in encode_multipart_parts_and_context(parts, BOUNDARY):
            out += [header, data if isinstance(data, bytes) else data.read(), b"\r\n"]
    return b"".join(out) + f"--{BOUNDARY}--\r\n".encode()


def test_the_fast_parser_is_the_one_in_use() -> None:
    assert parse_parts is multipart.parse_with_multipart


@pytest.mark.parametrize("runs", [1, 7])
@pytest.mark.parametrize("attachment", [b"", bytes(range(256)) * 40, b"\r\n--sdk-boundar"])
def test_both_parsers_read_sdk_bodies_alike(
    python_multipart: None, runs: int, attachment: bytes
) -> None:
    body = sdk_body(runs, attachment)
    fast = multipart.parse_with_multipart(body, BOUNDARY)
    assert fast == multipart.parse_with_python_multipart(body, BOUNDARY)
    assert len(fast) == runs * 4  # post, inputs, outputs, attachment
    assert [p.data for p in fast if p.name.startswith("attachment.")] == [attachment] * runs


@pytest.mark.parametrize("cut", [0, 10, 60, -30, -4])
def test_both_parsers_refuse_a_cut_body(python_multipart: None, cut: int) -> None:
    body = sdk_body(2, b"data")[:cut]
    for parse in (multipart.parse_with_multipart, multipart.parse_with_python_multipart):
        with pytest.raises(MultipartError, match="malformed multipart body"):
            parse(body, BOUNDARY)


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("application/json", "must be multipart/form-data"),
        ("multipart/form-data", "has no boundary"),
        ("multipart/form-data; boundary=", "has no boundary"),
    ],
)
def test_the_boundary_must_be_given(content_type: str, message: str) -> None:
    with pytest.raises(MultipartError, match=message):
        multipart.boundary_of(content_type)
    assert multipart.boundary_of('multipart/form-data; boundary="b-1"') == "b-1"
