"""The project's own namespace, `otel_llm.*`: exact run fields with no OTel equivalent.

Written on every span the project emits, read first: when these keys are present the
run they describe is restored exactly, whatever other conventions say.
"""

from __future__ import annotations

from typing import Any

from otel_llm import semconv as sc
from otel_llm.conventions._typed import text, uuid_value
from otel_llm.conventions.base import Convention, Extraction, KindTable, RunFacts, dumps
from otel_llm.ids import uuid_str
from otel_llm.model import RUN_TYPES, ObservationType, Run, model_names

NAMESPACES = frozenset({"otel_llm", "input", "output"})

KIND_KEY = sc.OTEL_LLM_OBSERVATION_TYPE
# JSON of the unmapped attributes of the run's original span that the writers overwrote
# (a value contradicting what otel-llm writes, e.g. a retriever's gen_ai.operation.name
# = "embeddings"): the span shows our value, the run keeps the original.
REPLACED_KEY = sc.OTEL_LLM_SPAN_REPLACED
KINDS: KindTable = {o.value: (o, None) for o in ObservationType}


def read(x: Extraction) -> None:
    a = x.attrs
    if sc.OTEL_LLM_RUN_ID not in a and sc.OTEL_LLM_OBSERVATION_TYPE not in a:
        return
    x.take(sc.OTEL_LLM_OBSERVATION_TYPE)
    run_type = x.attrs.get(sc.OTEL_LLM_RUN_TYPE)
    if run_type in RUN_TYPES:
        x.run_type = x.take(sc.OTEL_LLM_RUN_TYPE)
    elif run_type is not None:
        x.problem(sc.OTEL_LLM_RUN_TYPE, "is not a known run type", run_type)
    x.run_id = uuid_value(x, sc.OTEL_LLM_RUN_ID)
    x.trace_id = uuid_value(x, sc.OTEL_LLM_RUN_TRACE_ID)
    x.parent_run_id = uuid_value(x, sc.OTEL_LLM_RUN_PARENT_ID)
    x.dotted_order = text(x, sc.OTEL_LLM_RUN_DOTTED_ORDER)
    x.name = text(x, sc.OTEL_LLM_RUN_NAME)
    tags = x.attrs.get(sc.OTEL_LLM_RUN_TAGS)
    if isinstance(tags, (list, tuple)) and all(isinstance(t, str) for t in tags):
        x.tags = list(tags)
        x.consumed.add(sc.OTEL_LLM_RUN_TAGS)
    elif tags is not None:
        x.problem(sc.OTEL_LLM_RUN_TAGS, "is not a list of strings", tags)
    # The writer leaves out an empty extra: absent means empty, not unknown.
    extra = x.take_json(sc.OTEL_LLM_RUN_EXTRA)
    x.extra = extra if isinstance(extra, dict) else {}
    if x.observation in (ObservationType.GENERATION, ObservationType.EMBEDDING):
        # The run's own models, so the other readers take the keys repeating them.
        x.set_fact("model", next(model_names(x.extra), None))
        md = x.extra.get("metadata")
        if isinstance(md, dict) and isinstance(md.get("response_model"), str):
            x.set_fact("response_model", md["response_model"])
    if REPLACED_KEY in a:
        replaced = x.take_json(REPLACED_KEY)
        if isinstance(replaced, dict):
            x.replaced = replaced
    x.session_name = text(x, sc.OTEL_LLM_RUN_SESSION_NAME)
    x.session_id = uuid_value(x, sc.OTEL_LLM_RUN_SESSION_ID)
    x.reference_example_id = uuid_value(x, sc.OTEL_LLM_RUN_REFERENCE_EXAMPLE_ID)
    serialized = x.take_json(sc.OTEL_LLM_RUN_SERIALIZED)
    if isinstance(serialized, dict):
        x.serialized = serialized
    attachments = x.take_json(sc.OTEL_LLM_RUN_ATTACHMENTS)
    if isinstance(attachments, dict):
        x.attachments = attachments
    if x.take(sc.OTEL_LLM_RUN_UNFINISHED):
        x.unfinished = True
    if x.take(sc.OTEL_LLM_RUN_INCOMPLETE):
        x.incomplete = True
    if x.take(sc.OTEL_LLM_IO_VERBATIM):
        for key, mime, setter in (
            (sc.INPUT_VALUE, sc.INPUT_MIME_TYPE, x.set_inputs),
            (sc.OUTPUT_VALUE, sc.OUTPUT_MIME_TYPE, x.set_outputs),
        ):
            value = x.take_json(key)
            if value is not None:
                x.take(mime)
                setter(value)


