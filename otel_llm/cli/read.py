"""`otel-llm projects | runs | trace | prune`: read the run store without a browser.

The read commands take the store file (`--db`) or a running `otel-llm serve` (`--url`,
through its LangSmith-compatible read API); `prune` works on the file.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import click
import orjson
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from otel_llm import config
from otel_llm.convert import OBSERVATION_KEY
from otel_llm.duplicates import DUPLICATE_OF_KEY
from otel_llm.durations import parse_duration
from otel_llm.model import OBSERVATION_OF, ObservationType, iso_to_ns
from otel_llm.store.base import MAX_LIMIT, RunQuery
from otel_llm.store.sqlite import SQLiteStore

_TIMEOUT = 30.0  # seconds per HTTP request to a server
_PROJECTS_WIDTH = 130
_RUNS_WIDTH = 180
_SESSIONS_WIDTH = 120
_SESSION_WIDTH = 130
_WIDE = 100_000  # --wide: a console no table fills
_WIDE_OPTION = click.option(
    "--wide",
    is_flag=True,
    help="Show every cell whole (full run ids, long names) however wide the table gets.",
)
_STATUS_STYLE = {"error": "red", "pending": "yellow", "success": "green"}


class _Source(Protocol):
    """Where runs are read from: the store file or a server."""

    def projects(self) -> list[dict[str, Any]]: ...

    def query(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]: ...

    def trace(self, trace_id: str) -> list[dict[str, Any]]: ...

    def sessions(self, project_id: str) -> list[dict[str, Any]]: ...

    def session(self, project_id: str, session_id: str) -> list[dict[str, Any]]: ...


class _StoreSource:
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store

    def projects(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while page := self.store.list_projects(limit=MAX_LIMIT, offset=len(out)):
            out += page
            if len(page) < MAX_LIMIT:
                break
        return out

    def query(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        return self.store.query_runs(RunQuery.from_dict(body))

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        return self.store.trace_runs(trace_id)

    def sessions(self, project_id: str) -> list[dict[str, Any]]:
        return self.store.list_sessions(project_id, limit=MAX_LIMIT)

    def session(self, project_id: str, session_id: str) -> list[dict[str, Any]]:
        return self.store.session_traces(project_id, session_id)


class _HttpSource:
    """The read API of a running server (`GET /sessions`, `POST /runs/query`)."""

    def __init__(self, url: str, api_key: str | None) -> None:
        self.url = url.rstrip("/")
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self.headers["x-api-key"] = api_key

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = orjson.dumps(body) if body is not None else None
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers=self.headers
        )
        try:
            with urllib.request.urlopen(req, timeout=_TIMEOUT) as response:
                return orjson.loads(response.read())
        except urllib.error.HTTPError as exc:
            message = f"{self.url} answered {exc.code} to {method} {path}: {_detail(exc)}"
            if exc.code == 400:  # what was asked is wrong (a bad filter): a usage error
                raise click.UsageError(message) from None
            raise click.ClickException(message) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise click.ClickException(
                f"cannot reach {self.url}: {reason} (is `otel-llm serve` running there?)"
            ) from None

    def projects(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = self.request("GET", f"/sessions?limit=100&offset={len(out)}")
            out += page
            if len(page) < 100:
                return out

    def sessions(self, project_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.request(
            "GET", f"/sessions/{project_id}/threads?limit={MAX_LIMIT}"
        )
        return found

    def session(self, project_id: str, session_id: str) -> list[dict[str, Any]]:
        quoted = urllib.parse.quote(session_id, safe="")
        try:
            found = self.request("GET", f"/sessions/{project_id}/threads/{quoted}")
        except click.ClickException as exc:
            if " 404 " in exc.message:
                return []
            raise
        traces: list[dict[str, Any]] = found["traces"]
        return traces

    def query(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        answer = self.request("POST", "/runs/query", body)
        return answer.get("runs", []), (answer.get("cursors") or {}).get("next")

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        text = trace_id.strip().lower()
        if len(text) == 32:  # an OTel trace id: its runs carry it as a UUID until placed
            text = str(uuid.UUID(hex=text))
        body: dict[str, Any] = {"trace": text, "limit": MAX_LIMIT}
        runs: list[dict[str, Any]] = []
        while True:
            page, cursor = self.query(body)
            runs += page
            if cursor is None:
                break
            body["cursor"] = cursor
        runs.sort(key=lambda r: r.get("dotted_order") or "")
        children: dict[str, list[str]] = {}
        for run in runs:
            if run.get("parent_run_id"):
                children.setdefault(run["parent_run_id"], []).append(run["id"])
        for run in runs:
            run["child_run_ids"] = children.get(run["id"], [])
        return runs


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = orjson.loads(exc.read())
        return str(body.get("detail") or body.get("message") or body)
    except (orjson.JSONDecodeError, AttributeError, OSError):
        return str(exc.reason)


@contextmanager
def _source(db: Path, url: str | None, api_key: str | None) -> Iterator[_Source]:
    if url is not None:
        yield _HttpSource(url, api_key)
        return
    if not db.exists():
        raise click.ClickException(
            f"no run store at {db}: start `otel-llm serve` first, or pass --db PATH or "
            "--url http://HOST:PORT"
        )
    with SQLiteStore(db) as store:
        yield _StoreSource(store)


def _read_options(fn: Any) -> Any:
    """--db, --url and --api-key, shared by the read commands."""
    fn = click.option(
        "--api-key",
        envvar=config.OTEL_LLM_API_KEY,
        default=None,
        show_envvar=True,
        help="API key of the server given by --url.",
    )(fn)
    fn = click.option(
        "--url",
        default=None,
        metavar="URL",
        help="Read from a running server (e.g. http://127.0.0.1:4318) instead of the store file.",
    )(fn)
    return _db_option(fn)


def _db_option(fn: Any) -> Any:
    return click.option(
        "--db",
        envvar=config.OTEL_LLM_DB,
        default=config.DEFAULT_DB,
        type=click.Path(dir_okay=False, path_type=Path),
        show_default=True,
        show_envvar=True,
        help="SQLite file of the run store.",
    )(fn)


def _console(min_width: int = 0, wide: bool = False) -> Console:
    """Tables get at least `min_width` columns: ids are never cut short (a narrow
    terminal wraps the lines instead). `wide`: as many as the table needs, so no cell is
    shortened."""
    if wide:
        return Console(highlight=False, soft_wrap=False, width=_WIDE)
    console = Console(highlight=False, soft_wrap=False)
    if console.width < min_width:
        console = Console(highlight=False, soft_wrap=False, width=min_width)
    return console


# --- formatting ----------------------------------------------------------------------


def duration_text(seconds: float) -> str:
    """`310 ms`, `1.9 s`, `2.41 s`, `95 s`."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.2f}".rstrip("0").rstrip(".") + " s"
    return f"{seconds:.1f}".rstrip("0").rstrip(".") + " s"


