"""Run stores: the interface (`RunStore`, `RunQuery`) and the SQLite implementation."""

from otel_llm.store.base import RunQuery, RunStore
from otel_llm.store.query import FilterSyntaxError, compile_filter, parse_filter
from otel_llm.store.sqlite import SQLiteStore

__all__ = [
    "FilterSyntaxError",
    "RunQuery",
    "RunStore",
    "SQLiteStore",
    "compile_filter",
    "parse_filter",
]
