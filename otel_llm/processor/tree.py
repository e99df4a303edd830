"""The converter's table of live spans: who is whose parent, and when a run can go.

Parents start before their children, and a child ends before its parent does: so when
a span ends, its whole local ancestry is usually known, and its run is placed in its
tree at once. A span whose parent has not been seen (its start was dropped, or only
ended spans are fed) waits for it; a parent that never comes is let go after a
timeout, and the runs waiting on it go out incomplete. Where a run sits is decided by
`otel_llm.convert` alone: the table only hands it the parent's `Placement`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from opentelemetry.sdk.trace import Span as SdkSpan

from otel_llm.convert import (
    DOTTED_ORDER_KEYS,
    ID_KEYS,
    Placement,
    children_placement,
    span_to_run,
)
from otel_llm.model import SpanRecord
from otel_llm.otlp import span_from_readable


class Node:
    """One span as the converter tracks it until it and its children have ended."""

    __slots__ = (
        "created",
        "ended",
        "has_parent",
        "kids",
        "open_kids",
        "own_dotted",
        "parent",
        "pending",
        "placement",
        "resolved",
        "source",
        "span_id",
        "start_ns",
        "wanted",
    )

    def __init__(self, span_id: int) -> None:
        self.span_id = span_id
        self.created = 0.0  # when it was made a placeholder (0: never)
        self.source: SdkSpan | SpanRecord | None = None  # the started or ended span
        self.start_ns: int | None = None  # None: a placeholder for a parent not yet seen
        self.parent: Node | None = None  # the local parent, when it is tracked
        self.has_parent = False  # a parent exists (local, remote or lost)
        self.own_dotted = False  # it carries its whole dotted order: needs no ancestors
        self.resolved = False  # the whole local ancestry is known
        self.ended = False
        self.wanted = False  # a descendant is LLM-relevant: keep this one too
        self.open_kids = 0  # tracked children
        # Children waiting for this node to resolve (rare: parents start first); None
        # until one does, which spares the collector a list per span.
        self.kids: list[Node] | None = None
        self.pending: SpanRecord | None = None  # ended, kept, waiting to resolve
        self.placement: Placement | None = None  # where its children go, once asked


Emit = Callable[[SpanRecord, Node], None]
"""Called with an ended span whose run can go now (and its node, for `parent_placement`)."""

RootEnded = Callable[[SpanRecord], None]
"""Called when a span without a local parent has ended and its run has gone."""


class SpanTree:
    """The live spans of the converter thread (not thread-safe: one thread owns it).

    Args:
        emit: receives each kept span once its run can be placed.
        root_ended: told when a local root's run has gone (sampling decides then).
        max_live: spans tracked at most; the oldest is let go first.
        orphan_timeout_s: how long a span waits for a local parent it has not seen.
    """

    def __init__(
        self, emit: Emit, root_ended: RootEnded, max_live: int, orphan_timeout_s: float
    ) -> None:
        self._emit = emit
        self._root_ended = root_ended
        self._max_live = max_live
        self._orphan_timeout = orphan_timeout_s
        self.nodes: dict[int, Node] = {}
        self._placeholders: dict[int, Node] = {}
        self.waiting = 0  # ended, kept spans waiting for an ancestor

    # --- what the spans tell -------------------------------------------------------------

    def started(self, span: SdkSpan) -> None:
        ctx = span.context
        if ctx is None:
            return
        node = self._node(ctx.span_id)
        if node.start_ns is not None:
            return
        parent = span.parent
        if parent is None:
            self._fill(node, span, span.start_time or 0, None, False)
        else:
            self._fill(node, span, span.start_time or 0, parent.span_id, parent.is_remote)

    def ended(self, record: SpanRecord, relevant: bool) -> bool:
        """A span ended; `relevant` keeps it and its ancestors. False when it is not
        kept (neither relevant nor an ancestor of a relevant span, so far)."""
        span_id = int.from_bytes(record.span_id, "big")
        node = self.nodes.get(span_id)
        if node is None or node.start_ns is None:
            # Its start was not seen: learn what on_start would have told.
            node = node or self._node(span_id)
            parent = record.parent_span_id
            self._fill(
                node,
                record,
                record.start_time_unix_nano,
                int.from_bytes(parent, "big") if any(parent) else None,
                record.flags & _PARENT_IS_REMOTE == _PARENT_IS_REMOTE,
            )
        node.ended = True
        if relevant:
            _want(node)
        kept = node.wanted
        if kept:
            if node.resolved:
                self._emit(record, node)
            else:
                node.pending = record
                self.waiting += 1
        if node.parent is None:
            self._root_ended(record)
        self._retire(node)
        return kept

    def expire(self, now: float) -> None:
        """Let go of the parents waited for longer than the orphan timeout."""
        limit = now - self._orphan_timeout
        while self._placeholders:
            oldest = next(iter(self._placeholders.values()))
            if oldest.created > limit:
                break
            self._let_go(oldest)

    def release_all(self) -> None:
        """At shutdown: nothing more will end; emit everything still waiting."""
        for placeholder in list(self._placeholders.values()):
            self._let_go(placeholder)

    # --- placement --------------------------------------------------------------------------

    def parent_placement(self, node: Node) -> Placement | None:
        """Where the run of `node` goes: under its local parent's run, when that parent
        is known (None: a root, or an orphan, which `span_to_run` places itself)."""
        up = node.parent
        if up is None or not up.resolved:
            return None
        path: list[Node] = []
        n: Node | None = up
        while n is not None and n.placement is None:  # iterative: deep trees are fine
            path.append(n)
            n = None if n.own_dotted else n.parent
        for n in reversed(path):
            n.placement = _children_placement(n)
        return up.placement

    # --- the table ----------------------------------------------------------------------------

    def _node(self, span_id: int) -> Node:
        node = self.nodes.get(span_id)
        if node is None:
            node = self.nodes[span_id] = Node(span_id)
            if len(self.nodes) > self._max_live:
                self._let_go(next(iter(self.nodes.values())))
        return node

    def _fill(
        self,
        node: Node,
        source: SdkSpan | SpanRecord,
        start_ns: int,
        parent_id: int | None,
        parent_remote: bool,
    ) -> None:
        """What a span's start tells: its start time and parent (the rest is read from
        `source` only if a child needs it)."""
        if node.created:
            self._placeholders.pop(node.span_id, None)
        node.source = source
        node.start_ns = start_ns
        node.has_parent = parent_id is not None
        if parent_id is not None and not parent_remote:
            parent = self.nodes.get(parent_id)
            if parent is None:
                parent = self._node(parent_id)
                parent.created = time.monotonic()
                self._placeholders[parent_id] = parent
            if parent is not node:
                node.parent = parent
                parent.open_kids += 1
                if node.wanted:  # a relevant descendant ended before this span did
                    _want(parent)
                if not parent.resolved:
                    node.own_dotted = _names_any(source, DOTTED_ORDER_KEYS)
                    if not node.own_dotted:
                        if parent.kids is None:
                            parent.kids = []
                        parent.kids.append(node)
                        return
        self._resolve(node)

    def _resolve(self, first: Node) -> None:
        """Mark a node resolved and release, depth first, every run that waited on it."""
        stack = [first]
        while stack:
            node = stack.pop()
            node.resolved = True
            if node.pending is not None:
                record, node.pending = node.pending, None
                self.waiting -= 1
                self._emit(record, node)
                if node.parent is None:
                    self._root_ended(record)
            kids, node.kids = node.kids, None
            if kids:
                stack.extend(k for k in kids if k.start_ns is not None and not k.resolved)
            self._retire(node)

    def _retire(self, node: Node) -> None:
        """Forget nodes that have ended and whose children are all gone."""
        while (
            node.ended
            and node.open_kids == 0
            and node.pending is None
            and self.nodes.get(node.span_id) is node
        ):
            del self.nodes[node.span_id]
            parent = node.parent
            if parent is None:
                return
            parent.open_kids -= 1
            node = parent

    def _let_go(self, node: Node) -> None:
        """Stop tracking a node (never ended, or a parent that never came): the runs
        waiting on it are emitted as incomplete."""
        if self.nodes.get(node.span_id) is node:
            del self.nodes[node.span_id]
        self._placeholders.pop(node.span_id, None)
        parent, node.parent = node.parent, None
        if parent is not None:
            parent.open_kids -= 1
            self._retire(parent)
        for kid in node.kids or ():
            kid.parent = None
            if kid.start_ns is not None and not kid.resolved:
                self._resolve(kid)
        node.kids = None
        if node.pending is not None:
            self._resolve(node)


_PARENT_IS_REMOTE = 0x300  # OTLP span flags: "has is_remote" | "is remote"


def _want(node: Node | None) -> None:
    """Keep this span and its ancestors."""
    while node is not None and not node.wanted:
        node.wanted = True
        node = node.parent


def _names_any(source: SdkSpan | SpanRecord | None, keys: frozenset[str]) -> bool:
    attrs = source.attributes if source is not None else None
    return bool(attrs) and not keys.isdisjoint(attrs)  # type: ignore[arg-type]


def _children_placement(node: Node) -> Placement:
    """Where the children of a node go, its parent's placement being known."""
    parent = node.parent.placement if node.parent is not None else None
    source = node.source
    if source is not None and _names_any(source, ID_KEYS):
        # The span names (some of) its own ids: the converter combines them.
        record = source if isinstance(source, SpanRecord) else span_from_readable(source)
        run = span_to_run(record, parent=None if node.own_dotted else parent)
        if run is not None:
            return Placement.under(run)
    if isinstance(source, SpanRecord):
        trace_id = source.trace_id
    else:
        ctx = source.context if source is not None else None
        trace_id = ctx.trace_id.to_bytes(16, "big") if ctx is not None else bytes(16)
    return children_placement(
        node.span_id.to_bytes(8, "big"),
        trace_id,
        node.start_ns or 0,
        parent,
        has_parent=node.has_parent,
    )
