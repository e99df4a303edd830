"""LangSmith's run filter language: parsed into a small AST, compiled to SQL with bound
parameters. Filter text is never evaluated and never pasted into SQL.

Grammar (what `POST /runs/query` takes in `filter`, `trace_filter`, `tree_filter`)::

    expr    := NAME "(" [arg ("," arg)*] ")"
    arg     := expr | NAME | literal
    literal := STRING | NUMBER | null | true | false | "[" [literal ("," literal)*] "]"

`and(...)` / `or(...)` combine expressions; `eq neq gt gte lt lte has in search` compare
a field with a value (`search("text")` alone searches name, inputs, outputs and error).
Examples: `and(eq(run_type, "llm"), gt(latency, "5s"))`, `has(tags, "beta")`,
`neq(error, null)`, `and(eq(metadata_key, "user"), eq(metadata_value, "ada"))`.

Limits (`LIMITS`), so that no filter can exhaust the parser, the SQL it becomes or the
database's own limits: its length, the nesting of `and` / `or` and lists, the number of
comparisons, of list items and of characters in one string; numbers, times and
durations must fit the store's 64-bit columns. Each is refused with a message naming
the column and the limit.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from otel_llm.durations import FILTER_UNITS, duration_in
from otel_llm.model import iso_to_ns

Literal = str | int | float | bool | None | list[Any]

COMPARATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "has", "in", "search")
COMBINATORS = ("and", "or")
_ORDERING = ("gt", "gte", "lt", "lte")
_SQL_OP = {"eq": "=", "neq": "IS NOT", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_KEYWORDS: dict[str, Literal] = {"null": None, "true": True, "false": False}
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NAME_START = re.compile(r"[A-Za-z_]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "/": "/"}


@dataclass(frozen=True)
class FilterLimits:
    """How large a filter may be (documented in the README)."""

    length: int = 20_000  # characters of filter text
    depth: int = 16  # nesting of and(...) / or(...) and lists
    comparisons: int = 200  # comparisons and searches in one filter
    list_items: int = 1_000  # values in all lists of one filter
    string: int = 4_096  # characters of one string


LIMITS = FilterLimits()
# What a 64-bit integer column holds; times are nanoseconds (1677-09-21 to 2262-04-11).
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_SHOWN = 200  # characters of the filter an error message quotes


class FilterSyntaxError(ValueError):
    """A filter that cannot be parsed or compiled; says what is wrong and where.

    Args:
        message: what is wrong.
        text: the whole filter.
        column: 1-based column of the offending token (None when not tied to one).
    """

    def __init__(self, message: str, text: str, column: int | None = None) -> None:
        where = f" at column {column}" if column is not None else ""
        shown = text if len(text) <= _SHOWN else text[:_SHOWN] + "..."
        super().__init__(f"bad filter{where}: {message} (in {shown!r})")
        self.column = column
        self.text = text


# --- AST -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compare:
    """`op(field, value)`."""

    op: str
    field: str
    value: Literal
    column: int


@dataclass(frozen=True, slots=True)
class Search:
    """`search("text")` over name, inputs, outputs and error, or `search(field, "text")`."""

    text: str
    field: str | None
    column: int


@dataclass(frozen=True, slots=True)
class Logical:
    """`and(...)` / `or(...)`."""

    op: str
    items: tuple[Node, ...]
    column: int


Node = Compare | Search | Logical


# --- tokenizer -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # name, string, number, "(", ")", ",", "[", "]", end
    value: Any
    column: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "(),[]":
            tokens.append(_Token(ch, ch, i + 1))
            i += 1
        elif ch in "\"'":
            value, end = _read_string(text, i)
            if len(value) > LIMITS.string:
                raise FilterSyntaxError(
                    f"a string of {len(value):,} characters; the limit is {LIMITS.string:,}",
                    text, i + 1)
            tokens.append(_Token("string", value, i + 1))
            i = end
        elif _NAME_START.match(ch):
            m = _NAME.match(text, i)
            assert m is not None
            tokens.append(_Token("name", m.group(), i + 1))
            i = m.end()
        elif ch.isdigit() or ch in "-.":
            m = _NUMBER.match(text, i)
            if m is None:
                raise FilterSyntaxError(f"unexpected {ch!r}", text, i + 1)
            raw = m.group()
            tokens.append(_Token("number", _number(raw, text, i + 1), i + 1))
            i = m.end()
        else:
            raise FilterSyntaxError(f"unexpected {ch!r}", text, i + 1)
    tokens.append(_Token("end", None, n + 1))
    return tokens


def _number(raw: str, text: str, column: int) -> int | float:
    """A number literal: an integer that fits 64 bits, or a finite float."""
    if not any(c in raw for c in ".eE"):
        if len(raw) <= 20 and _INT64_MIN <= (number := int(raw)) <= _INT64_MAX:
            return number
        raise FilterSyntaxError(f"integer {_clip(raw)} is outside the 64-bit range "
                                f"({_INT64_MIN} to {_INT64_MAX})", text, column)
    value = float(raw)
    if not math.isfinite(value):
        raise FilterSyntaxError(f"number {_clip(raw)} is too large", text, column)
    return value


def _clip(raw: str) -> str:
    return raw if len(raw) <= 30 else f"{raw[:30]}... ({len(raw):,} characters)"


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    raise FilterSyntaxError("string is not closed", text, start + 1)


# --- parser ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Name:
    name: str
    column: int


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.depth = 0  # open and(...) / or(...) / lists
        self.comparisons = 0
        self.list_items = 0

    def enter(self, tok: _Token) -> None:
        self.depth += 1
        if self.depth > LIMITS.depth:
            raise self.error(f"nested more than {LIMITS.depth} levels deep (the limit)", tok)

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def next(self) -> _Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def expect(self, kind: str, what: str) -> _Token:
        tok = self.next()
        if tok.kind != kind:
            raise self.error(f"expected {what}, found {_describe(tok)}", tok)
        return tok

    def error(self, message: str, tok: _Token | None = None) -> FilterSyntaxError:
        return FilterSyntaxError(message, self.text, tok.column if tok else None)

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise self.error("the filter is empty", self.peek())
        node = self.expr()
        tok = self.peek()
        if tok.kind != "end":
            raise self.error(f"unexpected {_describe(tok)} after the expression", tok)
        return node

    def expr(self) -> Node:
        head = self.expect("name", "an operator such as eq, and, search")
        op = head.value.lower()
        if op not in COMPARATORS and op not in COMBINATORS:
            raise self.error(
                f"unknown operator {head.value!r}; use one of "
                f"{', '.join(COMPARATORS + COMBINATORS)}",
                head,
            )
        self.expect("(", f"'(' after {head.value}")
        if op in COMBINATORS:
            self.enter(head)
        else:
            self.comparisons += 1
            if self.comparisons > LIMITS.comparisons:
                raise self.error(
                    f"more than {LIMITS.comparisons} comparisons (the limit)", head)
        args: list[tuple[Any, _Token]] = []
        if self.peek().kind != ")":
            while True:
                tok = self.peek()
                args.append((self.arg(), tok))
                sep = self.next()
                if sep.kind == ")":
                    break
                if sep.kind != ",":
                    raise self.error(f"expected ',' or ')', found {_describe(sep)}", sep)
        else:
            self.next()
        if op in COMBINATORS:
            self.depth -= 1
        return self.build(op, head, args)

    def arg(self) -> Any:
        tok = self.peek()
        if tok.kind == "name":
            if self.tokens[self.pos + 1].kind == "(":
                return self.expr()
            self.next()
            if tok.value.lower() in _KEYWORDS:
                return _KEYWORDS[tok.value.lower()]
            return _Name(tok.value, tok.column)
        return self.literal()

    def literal(self) -> Literal:
        tok = self.next()
        if tok.kind in ("string", "number"):
            value: Literal = tok.value
            return value
        if tok.kind == "name" and tok.value.lower() in _KEYWORDS:
            return _KEYWORDS[tok.value.lower()]
        if tok.kind == "[":
            self.enter(tok)
            items: list[Any] = []
            if self.peek().kind == "]":
                self.next()
                self.depth -= 1
                return items
            while True:
                self.list_items += 1
                if self.list_items > LIMITS.list_items:
                    raise self.error(
                        f"more than {LIMITS.list_items:,} list items (the limit)", self.peek())
                items.append(self.literal())
                sep = self.next()
                if sep.kind == "]":
                    self.depth -= 1
                    return items
                if sep.kind != ",":
                    raise self.error(f"expected ',' or ']', found {_describe(sep)}", sep)
        raise self.error(f"expected a value, found {_describe(tok)}", tok)

    def build(self, op: str, head: _Token, args: list[tuple[Any, _Token]]) -> Node:
        if op in COMBINATORS:
            if not args:
                raise self.error(f"{op}() needs at least one expression", head)
            for value, tok in args:
                if not isinstance(value, (Compare, Search, Logical)):
                    raise self.error(f"{op}() takes expressions, found {_describe(tok)}", tok)
            return Logical(op, tuple(v for v, _ in args), head.column)
        if op == "search" and len(args) == 1:
            text, tok = args[0]
            if not isinstance(text, str) or isinstance(text, _Name):
                raise self.error("search() takes a string", tok)
            return Search(text, None, head.column)
        if len(args) != 2:
            raise self.error(f"{op}() takes a field and a value, got {len(args)} argument(s)", head)
        (field, ftok), (value, vtok) = args
        if not isinstance(field, _Name):
            raise self.error(f"{op}() needs a field name first, found {_describe(ftok)}", ftok)
        if isinstance(value, (_Name, Compare, Search, Logical)):
            raise self.error(f"{op}() needs a value second, found {_describe(vtok)}", vtok)
        name = field.name.lower()
        if name not in FIELDS:
            raise self.error(
                f"unknown field {field.name!r}; known fields: {', '.join(sorted(FIELDS))}",
                ftok,
            )
        if op == "search":
            if not isinstance(value, str):
                raise self.error("search() takes a string", vtok)
            return Search(value, name, head.column)
        return Compare(op, name, value, vtok.column)


def _describe(tok: _Token) -> str:
    if tok.kind == "end":
        return "the end of the filter"
    if tok.kind == "string":
        return f"string {tok.value!r}"
    return repr(tok.value)


def parse_filter(text: str) -> Node:
    """Parse a filter into its AST.

    Args:
        text: e.g. `and(eq(run_type, "llm"), gt(latency, "5s"))`.

    Raises:
        FilterSyntaxError: what is wrong, with its column.
    """
    if len(text) > LIMITS.length:
        raise FilterSyntaxError(
            f"the filter has {len(text):,} characters; the limit is {LIMITS.length:,}", text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FilterSyntaxError("a lone surrogate is not text", text, exc.start + 1) from None
    return _Parser(text).parse()


# --- compiler --------------------------------------------------------------------

SQL = tuple[str, list[Any]]


@dataclass(frozen=True, slots=True)
class _Field:
    """How one filter field reads in SQL: an expression over the runs alias `{a}`."""

    expr: str
    kind: str  # text, uuid, trace, time, duration, number, error, tags, meta_key, meta_value, bool


_GEN = "('llm', 'embedding')"
_STATUS = ("(CASE WHEN {a}.error IS NOT NULL THEN 'error' "
           "WHEN {a}.end_time IS NULL THEN 'pending' ELSE 'success' END)")

FIELDS: dict[str, _Field] = {
    "id": _Field("{a}.id", "uuid"),
    "trace_id": _Field("{a}.trace_id", "trace"),
    "parent_run_id": _Field("{a}.parent_run_id", "uuid"),
    "reference_example_id": _Field("{a}.reference_example_id", "uuid"),
    "name": _Field("{a}.name", "text"),
    "run_type": _Field("{a}.run_type", "text"),
    "status": _Field(_STATUS, "text"),
    "start_time": _Field("{a}.start_time", "time"),
    "end_time": _Field("{a}.end_time", "time"),
    "latency": _Field("({a}.end_time - {a}.start_time)", "duration"),
    "total_tokens": _Field("{a}.total_tokens", "number"),
    "prompt_tokens": _Field("{a}.prompt_tokens", "number"),
    "completion_tokens": _Field("{a}.completion_tokens", "number"),
    "total_cost": _Field("{a}.total_cost", "number"),
    "prompt_cost": _Field("{a}.prompt_cost", "number"),
    "completion_cost": _Field("{a}.completion_cost", "number"),
    "error": _Field("{a}.error", "error"),
    "tags": _Field("{a}.tags", "tags"),
    "metadata_key": _Field("{a}.metadata", "meta_key"),
    "metadata_value": _Field("{a}.metadata", "meta_value"),
    "is_root": _Field("({a}.parent_run_id IS NULL)", "bool"),
}

_SEARCHED = ("name", "inputs", "outputs", "error")
# A JSON metadata value as text: strings bare, numbers as written, booleans as words.
_META_TEXT = "(CASE type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' " \
             "ELSE CAST(value AS TEXT) END)"


class _Compiler:
    def __init__(self, text: str, alias: str) -> None:
        self.text = text
        self.alias = alias

    def error(self, message: str, column: int) -> FilterSyntaxError:
        return FilterSyntaxError(message, self.text, column)

    def node(self, node: Node) -> SQL:
        if isinstance(node, Logical):
            return self.logical(node)
        if isinstance(node, Search):
            return self.search(node)
        return self.compare(node)

    def logical(self, node: Logical) -> SQL:
        parts: list[str] = []
        params: list[Any] = []
        items = list(node.items)
        if node.op == "and":
            for sql, p in self.metadata_pairs(items):
                parts.append(sql)
                params.extend(p)
        for item in items:
            sql, p = self.node(item)
            parts.append(sql)
            params.extend(p)
        joiner = " AND " if node.op == "and" else " OR "
        return "(" + joiner.join(parts) + ")", params

    def metadata_pairs(self, items: list[Node]) -> list[SQL]:
        """`and(eq(metadata_key, k), eq(metadata_value, v))` means "metadata[k] == v":
        pair the i-th key test with the i-th value test and take both out of `items`."""
        keys = [i for i in items if isinstance(i, Compare) and i.field == "metadata_key"
                and i.op == "eq"]
        values = [i for i in items if isinstance(i, Compare) and i.field == "metadata_value"
                  and i.op == "eq"]
        out: list[SQL] = []
        for key, value in zip(keys, values, strict=False):  # extra unpaired tests stay
            items.remove(key)
            items.remove(value)
            k = self.meta_text(key)
            v = self.meta_text(value)
            md = f"{self.alias}.metadata"
            out.append((
                f"(instr({md}, ?) > 0 AND instr({md}, ?) > 0 AND EXISTS (SELECT 1 FROM "
                f"json_each({md}) WHERE key = ? AND {_META_TEXT} = ?))",
                [_key_needle(k), _value_needle(v), k, v],
            ))
        return out

    def meta_text(self, node: Compare) -> str:
        value = node.value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float, str)):
            return str(value)
        raise self.error(f"{node.field} needs a string or number, got {value!r}", node.column)

    def search(self, node: Search) -> SQL:
        if "\0" in node.text:  # SQLite ends a LIKE pattern at NUL: it would match anything
            raise self.error("search() text cannot contain NUL (U+0000)", node.column)
        pattern = "%" + _like_escape(node.text) + "%"
        a = self.alias
        if node.field is None:
            cols = [f"{a}.{c}" for c in _SEARCHED]
        else:
            field = FIELDS[node.field]
            if field.kind in ("time", "duration", "number", "bool"):
                raise self.error(f"search() does not apply to {node.field}", node.column)
            cols = [field.expr.format(a=a)]
        sql = " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in cols)
        return f"({sql})", [pattern] * len(cols)

    def compare(self, node: Compare) -> SQL:
        field = FIELDS[node.field]
        handler = _KIND_HANDLERS[field.kind]
        return handler(self, node, field.expr.format(a=self.alias))

    # One handler per field kind (a table, not an if-chain).

    def scalar(self, node: Compare, expr: str, convert: Callable[[Any, Compare], Any]) -> SQL:
        if node.op == "has":
            raise self.error(f"has() applies to tags, not {node.field}", node.column)
        if node.op == "in":
            values = self.as_list(node)
            if not values:
                return "0", []
            marks = ", ".join("?" * len(values))
            return f"{expr} IN ({marks})", [convert(v, node) for v in values]
        return f"{expr} {_SQL_OP[node.op]} ?", [convert(node.value, node)]

    def text_(self, node: Compare, expr: str) -> SQL:
        return self.scalar(node, expr, self.to_text)

    def uuid_(self, node: Compare, expr: str) -> SQL:
        return self.scalar(node, expr, self.to_uuid)

    def trace(self, node: Compare, expr: str) -> SQL:
        """eq / in on trace_id go through the traces table to the runs' trace index."""
        if node.op not in ("eq", "in"):
            return self.uuid_(node, expr)
        raw = self.as_list(node) if node.op == "in" else [node.value]
        ids = [self.to_uuid(v, node) for v in raw]
        if not ids:
            return "0", []
        marks = ", ".join("?" * len(ids))
        a = self.alias
        return (
            f"({a}.trace_key IN (SELECT key FROM traces WHERE trace_id IN ({marks}) "
            f"OR otel_trace_id IN ({marks})) AND {expr} IN ({marks}))",
            [*ids, *(uuid.UUID(i).hex for i in ids), *ids],
        )

    def time(self, node: Compare, expr: str) -> SQL:
        return self.scalar(node, expr, self.to_time)

    def duration(self, node: Compare, expr: str) -> SQL:
        return self.scalar(node, expr, self.to_duration)

    def number(self, node: Compare, expr: str) -> SQL:
        return self.scalar(node, expr, self.to_number)

    def error_(self, node: Compare, expr: str) -> SQL:
        value = node.value
        if value is None or isinstance(value, bool):
            # eq(error, null) / eq(error, false): no error; neq(error, null) / eq(error, true).
            has_error = (value is None) == (node.op == "neq")
            if node.op not in ("eq", "neq"):
                raise self.error(f"{node.op}() cannot compare error with {value!r}", node.column)
            return (f"{expr} IS NOT NULL" if has_error else f"{expr} IS NULL"), []
        return self.scalar(node, expr, self.to_text)

    def bool_(self, node: Compare, expr: str) -> SQL:
        if node.op not in ("eq", "neq") or not isinstance(node.value, bool):
            raise self.error(f"{node.field} takes eq/neq with true or false", node.column)
        wanted = node.value == (node.op == "eq")
        return (expr if wanted else f"NOT {expr}"), []

    def tags(self, node: Compare, expr: str) -> SQL:
        has = f"EXISTS (SELECT 1 FROM json_each({expr}) WHERE value = ?)"
        if node.op in ("has", "eq"):
            tag = self.to_text(node.value, node)
            return f"(instr({expr}, ?) > 0 AND {has})", [_dumps(tag), tag]
        if node.op == "neq":
            return f"NOT {has}", [self.to_text(node.value, node)]
        if node.op == "in":
            values = [self.to_text(v, node) for v in self.as_list(node)]
            if not values:
                return "0", []
            marks = ", ".join("?" * len(values))
            return f"EXISTS (SELECT 1 FROM json_each({expr}) WHERE value IN ({marks}))", values
        raise self.error(f"{node.op}() does not apply to tags; use has, eq, neq or in",
                         node.column)

    def meta(self, node: Compare, expr: str) -> SQL:
        column = "key" if node.field == "metadata_key" else _META_TEXT
        exists = f"EXISTS (SELECT 1 FROM json_each({expr}) WHERE {column} = ?)"
        if node.op in ("eq", "has"):
            text = self.meta_text(node)
            needle = _key_needle(text) if node.field == "metadata_key" else _value_needle(text)
            return f"(instr({expr}, ?) > 0 AND {exists})", [needle, text]
        if node.op == "neq":
            return f"NOT {exists}", [self.meta_text(node)]
        if node.op == "in":
            values = [self.meta_text(Compare("eq", node.field, v, node.column))
                      for v in self.as_list(node)]
            if not values:
                return "0", []
            marks = ", ".join("?" * len(values))
            return (f"EXISTS (SELECT 1 FROM json_each({expr}) WHERE {column} IN ({marks}))",
                    values)
        raise self.error(f"{node.op}() does not apply to {node.field}; use eq, neq or in",
                         node.column)

    # Value conversions.

    def as_list(self, node: Compare) -> list[Any]:
        if not isinstance(node.value, list):
            raise self.error(f"in() needs a list such as [\"a\", \"b\"], got {node.value!r}",
                             node.column)
        return node.value

    def to_text(self, value: Any, node: Compare) -> str:
        if isinstance(value, str):
            return value
        if node.op in _ORDERING or not isinstance(value, (int, float)) or isinstance(value, bool):
            raise self.error(f"{node.field} needs a string, got {value!r}", node.column)
        return str(value)

    def to_uuid(self, value: Any, node: Compare) -> str:
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise self.error(f"{node.field} needs a UUID, got {value!r}", node.column) from None

    def to_time(self, value: Any, node: Compare) -> int:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self.in_range(value * 1_000_000_000, node, value)  # epoch seconds
        if isinstance(value, str):
            try:
                ns = iso_to_ns(value)
            except ValueError:
                pass
            else:
                return self.in_range(ns, node, value)
        raise self.error(
            f"{node.field} needs an ISO 8601 time such as \"2026-01-31T12:00:00Z\" "
            f"(or epoch seconds), got {value!r}",
            node.column,
        )

    def to_duration(self, value: Any, node: Compare) -> int:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self.in_range(value * 1_000_000_000, node, value)  # plain numbers: seconds
        if isinstance(value, str):
            nanoseconds = duration_in(value, FILTER_UNITS, leading_point=True)
            if nanoseconds is not None:
                return self.in_range(nanoseconds, node, value)
        raise self.error(
            f"{node.field} needs a duration such as 5, \"5s\", \"500ms\", \"2m\", got {value!r}",
            node.column,
        )

    def to_number(self, value: Any, node: Compare) -> float | int:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value  # the tokenizer keeps integers to 64 bits and floats finite
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                pass
            else:
                if math.isfinite(number):
                    return number
        raise self.error(f"{node.field} needs a number, got {_clip(repr(value))}",
                         node.column)

    def in_range(self, ns: float, node: Compare, value: Any) -> int:
        """Nanoseconds as the store's 64-bit integer, or an error naming the field."""
        if math.isfinite(ns) and _INT64_MIN <= ns <= _INT64_MAX:
            return int(ns)
        bound = "times from 1677-09-21 to 2262-04-11" if FIELDS[node.field].kind == "time" \
            else "durations up to 292 years"
        raise self.error(f"{node.field} {_clip(repr(value))} is out of range ({bound})",
                         node.column)