def write(run: Run, facts: RunFacts, out: dict[str, Any]) -> None:
    """The exact run fields. Small keys only; content travels in input/output.value."""
    out[sc.OTEL_LLM_OBSERVATION_TYPE] = facts.observation._value_  # (no descriptor call)
    out[sc.OTEL_LLM_RUN_TYPE] = run.run_type
    if facts.ids:
        out[sc.OTEL_LLM_RUN_ID] = uuid_str(run.id)
    if run.trace_id is not None:
        out[sc.OTEL_LLM_RUN_TRACE_ID] = uuid_str(run.trace_id)
    if run.parent_run_id is not None:
        out[sc.OTEL_LLM_RUN_PARENT_ID] = uuid_str(run.parent_run_id)
    if run.dotted_order:
        out[sc.OTEL_LLM_RUN_DOTTED_ORDER] = run.dotted_order
    if run.name != facts.span_name:
        out[sc.OTEL_LLM_RUN_NAME] = run.name
    if run.tags:
        out[sc.OTEL_LLM_RUN_TAGS] = tuple(run.tags)
    extra = run.extra
    if "otel" in extra:
        extra = {k: v for k, v in extra.items() if k != "otel"}
    if extra:
        out[sc.OTEL_LLM_RUN_EXTRA] = dumps(extra)
    if run.session_name is not None:
        out[sc.OTEL_LLM_RUN_SESSION_NAME] = run.session_name
    if run.session_id is not None:
        out[sc.OTEL_LLM_RUN_SESSION_ID] = str(run.session_id)
    if run.reference_example_id is not None:
        out[sc.OTEL_LLM_RUN_REFERENCE_EXAMPLE_ID] = str(run.reference_example_id)
    if run.serialized is not None:
        out[sc.OTEL_LLM_RUN_SERIALIZED] = dumps(run.serialized)
    if run.attachments:
        out[sc.OTEL_LLM_RUN_ATTACHMENTS] = dumps(run.attachments)
    if run.end_time_ns is None:
        out[sc.OTEL_LLM_RUN_UNFINISHED] = True
    if run.otel_incomplete:
        out[sc.OTEL_LLM_RUN_INCOMPLETE] = True


def write_verbatim_io(run: Run, out: dict[str, Any]) -> None:
    """input.value / output.value holding the run's inputs / outputs exactly."""
    out[sc.OTEL_LLM_IO_VERBATIM] = True
    out[sc.INPUT_VALUE] = dumps(run.inputs)
    out[sc.INPUT_MIME_TYPE] = "application/json"
    if run.outputs is not None:
        out[sc.OUTPUT_VALUE] = dumps(run.outputs)
        out[sc.OUTPUT_MIME_TYPE] = "application/json"


CONVENTION = Convention(
    name="otel_llm",
    namespaces=NAMESPACES,
    read=read,
    kinds=((KIND_KEY, KINDS),),
    id_keys=frozenset({sc.OTEL_LLM_RUN_ID, sc.OTEL_LLM_RUN_TRACE_ID, sc.OTEL_LLM_RUN_DOTTED_ORDER}),
    dotted_order_key=sc.OTEL_LLM_RUN_DOTTED_ORDER,
    write=write,
)
