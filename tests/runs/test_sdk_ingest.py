"""The real LangSmith SDK, configured by environment variables only, sends runs to
`otel-llm serve`; they are read back with `langsmith.Client` as the SDK sent them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import langsmith
import pytest

from otel_llm.server import OtelLlmServer
from tests.server.test_langsmith_versions import OLDEST, sdk_path

APP = textwrap.dedent("""
    import langsmith
    from langsmith import traceable
    from langsmith.run_trees import get_cached_client

    @traceable(run_type="retriever")
    def retrieve(query):
        return [{"page_content": "Paris is the capital of France.", "type": "Document",
                 "metadata": {"source": "wiki"}}]

    @traceable(run_type="llm", metadata={"ls_provider": "openai",
                                         "ls_model_name": "gpt-4o-mini"})
    def chat(messages):
        return {"role": "assistant", "content": "Paris.",
                "usage_metadata": {"input_tokens": 12, "output_tokens": 3,
                                   "total_tokens": 15}}

    @traceable(run_type="tool")
    def lookup(city):
        raise ValueError(f"no weather for {city}")

    @traceable(name="pipeline", tags=["sdk-test"])
    def pipeline(question):
        docs = retrieve(question)
        answer = chat([{"role": "user", "content": question}])
        try:
            lookup("Paris")
        except ValueError:
            pass
        return {"answer": answer["content"], "documents": len(docs)}

    import uuid
    root_id = uuid.uuid4()
    print(pipeline("What is the capital of France?", langsmith_extra={"run_id": root_id}))
    get_cached_client().flush()
    get_cached_client().create_feedback(root_id, "correctness", score=1.0, comment="right")
    print("langsmith", langsmith.__version__)
""")


def run_app(
    server: OtelLlmServer, tmp_path: Path, project: str, prelude: str = "", **env: str
) -> str:
    script = tmp_path / "app.py"
    script.write_text(prelude + APP)
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "LANGSMITH_ENDPOINT": server.http_url,
            "LANGSMITH_API_KEY": "k",
            "LANGSMITH_TRACING": "true",
            "LANGSMITH_PROJECT": project,
            **env,
        },
    )
    assert result.returncode == 0, result.stderr
    assert "Failed to" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    return result.stdout


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_traceable_tree_arrives_as_the_sdk_sent_it(
    server: OtelLlmServer, tmp_path: Path, compression: str
) -> None:
    env = {} if compression == "zstd" else {"LANGSMITH_DISABLE_RUN_COMPRESSION": "true"}
    run_app(server, tmp_path, "sdk-app", **env)
    assert_tree_as_sent(server, "sdk-app")


def test_the_oldest_supported_sdk_sends_the_same_tree(
    server: OtelLlmServer, tmp_path: Path
) -> None:
    path = sdk_path(OLDEST)
    assert path is not None  # this environment has the newest
    pythonpath = os.pathsep.join(filter(None, [str(path), os.environ.get("PYTHONPATH")]))
    # A plain `@traceable` app, as `pip install langsmith==0.3.0` alone gives it: without
    # langchain-core (today's release needs a newer langsmith than this one).
    prelude = "import sys\nsys.modules['langchain_core'] = None\n"
    out = run_app(server, tmp_path, "old-sdk-app", prelude, PYTHONPATH=pythonpath)
    assert f"langsmith {OLDEST}" in out
    assert_tree_as_sent(server, "old-sdk-app")


def assert_tree_as_sent(server: OtelLlmServer, project: str) -> None:
    client = langsmith.Client(api_url=server.http_url, api_key="k")
    runs = {r.name: r for r in client.list_runs(project_name=project)}
    assert set(runs) == {"pipeline", "retrieve", "chat", "lookup"}
    root = runs["pipeline"]
    assert root.parent_run_id is None and root.trace_id == root.id
    assert root.tags == ["sdk-test"]
    assert root.inputs == {"question": "What is the capital of France?"}
    assert root.outputs == {"answer": "Paris.", "documents": 1}
    for name, run_type in [("retrieve", "retriever"), ("chat", "llm"), ("lookup", "tool")]:
        run = runs[name]
        assert run.run_type == run_type
        assert run.parent_run_id == root.id and run.trace_id == root.id
        assert run.dotted_order.startswith(root.dotted_order + ".")
        assert run.end_time is not None
    assert runs["lookup"].error is not None and "no weather for Paris" in runs["lookup"].error
    assert root.error is None
    chat = runs["chat"]
    assert (chat.prompt_tokens, chat.completion_tokens, chat.total_tokens) == (12, 3, 15)
    assert chat.extra["metadata"]["ls_model_name"] == "gpt-4o-mini"
    assert root.total_tokens == 15  # the generation's usage rolled up
    assert runs["retrieve"].outputs["output"][0]["page_content"].startswith("Paris")
    read = client.read_run(root.id, load_child_runs=True)
    assert sorted(c.name for c in read.child_runs) == ["chat", "lookup", "retrieve"]
    (feedback,) = client.list_feedback(run_ids=[root.id])
    assert (feedback.key, feedback.score, feedback.comment) == ("correctness", 1.0, "right")
