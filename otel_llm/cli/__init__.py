"""`otel-llm`: the command line. Each command lives in its own module of this package."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="otel-llm")
def main() -> None:
    """otel-llm: a two-way bridge between OpenTelemetry LLM spans and LangSmith-style runs."""


def _register() -> None:
    # Commands are added here, one import per module, so `otel-llm --help` lists them all.
    from otel_llm.cli.check import check
    from otel_llm.cli.convert import convert
    from otel_llm.cli.read import projects, prune, runs, trace
    from otel_llm.cli.replay import replay
    from otel_llm.cli.serve import serve

    main.add_command(convert)
    main.add_command(serve)
    main.add_command(replay)
    main.add_command(projects)
    main.add_command(runs)
    main.add_command(trace)
    main.add_command(prune)
    main.add_command(check)


_register()
