"""Each command loads only what it needs: reading the store from the terminal does not
start up the server's stack (starlette, uvicorn, grpc), which only `serve` uses."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from otel_llm.store import SQLiteStore

SERVER_STACK = ("starlette", "uvicorn", "grpc")

# Runs `otel-llm ARGS` in a fresh interpreter, then prints the server-stack modules loaded.
_LOADED_BY = textwrap.dedent("""
    import sys
    from otel_llm.cli import main
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
    print(sorted(m for m in sys.modules if m.partition(".")[0] in {stack!r}))
""").format(stack=SERVER_STACK)


def _server_modules_loaded_by(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED_BY, *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def test_importing_the_read_commands_loads_no_server_module() -> None:
    code = (
        "import otel_llm.cli.read, sys; "
        f"assert not any(m.startswith({SERVER_STACK!r}) for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "args",
    [
        ("runs", "--help"),
        ("runs",),
        ("trace", "0123456789abcdef0123456789abcdef"),
        ("projects",),
        ("prune", "--older-than", "14d"),
    ],
    ids=" ".join,
)
def test_the_read_commands_run_without_the_server_stack(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    db = tmp_path / "runs.db"
    SQLiteStore(db).close()
    command = [*args, "--db", str(db)] if args[-1] != "--help" else list(args)
    assert _server_modules_loaded_by(*command) == "[]"


def test_serve_loads_the_server_stack() -> None:
    # The check above would pass trivially if nothing ever loaded the stack.
    assert "starlette" in _server_modules_loaded_by("serve", "--help")
