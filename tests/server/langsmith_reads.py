"""The read API through one `langsmith` version: run as a script in a subprocess whose
`sys.path` starts with that version (see test_langsmith_versions.py).

    python langsmith_reads.py API_URL PROJECT

Prints one JSON object: what the client read, plus every warning and log record the SDK
raised, so the test can assert on both.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import warnings
from typing import Any


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


def main(api_url: str, project: str) -> dict[str, Any]:
    records = _Records()
    logging.getLogger().addHandler(records)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import langsmith

        out: dict[str, Any] = {"version": langsmith.__version__}
        client = langsmith.Client(api_url=api_url, api_key="test-key", auto_batch_tracing=False)
        out["info_version"] = client.info.version
        found = client.read_project(project_name=project)
        out["project_id"] = str(found.id)
        out["projects"] = sorted(p.name for p in client.list_projects())
        runs = list(client.list_runs(project_name=project))
        out["run_count"] = len(runs)
        roots = list(client.list_runs(project_name=project, is_root=True))
        out["root_ids"] = sorted(str(r.id) for r in roots)
        llm = list(client.list_runs(project_name=project, filter='eq(run_type, "llm")'))
        out["llm_count"] = len(llm)
        root = client.read_run(out["root_ids"][0])
        out["read_run"] = {"id": str(root.id), "name": root.name, "total_tokens": root.total_tokens}
        out["stats"] = client.get_run_stats(project_names=[project], is_root=True)
        if hasattr(client, "runs"):  # langsmith >= 0.15: the v2 reads
            out["v2"] = asyncio.run(_v2(client, out["project_id"]))
    out["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
    out["log"] = records.messages
    return out


async def _v2(client: Any, project_id: str) -> dict[str, Any]:
    api = client.runs
    items = [
        run.model_dump(mode="json", exclude_none=True)
        async for run in api.query(
            project_ids=[project_id],
            min_start_time="2000-01-01T00:00:00Z",
            is_root=True,
            selects=["ID", "NAME", "RUN_TYPE", "STATUS", "TOTAL_TOKENS"],
            include_subtree_usage=True,
            page_size=2,
        )
    ]
    one = await api.retrieve(
        items[0]["id"], project_id=project_id, selects=["ID", "NAME", "PROJECT_ID"]
    )
    await client._get_langsmith_api().close()
    return {"query": items, "retrieve": one.model_dump(mode="json", exclude_none=True)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2]), default=str))
