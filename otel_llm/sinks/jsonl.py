"""`JsonlRunSink`: one run per line, in the LangSmith SDK's JSON shape, with size-based
rotation (`runs.jsonl`, `runs.jsonl.1`, ... like `logging.handlers.RotatingFileHandler`)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from otel_llm.model import Run
from otel_llm.sinks.base import RunSink, SinkResult, reinit_after_fork

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
DEFAULT_BACKUP_COUNT = 5


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def run_line(run: Run) -> bytes:
    """One run as a JSON line (newline included)."""
    return orjson.dumps(
        run.to_dict(), default=_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE
    )


def read_runs(path: str | Path) -> Iterator[Run]:
    """The runs of a JSONL file written by this sink (or by a spill directory).

    Raises:
        ValueError: naming the file and line, when a line is not a run.
    """
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield Run.from_dict(orjson.loads(line))
            except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a run: {exc}") from None


class JsonlRunSink(RunSink):
    """Appends runs to a JSONL file, rotating it by size.

    Args:
        path: the file to write; its directory is created if missing.
        max_bytes: rotate before the file would grow past this size (0: never rotate).
        backup_count: how many rotated files to keep (`path.1` is the newest); 0 keeps
            none, so a rotation starts the file afresh.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backup_count: int = DEFAULT_BACKUP_COUNT,
    ) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        if backup_count < 0:
            raise ValueError(f"backup_count must be >= 0, got {backup_count}")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backup_count = backup_count
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self._size = 0
        reinit_after_fork(self._after_fork)

    def _after_fork(self) -> None:
        # A child appends through its own handle, so parent and child never share an
        # offset or a held lock.
        self._lock = threading.Lock()
        self._file = None

    def export(self, runs: Sequence[Run]) -> SinkResult:
        """Append the runs, one JSON line each, rotating first when the file is full.

        Args:
            runs: the batch to append.
        """
        lines = [run_line(r) for r in runs]
        try:
            with self._lock:
                self._write(lines)
        except OSError as exc:
            logger.warning("cannot write runs to %s: %s", self.path, exc)
            return SinkResult.FAILURE
        return SinkResult.SUCCESS

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab")  # noqa: SIM115 (kept open across batches)
            self._size = self._file.tell()
        return self._file

    def _write(self, lines: Iterable[bytes]) -> None:
        f = self._open()
        for line in lines:
            if self.max_bytes and self._size and self._size + len(line) > self.max_bytes:
                f.flush()
                self._rotate()
                f = self._open()
            f.write(line)
            self._size += len(line)
        f.flush()

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        self._file = None
        if self.backup_count == 0:
            self.path.unlink(missing_ok=True)
            return
        for i in range(self.backup_count - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        with self._lock:
            if self._file is not None:
                self._file.flush()
        return True

    def shutdown(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