def cost_text(cost: float) -> str:
    """`$0.0031`, `$1.25`, `<$0.0001`."""
    if cost < 0.00005:
        return "<$0.0001"
    return f"${cost:.4f}" if cost < 1 else f"${cost:,.2f}"


def _short_time(iso: str | None) -> str:
    """`2026-09-21T14:13:20.200000+00:00` -> `2026-09-21 14:13:20` (UTC)."""
    return iso[:19].replace("T", " ") if iso else ""


def short_id(run_id: str) -> str:
    """The last 8 hex digits of a run id: the random part of a UUIDv4/v7 and the end of
    the span id of a run made from a span (whose first digits are zeros)."""
    return run_id.replace("-", "")[-8:]


def model_name(run: dict[str, Any]) -> str:
    """The model a run called: `ls_model_name`, else the invocation's `model`."""
    extra = run.get("extra") or {}
    metadata = extra.get("metadata") or {}
    for value in (
        metadata.get("ls_model_name"),
        (extra.get("invocation_params") or {}).get("model"),
    ):
        if isinstance(value, str) and value:
            return value
    return ""


def _seconds(run: dict[str, Any]) -> float | None:
    if not run.get("end_time"):
        return None
    return (iso_to_ns(run["end_time"]) - iso_to_ns(run["start_time"])) / 1e9