_KIND_HANDLERS: dict[str, Callable[[_Compiler, Compare, str], SQL]] = {
    "text": _Compiler.text_,
    "uuid": _Compiler.uuid_,
    "trace": _Compiler.trace,
    "time": _Compiler.time,
    "duration": _Compiler.duration,
    "number": _Compiler.number,
    "error": _Compiler.error_,
    "bool": _Compiler.bool_,
    "tags": _Compiler.tags,
    "meta_key": _Compiler.meta,
    "meta_value": _Compiler.meta,
}


def compile_filter(text: str, alias: str = "r") -> SQL:
    """A filter as a SQL condition over the `runs` table aliased `alias`, with its
    parameters (every value is a bound parameter).

    Args:
        text: the filter.
        alias: the SQL alias of the runs table the condition reads.

    Raises:
        FilterSyntaxError: for any parse or type problem.
    """
    return _Compiler(text, alias).node(parse_filter(text))


_CONTENT_FIELDS = frozenset({"metadata_key", "metadata_value"})


def reads_content(text: str) -> bool:
    """Whether a filter has to read the large JSON/text columns of every candidate run
    (a `search`, or a metadata test): its cost is then one pass over the rows' content,
    and how many rows match cannot be known from an index."""

    def walk(node: Node) -> bool:
        if isinstance(node, Logical):
            return any(walk(item) for item in node.items)
        return isinstance(node, Search) or node.field in _CONTENT_FIELDS

    return walk(parse_filter(text))


# Cheap text pre-checks before json_each, which costs ~1 us per row: the store writes
# every JSON column with orjson, so a key k appears in the text exactly as `"k":` and a
# value v as the inside of its JSON string (or as written, for numbers and booleans).


def _dumps(text: str) -> str:
    return orjson.dumps(text).decode()


def _key_needle(key: str) -> str:
    return _dumps(key) + ":"


def _value_needle(value: str) -> str:
    return _dumps(value)[1:-1]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
