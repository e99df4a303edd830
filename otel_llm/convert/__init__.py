"""span <-> run: the one place where OTel spans become runs and runs become spans.

`tables` holds the precedence tables, `classify` the observation type, `read` span ->
run, `write` run -> span, `json_safe` attribute values through JSON.

Reading (`spans_to_runs`, `span_to_run`):
  1. classify the span with `CLASSIFIERS`, a precedence table (first match wins);
  2. let each convention's reader (`READERS`, in precedence order) fill what is still
     unknown, marking the attributes it maps;
  3. assemble the run: ids and tree, inputs/outputs, extra; whatever the run format has
     no field for is kept in `run.extra["otel"]` so the span can be restored.

Writing (`runs_to_spans`, `run_to_span`): the project's own `otel_llm.*` keys, then each
selected convention family (`EMIT_FAMILIES`), then the span's original unmapped
attributes when the run came from OTel.

Round trips: run -> span -> run returns an equal run; a span in the project's
conventions (as `run_to_span` writes it, plus any attributes, events, links, resource
and scope of its own) survives span -> run -> span unchanged. Spans of other
conventions are normalised on the way: their information is kept, their keys become
the project's.
"""

from __future__ import annotations

from otel_llm.convert.classify import classify, observation_of
from otel_llm.convert.read import (
    Placement,
    children_placement,
    span_to_run,
    spans_to_runs,
)
from otel_llm.convert.tables import (
    CLASSIFICATION,
    CLASSIFIERS,
    DEFAULT_EMIT,
    DEFAULT_KIND,
    DOTTED_ORDER_KEYS,
    EMIT_FAMILIES,
    EMITTED,
    ID_KEYS,
    OBSERVATION_KEY,
    PROBLEMS_KEY,
    READERS,
)
from otel_llm.convert.write import (
    WrittenSpan,
    otel_ids,
    run_to_span,
    runs_to_spans,
    span_writer,
)

__all__ = [
    "CLASSIFICATION",
    "CLASSIFIERS",
    "DEFAULT_EMIT",
    "DEFAULT_KIND",
    "DOTTED_ORDER_KEYS",
    "EMITTED",
    "EMIT_FAMILIES",
    "ID_KEYS",
    "OBSERVATION_KEY",
    "PROBLEMS_KEY",
    "READERS",
    "Placement",
    "WrittenSpan",
    "children_placement",
    "classify",
    "observation_of",
    "otel_ids",
    "run_to_span",
    "runs_to_spans",
    "span_to_run",
    "span_writer",
    "spans_to_runs",
]