def observation_label(run: dict[str, Any]) -> str | None:
    """The observation type shown in brackets; None for a plain span."""
    metadata = (run.get("extra") or {}).get("metadata") or {}
    kind = metadata.get(OBSERVATION_KEY)
    if kind is None:
        obs = OBSERVATION_OF.get(run.get("run_type") or "chain", ObservationType.SPAN)
        kind = obs.value
    return None if kind == ObservationType.SPAN.value else str(kind)


def run_line(run: dict[str, Any]) -> Text:
    """`name [type] (duration, tokens, cost, docs) ERROR first line of the error`."""
    line = Text(run.get("name") or "?", style="bold")
    label = observation_label(run)
    if label:
        line.append(f" [{label}]", style="cyan")
    facts: list[str] = []
    seconds = _seconds(run)
    facts.append(duration_text(seconds) if seconds is not None else "running")
    tokens = run.get("total_tokens")
    if tokens:
        facts.append(f"{tokens:,} tokens")
        if ((run.get("extra") or {}).get("metadata") or {}).get(DUPLICATE_OF_KEY):
            facts.append("same call as its parent, counted there")
    cost = run.get("total_cost")
    if cost:
        facts.append(cost_text(float(cost)))
    docs = (run.get("outputs") or {}).get("documents")
    if run.get("run_type") == "retriever" and isinstance(docs, list):
        facts.append(f"{len(docs)} doc" + ("" if len(docs) == 1 else "s"))
    line.append(f" ({', '.join(facts)})")
    error = run.get("error")
    if error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "error"
        line.append(" ERROR ", style="bold red")
        line.append(first, style="red")
    return line


def trace_tree(runs: list[dict[str, Any]]) -> Tree:
    """Runs (in dotted order) as a tree; runs whose parent is missing hang under a note."""
    by_id = {r["id"]: r for r in runs}
    roots = [r for r in runs if r.get("parent_run_id") not in by_id]
    nodes: dict[str, Tree] = {}
    if len(roots) == 1 and roots[0].get("parent_run_id") is None:
        top = Tree(run_line(roots[0]))
        nodes[roots[0]["id"]] = top
    else:
        top = Tree(
            Text(
                f"trace of {len(runs)} runs; {len(roots)} wait for a parent that has not arrived",
                style="yellow",
            )
        )
    for run in runs:
        if run["id"] in nodes:
            continue
        parent = nodes.get(run.get("parent_run_id") or "", top)
        nodes[run["id"]] = parent.add(run_line(run))
    return top


# --- commands --------------------------------------------------------------------------


def _name_column(table: Table, title: str, wide: bool, min_width: int) -> None:
    """A column of names: the one that gives way when the table is too wide. Wrapped at
    spaces only, a word longer than the column cut with an ellipsis, never split mid-word
    (`--wide`: every name whole on one line)."""
    table.add_column(title, no_wrap=wide, overflow="ellipsis", min_width=min_width)


def _fixed_column(table: Table, title: str, width: int, right: bool = False) -> None:
    """A column whose cells are never shortened: times, ids, numbers."""
    table.add_column(title, no_wrap=True, min_width=width, justify="right" if right else "left")


@click.command("projects")
@_read_options
@_WIDE_OPTION
def projects(db: Path, url: str | None, api_key: str | None, wide: bool) -> None:
    """List projects with their run and trace counts, tokens and cost."""
    with _source(db, url, api_key) as source:
        rows = source.projects()
    table = Table(box=box.SIMPLE_HEAD)
    _name_column(table, "Project", wide, 12)
    for title, width in (("Traces", 6), ("Runs", 6), ("Tokens", 8), ("Cost", 8), ("Errors", 6)):
        _fixed_column(table, title, width, right=True)
    _fixed_column(table, "Last run", 19)
    _fixed_column(table, "ID", 36)
    for p in rows:
        rate = p.get("error_rate")
        table.add_row(
            Text(p.get("name") or ""),
            f"{p.get('trace_count') or 0:,}",
            f"{p.get('run_count') or 0:,}",
            f"{p.get('total_tokens') or 0:,}",
            cost_text(float(p["total_cost"])) if p.get("total_cost") else "",
            f"{rate:.0%}" if rate is not None else "",
            _short_time(p.get("last_run_start_time")),
            p["id"],
        )
    _console(_PROJECTS_WIDTH, wide).print(table)


