"""The read API through the oldest and the newest `langsmith` this project supports.

Each pinned version reads the same server from a subprocess (`langsmith_reads.py`): the
version installed in this environment directly, any other from a directory installed
once with `pip install --no-deps --target` (cached under this environment's prefix, so
a rerun needs no network; the first needs PyPI, which `.ci/run` prepares). The other
packages come from this environment, which is what a user who pins an old `langsmith`
next to current libraries has.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest

from otel_llm.server import OtelLlmServer
from tests.server.helpers import PROTOBUF, protobuf_body, run_ids, trace_spans

# The supported range: pyproject's `langsmith>=0.3` floor, and the newest release.
OLDEST = "0.3.0"
NEWEST = "0.15.1"
SCRIPT = Path(__file__).with_name("langsmith_reads.py")
START = 1_760_000_000_000_000_000


def sdk_path(pinned: str) -> Path | None:
    """Where `pinned` is importable from: None for this environment's own copy, else a
    cached `--target` install (made now if missing)."""
    if version("langsmith") == pinned:
        return None
    target = Path(sys.prefix) / "langsmith-sdks" / pinned
    if (target / "langsmith").is_dir():
        return target
    staging = target.with_name(f"{pinned}.{uuid.uuid4().hex}.tmp")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--target",
            str(staging),
            f"langsmith=={pinned}",
        ],
        check=True,
        timeout=300,
    )
    try:
        staging.rename(target)  # atomic: a concurrent session's copy may have won
    except OSError:
        if not (target / "langsmith").is_dir():
            raise
    return target


def read_with(pinned: str, api_url: str, project: str) -> dict[str, Any]:
    path = sdk_path(pinned)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "LANGCHAIN_"))}
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(path), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), api_url, project],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("pinned", [OLDEST, NEWEST])
def test_read_api_with_pinned_sdk(pinned: str, server: OtelLlmServer) -> None:
    spans = []
    for seed in range(3):
        spans += trace_spans(
            seed, service="alpha", start_ns=START + seed * 10**9, error_child=seed == 2
        )
    spans += trace_spans(9, service="beta", children=1)
    response = httpx.post(
        server.http_url + "/v1/traces", content=protobuf_body(spans), headers=PROTOBUF
    )
    assert response.status_code == 200

    out = read_with(pinned, server.http_url, "alpha")

    assert out["version"] == pinned
    roots = sorted(next(iter(run_ids(trace_spans(s)[-1:]))) for s in range(3))
    assert out["projects"] == ["alpha", "beta"]
    assert out["run_count"] == 12 and out["llm_count"] == 9
    assert out["root_ids"] == roots
    assert out["read_run"] == {"id": roots[0], "name": "support agent", "total_tokens": 360}
    stats = out["stats"]
    assert stats["run_count"] == 3 and stats["total_tokens"] == 3 * 360
    assert stats["error_rate"] == 0 and stats["latency_p50"] == pytest.approx(0.05)
    # Nothing for us to fix: no log line from the SDK (a backend version it finds too
    # old, /info failing) and no warning but its own deprecations of v1 methods.
    assert out["log"] == []
    assert [w for w in out["warnings"] if "deprecated" not in w] == []
    if pinned == NEWEST:
        v2 = out["v2"]
        assert [r["id"] for r in v2["query"]] == list(reversed(roots))
        assert {(r["run_type"], r["status"], r["total_tokens"]) for r in v2["query"]} == {
            ("CHAIN", "SUCCESS", 360)
        }
        assert v2["retrieve"] == {
            "id": v2["query"][0]["id"],
            "name": "support agent",
            "project_id": out["project_id"],
        }
