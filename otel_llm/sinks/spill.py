"""The spill directory: batches a sink could not take, kept on disk as JSONL files so
that nothing is silently lost, and sent later with `otel-llm replay DIR`.

Each failed batch becomes one file `runs-<time>-<pid>-<seq>.jsonl`, written under a
temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from otel_llm.model import Run
from otel_llm.sinks.base import RunSink, SinkResult
from otel_llm.sinks.jsonl import read_runs, run_line

logger = logging.getLogger(__name__)

DEFAULT_SPILL_MAX_BYTES = 1024 * 1024 * 1024
SPILL_PATTERN = "runs-*.jsonl"


class SpillDirectory:
    """Writes batches into a directory, up to a total size.

    Args:
        directory: created if missing.
        max_bytes: the directory holds at most this many bytes of spilled runs; a batch
            that does not fit is refused (the caller counts it as dropped).
    """

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int = DEFAULT_SPILL_MAX_BYTES):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._used: int | None = None

    def _usage(self) -> int:
        if self._used is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._used = sum(p.stat().st_size for p in self.directory.glob(SPILL_PATTERN))
        return self._used

    def write(self, runs: Sequence[Run]) -> bool:
        """Keep a batch on disk; False (and a log line) when it cannot be kept.

        Args:
            runs: the batch that could not be delivered.
        """
        if not runs:
            return True
        data = b"".join(run_line(r) for r in runs)
        try:
            with self._lock:
                if self._usage() + len(data) > self.max_bytes:
                    logger.warning(
                        "spill directory %s is full (%d bytes); %d runs dropped",
                        self.directory,
                        self.max_bytes,
                        len(runs),
                    )
                    return False
                name = f"runs-{time.time_ns():020d}-{os.getpid()}-{next(self._seq):06d}.jsonl"
                tmp = self.directory / f".{name}.tmp"
                with open(tmp, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.directory / name)
                self._used = self._usage() + len(data)
        except OSError as exc:
            logger.warning("cannot spill %d runs to %s: %s", len(runs), self.directory, exc)
            return False
        return True


@dataclass
class ReplayReport:
    """What `replay` did: files and runs sent, files left in place and why."""

    files_sent: int = 0
    runs_sent: int = 0
    files_left: int = 0
    errors: list[str] = field(default_factory=list)


def replay(directory: str | os.PathLike[str], sink: RunSink, batch_size: int = 500) -> ReplayReport:
    """Send every spilled file to `sink`, oldest first, deleting each once it is taken.

    When the sink refuses a file, replay stops and that file and the rest stay in place
    for the next replay (a sink that took part of a file will see those runs again: run
    sinks upsert by id). A file that is not valid JSONL runs is left too, and named in
    the report.

    Args:
        directory: the spill directory.
        sink: where to send the runs.
        batch_size: runs per `export` call.

    Raises:
        FileNotFoundError: when `directory` does not exist.
    """
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"spill directory {root} does not exist")
    report = ReplayReport()
    paths = sorted(root.glob(SPILL_PATTERN))
    for n, path in enumerate(paths):
        try:
            runs = list(read_runs(path))
        except (OSError, ValueError) as exc:
            report.files_left += 1
            report.errors.append(str(exc))
            continue
        ok = all(
            sink.export(runs[i : i + batch_size]) is SinkResult.SUCCESS
            for i in range(0, len(runs), batch_size)
        )
        if not ok:
            # The sink is down or refusing: stop here rather than wait out its retry
            # budget once per file; everything from this file on stays for next time.
            report.files_left += len(paths) - n
            report.errors.append(f"{path}: the sink refused the runs; stopped, files kept")
            break
        path.unlink()
        report.files_sent += 1
        report.runs_sent += len(runs)
    return report