@click.command("runs")
@_read_options
@click.option("--project", "-p", default=None, help="Only this project (by name).")
@click.option(
    "--filter",
    "filter_",
    default=None,
    metavar="EXPR",
    help='LangSmith filter, e.g. \'and(eq(run_type, "llm"), gt(latency, "5s"))\'.',
)
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, MAX_LIMIT),
    default=20,
    show_default=True,
    help="How many runs, newest first.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON run per line (LangSmith's read shape) instead of a table.",
)
@_WIDE_OPTION
def runs(
    db: Path,
    url: str | None,
    api_key: str | None,
    project: str | None,
    filter_: str | None,
    limit: int,
    as_json: bool,
    wide: bool,
) -> None:
    """List runs, newest first: start, run id (its last 8 hex digits; --wide: whole),
    name, type, model, duration, tokens, cost, status, project (without --project) and
    trace id."""
    body: dict[str, Any] = {"limit": limit}
    if filter_:
        body["filter"] = filter_
    with _source(db, url, api_key) as source:
        if project is not None:
            ids = [p["id"] for p in source.projects() if p.get("name") == project]
            if not ids:
                raise click.ClickException(f"no project named {project!r}")
            body["session"] = ids
        try:
            found, _ = source.query(body)
        except ValueError as exc:  # a bad filter, with the parser's message
            raise click.BadParameter(str(exc), param_hint="'--filter'") from None
    if as_json:
        for run in found:
            click.echo(orjson.dumps(run).decode())
        return
    with_project = project is None
    table = Table(box=box.SIMPLE_HEAD)
    _fixed_column(table, "Start (UTC)", 14)
    _fixed_column(table, "Run ID", 36 if wide else 8)
    _name_column(table, "Name", wide, 20)
    _fixed_column(table, "Type", 9)
    _name_column(table, "Model", wide, 12)
    for title, width in (("Duration", 8), ("Tokens", 7), ("Cost", 8)):
        _fixed_column(table, title, width, right=True)
    _fixed_column(table, "Status", 7)
    if with_project:
        _name_column(table, "Project", wide, 10)
    _fixed_column(table, "Trace ID", 36)
    for run in found:
        seconds = _seconds(run)
        status = run.get("status") or ""
        cells: list[Any] = [
            _short_time(run["start_time"])[5:],
            run["id"] if wide else short_id(run["id"]),
            Text(run.get("name") or ""),
            run.get("run_type") or "",
            Text(model_name(run)),
            duration_text(seconds) if seconds is not None else "",
            f"{run['total_tokens']:,}" if run.get("total_tokens") else "",
            cost_text(float(run["total_cost"])) if run.get("total_cost") else "",
            Text(status, style=_STATUS_STYLE.get(status, "")),
        ]
        if with_project:
            cells.append(Text(run.get("session_name") or ""))
        table.add_row(*cells, run["trace_id"])
    _console(_RUNS_WIDTH, wide).print(table)


@click.command("trace")
@_read_options
@click.argument("trace_id")
def trace(db: Path, url: str | None, api_key: str | None, trace_id: str) -> None:
    """Show one trace as a tree: name, observation type, duration, tokens, cost, errors.

    TRACE_ID is the run trace id (the root run's UUID) or the OTel trace id (32 hex
    digits).
    """
    with _source(db, url, api_key) as source:
        try:
            found = source.trace(trace_id)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    if not found:
        raise click.ClickException(f"no trace {trace_id}")
    _console().print(trace_tree(found))


