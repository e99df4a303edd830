"""`otel-llm replay DIR`: send the runs a span processor spilled to disk."""

from __future__ import annotations

import click

from otel_llm.from_env import sink_from_env
from otel_llm.sinks.base import RunSink
from otel_llm.sinks.spill import replay as replay_directory


@click.command("replay")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, dir_okay=True))
@click.option(
    "--sink",
    type=click.Choice(["langsmith", "jsonl", "store"]),
    help="Where to send the runs [default: $OTEL_LLM_RUNS_SINK, else langsmith].",
)
@click.option("--endpoint", help="Run-ingest endpoint [default: $LANGSMITH_ENDPOINT].")
@click.option("--api-key", help="x-api-key for the endpoint [default: $LANGSMITH_API_KEY].")
@click.option("--project", help="Project of runs that name none [default: $LANGSMITH_PROJECT].")
@click.option("--db", type=click.Path(dir_okay=False), help="Store file [default: $OTEL_LLM_DB].")
@click.option(
    "--jsonl",
    type=click.Path(dir_okay=False),
    help="JSONL file [default: $OTEL_LLM_RUNS_JSONL_PATH].",
)
@click.option(
    "--to",
    "to_url",
    metavar="URL",
    help="Send to this forward destination instead of a sink (the URL syntax of "
    "`otel-llm serve --forward`), e.g. the spill directory of that destination.",
)
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(min=1))
def replay(
    directory: str,
    sink: str | None,
    endpoint: str | None,
    api_key: str | None,
    project: str | None,
    db: str | None,
    jsonl: str | None,
    to_url: str | None,
    batch_size: int,
) -> None:
    """Send every spilled batch in DIRECTORY, oldest first, deleting each file once the
    sink has taken it. Exits with status 1 when files are left (the sink refused them)."""
    try:
        if to_url is not None:
            from otel_llm.forward import DestinationSink

            target: RunSink = DestinationSink(to_url)
        else:
            target = sink_from_env(
                kind=sink,
                endpoint=endpoint,
                api_key=api_key,
                project=project,
                db=db,
                jsonl_path=jsonl,
            )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        report = replay_directory(directory, target, batch_size=batch_size)
    finally:
        target.shutdown()
    click.echo(f"sent {report.runs_sent} runs from {report.files_sent} files")
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    if report.files_left:
        click.echo(f"{report.files_left} files left in {directory}", err=True)
        raise SystemExit(1)
