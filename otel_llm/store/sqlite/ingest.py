"""The work of one ingest transaction: place runs in their trees (completing fragments
whose ancestors arrive), upsert them, keep rollups and trace aggregates current."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from otel_llm.store.sqlite.duplicates import mark_duplicates
from otel_llm.store.sqlite.schema import (
    ADD_ROLLUP,
    DOTTED,
    END,
    ERROR,
    FIRST_TOKEN,
    GENERATION_TYPES,
    INCOMPLETE,
    NAME,
    OTEL,
    PARENT,
    PROJECT,
    SESSION,
    START,
    SUBTREE_USAGE,
    TRACE,
    TRACE_KEY,
    TRACE_UPSERT,
    TYPE,
    UPSERT,
    USAGE,
    ZERO,
    Usage,
    chunks,
    placeholders,
)


@dataclass(frozen=True, slots=True)
class Fragment:
    """A stored fragment (its topmost run waits for a parent) and where it is."""

    top: str
    parent: str
    trace_key: int
    trace_id: str
    dotted_order: str


@dataclass(slots=True)
class _Stored:
    """What the writer needs to know about a run stored before this batch."""

    trace_id: str
    dotted_order: str
    incomplete: int
    run_type: str
    has_error: bool
    usage: Usage  # own usage for generations (display values otherwise; unused then)
    project_id: str  # a run stays in the project it was first stored in
    duplicate: bool  # marked as a duplicate call: its usage counts nowhere


class Ingest:
    """The work of one ingest transaction: place runs in their trees, upsert them, keep
    rollups and trace aggregates current."""

    def __init__(self, conn: sqlite3.Connection, rows: dict[str, list[Any]]) -> None:
        self.conn = conn
        self.rows = rows
        self.existing: dict[str, _Stored] = {}
        # Parent id of the topmost run of each fragment that may be placed now.
        self.parent_of_top: dict[str, str] = {}
        self.stored: dict[str, tuple[str, str, int]] = {}  # id -> (dotted, trace, incomplete)
        self.resolved: dict[str, tuple[str, str, int] | None] = {}
        self.rollup: dict[str, list[float]] = {}  # non-generation ancestor -> usage to add
        self.keys: dict[str, int] = {}  # OTel trace id -> trace key

    def run(self) -> None:
        rows = self.rows
        self.existing = self._fetch_existing()
        known_traces = self._trace_keys({row[OTEL] for row in rows.values()})
        for row in rows.values():
            row[TRACE_KEY] = self.keys[row[OTEL]]
        if known_traces:
            self._link_span_aliases()
        attached: list[Fragment] = []
        if any(row[INCOMPLETE] for row in rows.values()) or known_traces:
            attached = self._place(known_traces)
        fragments = self._attach_fragments(attached)
        self._new_subtree_usage(known_traces)
        self.conn.executemany(UPSERT, rows.values())
        self._orphans(attached)
        self._aggregate(fragments)
        self._runs_follow_their_root(known_traces)
        existing = self.existing.items()
        marked = {rid for rid, old in existing if old.duplicate}
        were_calls = {rid for rid, old in existing if old.run_type in GENERATION_TYPES}
        mark_duplicates(self.conn, rows, marked, were_calls, known_traces)

    # Stored state this batch depends on.

    def _fetch_existing(self) -> dict[str, _Stored]:
        out: dict[str, _Stored] = {}
        for chunk in chunks(list(self.rows)):
            for (
                rid,
                project,
                trace,
                dotted,
                inc,
                rtype,
                has_error,
                duplicate,
                *usage,
            ) in self.conn.execute(
                "SELECT id, project_id, trace_id, dotted_order, incomplete, run_type, "
                "error IS NOT NULL, duplicate_of IS NOT NULL, prompt_tokens, completion_tokens, "
                "total_tokens, prompt_cost, completion_cost, total_cost FROM runs "
                f"WHERE id IN ({placeholders(chunk)})",
                chunk,
            ):
                out[rid] = _Stored(
                    trace,
                    dotted,
                    inc,
                    rtype,
                    bool(has_error),
                    tuple(u or 0 for u in usage),  # type: ignore[arg-type]
                    project,
                    bool(duplicate),
                )
        return out

    def _trace_keys(self, traces: set[str]) -> set[str]:
        """Key every OTel trace of the batch: stored traces keep theirs, new ones get the
        next free keys, so the runs' trace index grows at its end. Returns the OTel
        trace ids stored before."""
        for chunk in chunks(list(traces)):
            self.keys.update(
                self.conn.execute(
                    "SELECT otel_trace_id, key FROM traces "
                    f"WHERE otel_trace_id IN ({placeholders(chunk)})",
                    chunk,
                )
            )
        known = set(self.keys)
        next_key: int = self.conn.execute(
            "SELECT COALESCE(MAX(key), 0) + 1 FROM traces"
        ).fetchone()[0]
        for otel in traces - known:
            self.keys[otel] = next_key
            next_key += 1
        return known

    # Tree placement.

    def _link_span_aliases(self) -> None:
        """Join OTel spans to the SDK runs they were started in. An OTel span's parent is
        the first 8 bytes of the run's UUID (the LangSmith SDK's rule), which a span
        turns into the id `00000000-0000-0000-` + those bytes: when no run has that id,
        the run of the same trace whose UUID starts with those bytes is the parent.
        Both arrival orders: a span after its run, and a stored span before it."""
        rows = self.rows
        wanted = {
            row[PARENT]: row[TRACE_KEY]
            for row in rows.values()
            if row[INCOMPLETE]
            and row[PARENT] is not None
            and row[PARENT].startswith(SPAN_BORN)
            and row[PARENT] not in rows
        }
        if wanted:
            for ids in chunks(list(wanted)):
                for (rid,) in self.conn.execute(
                    f"SELECT id FROM runs WHERE id IN ({placeholders(ids)})", ids
                ):
                    del wanted[rid]  # a real span-born parent: the usual placement
            by_alias = {span_alias(rid): rid for rid in rows if not rid.startswith(SPAN_BORN)}
            found: dict[str, str] = {}
            for alias, key in wanted.items():
                real = by_alias.get(alias) or self._run_with_prefix(key, alias)
                if real is not None:
                    found[alias] = real
            for row in rows.values():
                if row[PARENT] in found:
                    row[PARENT] = found[row[PARENT]]
        aliases = {span_alias(rid): rid for rid in rows if not rid.startswith(SPAN_BORN)}
        for chunk in chunks(list(aliases)):
            for top, alias in self.conn.execute(
                "SELECT run_id, parent_run_id FROM orphans "
                f"WHERE parent_run_id IN ({placeholders(chunk)})",
                chunk,
            ).fetchall():
                self.conn.execute(
                    "UPDATE orphans SET parent_run_id = ? WHERE run_id = ?", (aliases[alias], top)
                )
                self.conn.execute(
                    "UPDATE runs SET parent_run_id = ? WHERE id = ?", (aliases[alias], top)
                )

    def _run_with_prefix(self, trace_key: int, alias: str) -> str | None:
        prefix = alias_prefix(alias)
        row = self.conn.execute(
            "SELECT id FROM runs WHERE trace_key = ? AND id >= ? AND id < ? LIMIT 1",
            (trace_key, prefix, prefix + "~"),
        ).fetchone()
        return None if row is None else str(row[0])

    def _place(self, known_traces: set[str]) -> list[Fragment]:
        """Give every incomplete row of the batch its final dotted order and trace id,
        and find the stored fragments that wait for a run of this batch."""
        rows = self.rows
        for rid, row in rows.items():
            if row[INCOMPLETE] and row[PARENT] not in rows:
                self.parent_of_top[rid] = row[PARENT]
        # Stored fragments whose missing parent is in this batch.
        attached: list[Fragment] = []
        for chunk in chunks([self.keys[t] for t in known_traces]):
            for top, parent, key, trace, dotted in self.conn.execute(
                "SELECT o.run_id, o.parent_run_id, o.trace_key, r.trace_id, r.dotted_order "
                "FROM orphans o JOIN runs r ON r.id = o.run_id "
                f"WHERE o.trace_key IN ({placeholders(chunk)})",
                chunk,
            ):
                if parent in rows:
                    attached.append(Fragment(top, parent, key, trace, dotted))
                    self.parent_of_top.setdefault(top, parent)
        # Stored parents of the batch's topmost runs.
        wanted = [p for t, p in self.parent_of_top.items() if t in rows and p not in rows]
        for ids in chunks(wanted):
            for rid, trace, dotted, inc in self.conn.execute(
                "SELECT id, trace_id, dotted_order, incomplete FROM runs "
                f"WHERE id IN ({placeholders(ids)})",
                ids,
            ):
                self.stored[rid] = (dotted, trace, inc)
        for row in rows.values():
            if row[INCOMPLETE]:
                row[DOTTED], row[TRACE], row[INCOMPLETE] = self._final(
                    row[DOTTED], row[TRACE], row[INCOMPLETE], set()
                )
        return attached

    def _final(
        self, dotted: str, trace: str, incomplete: int, visiting: set[str]
    ) -> tuple[str, str, int]:
        """The placement of a (partial) dotted order once every ancestor now known is
        prepended; unchanged when its topmost run's parent is still missing."""
        if not incomplete:
            return dotted, trace, incomplete
        top = dotted.split(".", 1)[0][-36:]
        if top in self.resolved:
            prefix = self.resolved[top]
        else:
            prefix = None
            parent = self.parent_of_top.get(top)
            if parent is not None and top not in visiting:  # a parent cycle stays unplaced
                visiting.add(top)
                source = self.rows.get(parent)
                if source is not None:
                    prefix = self._final(
                        source[DOTTED], source[TRACE], source[INCOMPLETE], visiting
                    )
                elif parent in self.stored:
                    prefix = self._final(*self.stored[parent], visiting)
            self.resolved[top] = prefix
        if prefix is None:
            return dotted, trace, incomplete
        return f"{prefix[0]}.{dotted}", prefix[1], prefix[2]

    def _attach_fragments(self, attached: list[Fragment]) -> list[tuple[str, Usage]]:
        """Move stored fragments under their parent from this batch; returns, per
        fragment, the new parent's dotted order and the fragment's generation usage."""
        out: list[tuple[str, Usage]] = []
        for f in attached:
            source = self.rows[f.parent]
            subtree = (f.trace_key, f.trace_id, f.dotted_order, f.dotted_order + "/")
            usage: Usage = self.conn.execute(SUBTREE_USAGE, subtree).fetchone()
            self.conn.execute(
                "UPDATE runs SET dotted_order = ? || '.' || dotted_order, trace_id = ?, "
                "incomplete = ? WHERE trace_key = ? AND trace_id = ? AND dotted_order >= ? "
                "AND dotted_order < ?",
                (source[DOTTED], source[TRACE], source[INCOMPLETE], *subtree),
            )
            out.append((source[DOTTED], usage))
        return out

    def _new_subtree_usage(self, known_traces: set[str]) -> None:
        """A new non-generation run of a trace stored before starts with the usage of
        the generations already stored below it."""
        for rid, row in self.rows.items():
            if (
                row[OTEL] in known_traces
                and rid not in self.existing
                and row[TYPE] not in GENERATION_TYPES
            ):
                dotted = row[DOTTED]
                usage = self.conn.execute(
                    SUBTREE_USAGE, (row[TRACE_KEY], row[TRACE], dotted + ".", dotted + "/")
                ).fetchone()
                if any(usage):
                    row[USAGE] = list(usage)

    def _orphans(self, attached: list[Fragment]) -> None:
        if attached:
            self.conn.executemany(
                "DELETE FROM orphans WHERE run_id = ?", [(f.top,) for f in attached]
            )
        waiting = [
            (rid, row[PARENT], row[TRACE_KEY])
            for rid, row in self.rows.items()
            if row[INCOMPLETE]
            and rid in self.parent_of_top
            and row[PARENT] not in self.stored
            and row[PARENT] not in self.rows
        ]
        if waiting:
            self.conn.executemany(
                "INSERT OR REPLACE INTO orphans (run_id, parent_run_id, trace_key) "
                "VALUES (?, ?, ?)",
                waiting,
            )

    def _runs_follow_their_root(self, known_traces: set[str]) -> None:
        """A trace and all its runs are in the project its root was first stored in:
        runs that came before their root, under another project, move to the root's."""
        moves = [
            (row[PROJECT], row[TRACE_KEY], row[PROJECT])
            for rid, row in self.rows.items()
            if row[PARENT] is None and rid not in self.existing and row[OTEL] in known_traces
        ]
        if moves:
            self.conn.executemany(
                "UPDATE runs SET project_id = ? WHERE trace_key = ? AND project_id != ?", moves
            )

    # Rollups and trace aggregates.

    def _aggregate(self, fragments: list[tuple[str, Usage]]) -> None:
        rows = self.rows
        existing = self.existing
        rollup = self.rollup
        per_trace: dict[str, list[Any]] = {}
        for rid, row in rows.items():
            old = existing.get(rid)
            is_gen = row[TYPE] in GENERATION_TYPES
            has_error = row[ERROR] is not None or (old is not None and old.has_error)
            usage: Usage = ZERO
            if is_gen:
                own = row[USAGE]
                if old is not None and old.run_type in GENERATION_TYPES:
                    usage = tuple(  # type: ignore[assignment]
                        o if n is None else n for n, o in zip(own, old.usage, strict=True)
                    )
                else:
                    usage = tuple(n or 0 for n in own)  # type: ignore[assignment]
            delta: list[float] = list(usage)
            if old is not None and old.duplicate:
                delta = list(ZERO)  # counted in its parent's usage (`duplicates.py`)
            elif old is not None and old.run_type in GENERATION_TYPES:
                delta = [n - o for n, o in zip(usage, old.usage, strict=True)]
            agg = per_trace.get(row[OTEL])
            if agg is None:
                agg = per_trace[row[OTEL]] = [
                    row[TRACE],
                    row[PROJECT] if old is None else old.project_id,
                    None,
                    None,
                    0,
                    row[START],
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0.0,
                    0.0,
                    0.0,
                    None,
                    row[SESSION],
                ]
            if not row[INCOMPLETE]:
                agg[0], agg[4] = row[TRACE], 1
            if row[PARENT] is None:
                # The trace is in its root's project: where the root was first stored.
                agg[1] = row[PROJECT] if old is None else old.project_id
                agg[2], agg[3] = rid, row[NAME]
                agg[16] = row[SESSION] or agg[16]  # the root's session, where it names one
            elif agg[16] is None:
                agg[16] = row[SESSION]
            agg[5] = min(agg[5], row[START])
            agg[6] = max(agg[6], row[END] or 0)
            agg[7] += old is None
            agg[8] += int(has_error) - int(old is not None and old.has_error)
            if any(delta):
                for i in range(6):
                    agg[9 + i] += delta[i]
                for ancestor in row[DOTTED].split(".")[:-1]:
                    _add(rollup, ancestor[-36:], delta)
            first = row[FIRST_TOKEN]
            if first is not None and (agg[15] is None or first < agg[15]):
                agg[15] = first
        # A fragment attached below existing runs adds its usage to them; new runs
        # counted it already (`_new_subtree_usage`).
        for parent_dotted, usage in fragments:
            if any(usage):
                for segment in parent_dotted.split("."):
                    ancestor = segment[-36:]
                    if ancestor not in rows or ancestor in existing:
                        _add(rollup, ancestor, usage)
        if rollup:
            self.conn.executemany(ADD_ROLLUP, [(*u, rid) for rid, u in rollup.items()])
        self.conn.executemany(
            TRACE_UPSERT, [(self.keys[otel], otel, *agg) for otel, agg in per_trace.items()]
        )


