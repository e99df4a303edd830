"""LangSmith's run filter language: `parse` (tokenizer, parser, AST, limits, field kinds:
no SQL), `values` (typing values for their field) and one emitter per SQL dialect
(`sqlite`). Filter text is never evaluated and never pasted into SQL.

Grammar (what `POST /runs/query` takes in `filter`, `trace_filter`, `tree_filter`)::

    expr    := NAME "(" [arg ("," arg)*] ")"
    arg     := expr | NAME | literal
    literal := STRING | NUMBER | null | true | false | "[" [literal ("," literal)*] "]"
"""

from otel_llm.store.query.parse import (
    COMBINATORS,
    COMPARATORS,
    FIELD_KINDS,
    LIMITS,
    Compare,
    FilterLimits,
    FilterSyntaxError,
    Logical,
    Node,
    Search,
    parse_filter,
    reads_content,
)
from otel_llm.store.query.sqlite import compile_filter

__all__ = [
    "COMBINATORS",
    "COMPARATORS",
    "FIELD_KINDS",
    "LIMITS",
    "Compare",
    "FilterLimits",
    "FilterSyntaxError",
    "Logical",
    "Node",
    "Search",
    "compile_filter",
    "parse_filter",
    "reads_content",
]
