"""One IMMEDIATE transaction under the writer lock, background WAL checkpoints, and how
a failed commit is classified (`store_error`)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from otel_llm.store.base import StoreError

if TYPE_CHECKING:
    from otel_llm.store.sqlite.store import SQLiteStore

CHECKPOINT_INTERVAL = 1.0  # seconds between checkpoints when nothing is written


class Transaction:
    """`with store._write() as conn:` one IMMEDIATE transaction under the writer lock."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.conn = store._writer

    def __enter__(self) -> sqlite3.Connection:
        self.store._write_lock.acquire()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.store._write_lock.release()
            raise
        return self.conn

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if exc_type is None:
                try:
                    self.conn.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
                self.store._committed()
            else:
                self._rollback()
        finally:
            self.store._write_lock.release()

    def _rollback(self) -> None:
        self.store._rolled_back()
        if self.conn.in_transaction:  # SQLite may have rolled back by itself already
            self.conn.execute("ROLLBACK")


class Checkpointer:
    """Copies committed WAL pages into the database file on its own thread and
    connection (a PASSIVE checkpoint never blocks the writer), so commits stay cheap:
    the writer itself never checkpoints unless the WAL outgrows `max_wal_bytes`."""

    def __init__(self, path: Path, interval: float) -> None:
        self.path = path
        self.interval = interval
        self.wake = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="otel-llm-checkpoint", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        try:
            while not self.stopping:
                self.wake.wait(self.interval)
                self.wake.clear()
                if self.stopping:
                    break
                with contextlib.suppress(sqlite3.Error):  # busy: the next round catches up
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopping = True
        self.wake.set()
        self.thread.join()


# SQLite result codes (the low byte of an extended code) of faults that pass: the same
# commit can succeed later. Anything else SQLite refuses is about the data.
_TRANSIENT_CODES = frozenset(
    (
        5,  # SQLITE_BUSY
        6,  # SQLITE_LOCKED
        7,  # SQLITE_NOMEM
        8,  # SQLITE_READONLY (the file's permissions or a read-only mount)
        9,  # SQLITE_INTERRUPT
        10,  # SQLITE_IOERR
        11,  # SQLITE_CORRUPT
        13,  # SQLITE_FULL
        14,  # SQLITE_CANTOPEN
        15,  # SQLITE_PROTOCOL
    )
)


def store_error(exc: BaseException) -> StoreError:
    """A failed commit as a `StoreError` that says whether a retry can succeed: faults
    of the disk, the memory or a closed store pass; a value or constraint SQLite refuses
    fails the same way every time."""
    if isinstance(exc, MemoryError):
        return StoreError("out of memory", transient=True)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
        if code is not None:
            transient = code & 0xFF in _TRANSIENT_CODES
        else:
            transient = isinstance(exc, sqlite3.OperationalError) and "too big" not in str(exc)
        return StoreError(f"{type(exc).__name__}: {exc}", transient=transient)
    return StoreError(f"{type(exc).__name__}: {exc}", transient=False)
