"""The filter language in SQLite's SQL: every value a bound parameter, never pasted.

A second SQL dialect adds a module like this one; parsing and value typing are shared.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson

from otel_llm.store.query.parse import (
    FIELD_KINDS,
    Compare,
    Logical,
    Node,
    Search,
    parse_filter,
)
from otel_llm.store.query.values import ValueConversions

SQL = tuple[str, list[Any]]
_SQL_OP = {"eq": "=", "neq": "IS NOT", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


_GEN = "('llm', 'embedding')"
_STATUS = (
    "(CASE WHEN {a}.error IS NOT NULL THEN 'error' "
    "WHEN {a}.end_time IS NULL THEN 'pending' ELSE 'success' END)"
)

# How each field reads in SQL: an expression over the runs alias `{a}`.
FIELD_SQL: dict[str, str] = {
    "id": "{a}.id",
    "trace_id": "{a}.trace_id",
    "parent_run_id": "{a}.parent_run_id",
    "reference_example_id": "{a}.reference_example_id",
    "name": "{a}.name",
    "run_type": "{a}.run_type",
    "status": _STATUS,
    "start_time": "{a}.start_time",
    "end_time": "{a}.end_time",
    "latency": "({a}.end_time - {a}.start_time)",
    "total_tokens": "{a}.total_tokens",
    "prompt_tokens": "{a}.prompt_tokens",
    "completion_tokens": "{a}.completion_tokens",
    "total_cost": "{a}.total_cost",
    "prompt_cost": "{a}.prompt_cost",
    "completion_cost": "{a}.completion_cost",
    "error": "{a}.error",
    "tags": "{a}.tags",
    "metadata_key": "{a}.metadata",
    "metadata_value": "{a}.metadata",
    "is_root": "({a}.parent_run_id IS NULL)",
}
assert FIELD_SQL.keys() == FIELD_KINDS.keys()

_SEARCHED = ("name", "inputs", "outputs", "error")
# A JSON metadata value as text: strings bare, numbers as written, booleans as words.
_META_TEXT = (
    "(CASE type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(value AS TEXT) END)"
)


class _Compiler(ValueConversions):
    def __init__(self, text: str, alias: str) -> None:
        self.text = text
        self.alias = alias

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
        keys = [
            i
            for i in items
            if isinstance(i, Compare) and i.field == "metadata_key" and i.op == "eq"
        ]
        values = [
            i
            for i in items
            if isinstance(i, Compare) and i.field == "metadata_value" and i.op == "eq"
        ]
        out: list[SQL] = []
        for key, value in zip(keys, values, strict=False):  # extra unpaired tests stay
            items.remove(key)
            items.remove(value)
            k = self.meta_text(key)
            v = self.meta_text(value)
            md = f"{self.alias}.metadata"
            out.append(
                (
                    f"(instr({md}, ?) > 0 AND instr({md}, ?) > 0 AND EXISTS (SELECT 1 FROM "
                    f"json_each({md}) WHERE key = ? AND {_META_TEXT} = ?))",
                    [_key_needle(k), _value_needle(v), k, v],
                )
            )
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
            if FIELD_KINDS[node.field] in ("time", "duration", "number", "bool"):
                raise self.error(f"search() does not apply to {node.field}", node.column)
            cols = [FIELD_SQL[node.field].format(a=a)]
        sql = " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in cols)
        return f"({sql})", [pattern] * len(cols)

    def compare(self, node: Compare) -> SQL:
        handler = _KIND_HANDLERS[FIELD_KINDS[node.field]]
        return handler(self, node, FIELD_SQL[node.field].format(a=self.alias))

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
        raise self.error(f"{node.op}() does not apply to tags; use has, eq, neq or in", node.column)

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
            values = [
                self.meta_text(Compare("eq", node.field, v, node.column))
                for v in self.as_list(node)
            ]
            if not values:
                return "0", []
            marks = ", ".join("?" * len(values))
            return (f"EXISTS (SELECT 1 FROM json_each({expr}) WHERE {column} IN ({marks}))", values)
        raise self.error(
            f"{node.op}() does not apply to {node.field}; use eq, neq or in", node.column
        )


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
