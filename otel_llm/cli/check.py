"""`otel-llm check`: the store's consistency check, and its repair."""

from __future__ import annotations

from pathlib import Path

import click

from otel_llm import config
from otel_llm.store.check import check as find_problems
from otel_llm.store.check import repair as repair_problems
from otel_llm.store.sqlite import SQLiteStore


@click.command("check")
@click.option(
    "--db",
    envvar=config.OTEL_LLM_DB,
    default=config.DEFAULT_DB,
    show_default=True,
    show_envvar=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file of the run store.",
)
@click.option(
    "--repair",
    is_flag=True,
    help="Repair what is found (one transaction; safe while the server runs).",
)
@click.option(
    "--log-join-wait",
    type=click.FloatRange(0),
    default=600.0,
    show_default=True,
    help="Seconds a log record may wait for its span before it counts as unjoined.",
)
def check(db: Path, repair: bool, log_join_wait: float) -> None:
    """Check the store: runs no listing shows, misfiled projects, trace counts, SQLite
    integrity. Exits 1 when something is (still) wrong."""
    if not db.exists():
        raise click.ClickException(f"no run store at {db}")
    with SQLiteStore(db) as store:
        findings = find_problems(store)
        if repair and findings:
            for finding in repair_problems(store):
                click.echo(f"repaired {finding.check}: {finding.detail}")
            findings = find_problems(store)
        logs = store.log_event_counts(log_join_wait)
    if any(logs.values()):
        click.echo(
            f"log records: {logs['joined']} joined to runs, {logs['waiting']} waiting "
            f"for their span, {logs['unjoined']} unjoined (GET /logs/unjoined lists "
            "them)"
        )
    for finding in findings:
        fix = "" if finding.repairable else " (not repairable by otel-llm)"
        click.echo(f"{finding.check}: {finding.detail}{fix}")
    if findings:
        if any(f.repairable for f in findings) and not repair:
            click.echo("run `otel-llm check --repair` to repair it")
        raise SystemExit(1)
    click.echo(f"{db}: consistent")