@click.command("prune")
@_db_option
@click.option(
    "--older-than",
    default=None,
    metavar="DURATION",
    help="Delete traces that started longer ago than this, e.g. 14d, 12h, 90m.",
)
@click.option("--project", "-p", default=None, help="Only this project (with --older-than).")
@click.option(
    "--trace",
    "traces",
    multiple=True,
    metavar="TRACE_ID",
    help="Delete this trace (run trace UUID or OTel trace id); repeatable.",
)
def prune(db: Path, older_than: str | None, project: str | None, traces: tuple[str, ...]) -> None:
    """Delete old traces, or given traces, from the store file (whole traces only)."""
    if (older_than is None) == (not traces):
        raise click.UsageError("give either --older-than DURATION or --trace ID (one or more)")
    if project is not None and older_than is None:
        raise click.UsageError("--project goes with --older-than")
    if not db.exists():
        raise click.ClickException(f"no run store at {db}")
    try:
        seconds = parse_duration(older_than) if older_than is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    with SQLiteStore(db) as store:
        try:
            if seconds is not None:
                cutoff = _now_ns() - int(seconds * 1e9)
                deleted = store.prune(cutoff, project)
            else:
                deleted = store.delete_traces(traces)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"deleted {deleted:,} runs")


def _now_ns() -> int:
    return time.time_ns()


def _projects_named(source: _Source, project: str | None) -> list[dict[str, Any]]:
    found = [p for p in source.projects() if project is None or p.get("name") == project]
    if project is not None and not found:
        raise click.ClickException(f"no project named {project!r}")
    return found


@click.command("sessions")
@_read_options
@click.option("--project", "-p", default=None, help="Only this project (by name).")
@_WIDE_OPTION
def sessions(
    db: Path, url: str | None, api_key: str | None, project: str | None, wide: bool
) -> None:
    """List sessions (conversations of many traces), the latest active first: traces,
    tokens, cost, traces with errors, first and last time."""
    table = Table(box=box.SIMPLE_HEAD)
    _name_column(table, "Session", wide, 12)
    if project is None:
        _name_column(table, "Project", wide, 10)
    for title, width in (("Traces", 6), ("Tokens", 8), ("Cost", 8), ("Errors", 6)):
        _fixed_column(table, title, width, right=True)
    _fixed_column(table, "First", 19)
    _fixed_column(table, "Last", 19)
    with _source(db, url, api_key) as source:
        for p in _projects_named(source, project):
            for s in source.sessions(p["id"]):
                row = [Text(str(s["session_id"]))]
                if project is None:
                    row.append(Text(p.get("name") or ""))
                table.add_row(
                    *row,
                    f"{s['trace_count']:,}",
                    f"{s['total_tokens'] or 0:,}",
                    cost_text(float(s["total_cost"])) if s.get("total_cost") else "",
                    f"{s['error_count']:,}" if s.get("error_count") else "",
                    _short_time(s["first_start_time"]),
                    _short_time(s["last_time"]),
                )
    _console(_SESSIONS_WIDTH, wide).print(table)


@click.command("session")
@_read_options
@click.option(
    "--project",
    "-p",
    default=None,
    help="The project (by name), if several have a session of this id.",
)
@click.argument("session_id")
def session(
    db: Path, url: str | None, api_key: str | None, project: str | None, session_id: str
) -> None:
    """Show one session's traces in the order they started: start, name, runs,
    duration, tokens, cost, errors, and the trace id for `otel-llm trace`."""
    table = Table(box=box.SIMPLE_HEAD)
    _fixed_column(table, "Start (UTC)", 19)
    _name_column(table, "Trace", False, 16)
    for title, width in (("Runs", 5), ("Duration", 8), ("Tokens", 8), ("Cost", 8), ("Errors", 6)):
        _fixed_column(table, title, width, right=True)
    _fixed_column(table, "Trace id", 36)
    found = False
    with _source(db, url, api_key) as source:
        for p in _projects_named(source, project):
            for t in source.session(p["id"], session_id):
                found = True
                seconds = (
                    (iso_to_ns(t["end_time"]) - iso_to_ns(t["start_time"])) / 1e9
                    if t.get("end_time")
                    else None
                )
                table.add_row(
                    _short_time(t["start_time"]),
                    Text(t.get("name") or ""),
                    f"{t['run_count']:,}",
                    duration_text(seconds) if seconds is not None else "",
                    f"{t['total_tokens'] or 0:,}",
                    cost_text(float(t["total_cost"])) if t.get("total_cost") else "",
                    f"{t['error_count']:,}" if t.get("error_count") else "",
                    t["trace_id"],
                )
    if not found:
        raise click.ClickException(f"no session {session_id!r}")
    _console(_SESSION_WIDTH).print(table)
