"""LangSmith's run filter language, parsed into a small AST with no SQL in sight: the
parser, the limits, the field names and kinds (`FIELD_KINDS`).

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
from dataclasses import dataclass
from typing import Any

Literal = str | int | float | bool | None | list[Any]

COMPARATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "has", "in", "search")
COMBINATORS = ("and", "or")
ORDERING = ("gt", "gte", "lt", "lte")
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
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
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
                    text,
                    i + 1,
                )
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
        if len(raw) <= 20 and INT64_MIN <= (number := int(raw)) <= INT64_MAX:
            return number
        raise FilterSyntaxError(
            f"integer {clip(raw)} is outside the 64-bit range ({INT64_MIN} to {INT64_MAX})",
            text,
            column,
        )
    value = float(raw)
    if not math.isfinite(value):
        raise FilterSyntaxError(f"number {clip(raw)} is too large", text, column)
    return value


def clip(raw: str) -> str:
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
                raise self.error(f"more than {LIMITS.comparisons} comparisons (the limit)", head)
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
                        f"more than {LIMITS.list_items:,} list items (the limit)", self.peek()
                    )
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
        if name not in FIELD_KINDS:
            raise self.error(
                f"unknown field {field.name!r}; known fields: {', '.join(sorted(FIELD_KINDS))}",
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
            f"the filter has {len(text):,} characters; the limit is {LIMITS.length:,}", text
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FilterSyntaxError("a lone surrogate is not text", text, exc.start + 1) from None
    return _Parser(text).parse()


# Each field's kind decides which comparisons and values it takes (`values.py`) and how
# a dialect reads it (`sqlite.py`).
FIELD_KINDS: dict[str, str] = {
    "id": "uuid",
    "trace_id": "trace",
    "parent_run_id": "uuid",
    "reference_example_id": "uuid",
    "name": "text",
    "run_type": "text",
    "status": "text",
    "start_time": "time",
    "end_time": "time",
    "latency": "duration",
    "total_tokens": "number",
    "prompt_tokens": "number",
    "completion_tokens": "number",
    "total_cost": "number",
    "prompt_cost": "number",
    "completion_cost": "number",
    "error": "error",
    "tags": "tags",
    "metadata_key": "meta_key",
    "metadata_value": "meta_value",
    "is_root": "bool",
}

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
