"""`otel-llm convert`: OTLP files (JSON or protobuf) <-> runs JSONL.

GenAI event log records (`--logs FILE`, or the `resourceLogs` of an OTLP/JSON input that
holds both spans and logs) join their spans as span events before conversion."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from otel_llm.convert import DEFAULT_EMIT, EMIT_FAMILIES, runs_to_spans, spans_to_runs
from otel_llm.model import Run
from otel_llm.otlp import (
    OTLPDecodeError,
    decode_otlp_json,
    decode_otlp_protobuf,
    encode_otlp_json,
    encode_otlp_protobuf,
)
from otel_llm.otlp.logs import (
    LogRecord,
    attach_to_spans,
    decode_logs_json,
    decode_logs_protobuf,
    logs_from_json_doc,
)

# File extension -> format name.
FORMATS = {".json": "otlp-json", ".pb": "otlp-proto", ".jsonl": "runs"}


def _format(path: str, given: str | None, flag: str) -> str:
    if given:
        return given
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise click.UsageError(
            f"cannot tell the format of {path!r} from its extension; "
            f"use {flag} with one of: {', '.join(sorted(set(FORMATS.values())))}"
        )
    return fmt


def _read_runs(data: bytes) -> list[Run]:
    runs = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            runs.append(Run.from_dict(orjson.loads(line)))
        except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
            raise click.ClickException(f"line {number}: not a run: {exc}") from None
    return runs


def _read_logs(path: str | None) -> list[LogRecord]:
    if path is None:
        return []
    data = Path(path).read_bytes()
    try:
        if Path(path).suffix.lower() == ".pb":
            return decode_logs_protobuf(data)
        return decode_logs_json(data)
    except OTLPDecodeError as exc:
        raise click.ClickException(f"{path}: {exc}") from None


@click.command()
@click.argument("input_path", metavar="INPUT")
@click.option(
    "-o",
    "--output",
    "output_path",
    default="-",
    show_default=True,
    help="Output file; '-' writes to stdout.",
)
@click.option(
    "--from",
    "from_fmt",
    type=click.Choice(sorted(set(FORMATS.values()))),
    help="Input format (default: from the extension: .json, .pb, .jsonl).",
)
@click.option(
    "--to",
    "to_fmt",
    type=click.Choice(sorted(set(FORMATS.values()))),
    help="Output format (default: from the extension; runs when writing to stdout "
    "from spans, OTLP/JSON when writing to stdout from runs).",
)
@click.option(
    "--emit",
    default=",".join(sorted(DEFAULT_EMIT)),
    show_default=True,
    help="Convention families to write when turning runs into spans, comma-separated "
    f"(any of {', '.join(sorted(EMIT_FAMILIES))}; empty for only otel_llm.*).",
)
@click.option(
    "--logs",
    "logs_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="OTLP logs file (.json or .pb, an ExportLogsServiceRequest) whose GenAI "
    "event records join their spans' runs, as the server joins them.",
)
def convert(
    input_path: str,
    output_path: str,
    from_fmt: str | None,
    to_fmt: str | None,
    emit: str,
    logs_path: str | None,
) -> None:
    """Convert INPUT between OTLP spans (.json / .pb) and runs (.jsonl). '-' reads stdin.

    An OTLP/JSON INPUT may hold `resourceLogs` besides `resourceSpans`: their GenAI event
    records join their spans, like those of --logs."""
    if input_path == "-":
        if from_fmt is None:
            raise click.UsageError("reading stdin needs --from")
        src = from_fmt
        data = sys.stdin.buffer.read()
    else:
        src = _format(input_path, from_fmt, "--from")
        try:
            data = Path(input_path).read_bytes()
        except OSError as exc:
            raise click.ClickException(f"cannot read {input_path}: {exc.strerror}") from None
    if output_path == "-" and to_fmt is None:
        dst = "otlp-json" if src == "runs" else "runs"
    else:
        dst = _format(output_path, to_fmt, "--to")
    families = [f.strip() for f in emit.split(",") if f.strip()]
    unknown = set(families) - EMIT_FAMILIES.keys()
    if unknown:
        raise click.BadParameter(f"unknown families {sorted(unknown)}", param_hint="--emit")

    try:
        if src == "runs":
            runs = _read_runs(data)
            spans = runs_to_spans(runs, families) if dst != "runs" else []
        else:
            spans = decode_otlp_json(data) if src == "otlp-json" else decode_otlp_protobuf(data)
            records = logs_from_json_doc(orjson.loads(data)) if src == "otlp-json" else []
            records += _read_logs(logs_path)
            if records:
                left = attach_to_spans(spans, records)
                if left:
                    click.echo(
                        f"{len(left)} of {len(records)} log records joined no span "
                        "(no span context, not a GenAI event, or the span is not in "
                        "the input)",
                        err=True,
                    )
            runs = spans_to_runs(spans) if dst == "runs" else []
    except OTLPDecodeError as exc:
        raise click.ClickException(f"{input_path}: {exc}") from None

    if dst == "runs":
        if src == "runs":
            out = data
        else:
            out = b"".join(orjson.dumps(r.to_dict(), default=str) + b"\n" for r in runs)
    elif dst == "otlp-json":
        out = encode_otlp_json(spans)
    else:
        out = encode_otlp_protobuf(spans)
    if output_path == "-":
        sys.stdout.buffer.write(out)
        sys.stdout.buffer.flush()
    else:
        Path(output_path).write_bytes(out)
