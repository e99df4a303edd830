"""`otel-llm`: the command line. Each command lives in its own module of this package."""

from __future__ import annotations

import importlib

import click

# Command name -> "module:function". A command's module is imported only when that
# command runs (or `otel-llm --help` lists them all): `otel-llm runs` must not load the
# server's stack (starlette, uvicorn, grpc) that only `serve` needs.
COMMANDS = {
    "check": "otel_llm.cli.check:check",
    "convert": "otel_llm.cli.convert:convert",
    "projects": "otel_llm.cli.read:projects",
    "prune": "otel_llm.cli.read:prune",
    "replay": "otel_llm.cli.replay:replay",
    "runs": "otel_llm.cli.read:runs",
    "serve": "otel_llm.cli.serve:serve",
    "session": "otel_llm.cli.read:session",
    "sessions": "otel_llm.cli.read:sessions",
    "trace": "otel_llm.cli.read:trace",
}


class _LazyGroup(click.Group):
    """A group whose commands are imported by name, on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, _, name = COMMANDS[cmd_name].partition(":")
        command: click.Command = getattr(importlib.import_module(module), name)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="otel-llm")
def main() -> None:
    """otel-llm: a two-way bridge between OpenTelemetry LLM spans and LangSmith-style runs."""