def _add(rollup: dict[str, list[float]], run_id: str, usage: Sequence[float]) -> None:
    current = rollup.get(run_id)
    if current is None:
        rollup[run_id] = list(usage)
    else:
        for i, value in enumerate(usage):
            current[i] += value


def merge_rows(old: list[Any], new: list[Any]) -> list[Any]:
    """Two rows of one id in the same batch, merged as the upsert merges them."""
    merged = [n if n is not None else o for n, o in zip(new, old, strict=True)]
    if new[INCOMPLETE] > old[INCOMPLETE]:
        merged[TRACE], merged[DOTTED], merged[INCOMPLETE] = old[TRACE], old[DOTTED], 0
    merged[NAME], merged[TYPE], merged[START] = new[NAME], new[TYPE], new[START]
    merged[PROJECT], merged[OTEL] = old[PROJECT], old[OTEL]
    return merged


SPAN_BORN = "00000000-0000-0000-"  # the prefix of a run id made from an 8-byte span id


def span_alias(run_id: str) -> str:
    """The id an OTel span gives the run whose OTel span id is this run's first 8 bytes."""
    digits = run_id.replace("-", "")[:16]
    return f"{SPAN_BORN}{digits[:4]}-{digits[4:]}"


def alias_prefix(alias: str) -> str:
    """The text every run id whose first 8 bytes the alias carries starts with."""
    digits = alias.replace("-", "")[16:]
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:]}-"
