"""Every convention in the precedence tables is one complete, self-describing object."""

from __future__ import annotations

import inspect

import pytest

from otel_llm import processor
from otel_llm.conventions.base import Convention
from otel_llm.convert import CLASSIFICATION, EMIT_FAMILIES, EMITTED, ID_KEYS, READERS
from otel_llm.model import ObservationType
from otel_llm.processor import tree

ALL = sorted({*READERS, *CLASSIFICATION, *EMITTED}, key=lambda c: c.name)


def test_the_tables_rank_each_convention_once() -> None:
    for table in (READERS, CLASSIFICATION, EMITTED):
        assert len({c.name for c in table}) == len(table)
    assert set(CLASSIFICATION) <= set(READERS)  # a kind nobody reads would be odd
    assert set(EMITTED) <= set(READERS)  # what is written is read back


@pytest.mark.parametrize("convention", ALL, ids=lambda c: c.name)
def test_a_convention_declares_what_the_shape_asks(convention: Convention) -> None:
    assert isinstance(convention, Convention)
    assert convention.name and convention.name.isidentifier()
    assert convention.namespaces and all(
        isinstance(ns, str) and ns and "." not in ns for ns in convention.namespaces
    )
    assert callable(convention.read)
    assert list(inspect.signature(convention.read).parameters) == ["x"]
    for key, table in convention.kinds:
        assert key.partition(".")[0] in convention.namespaces or key.startswith("gen_ai.")
        assert table, key
        for value, (observation, run_type) in table.items():
            assert isinstance(value, str)
            assert isinstance(observation, ObservationType)
            assert run_type is None or isinstance(run_type, str)
    for key, (observation, _) in convention.markers.items():
        assert key.partition(".")[0] in convention.namespaces
        assert isinstance(observation, ObservationType)
    for keys in (convention.model_keys, convention.usage_keys, convention.id_keys):
        assert all(isinstance(k, str) and "." in k for k in keys)
    assert (convention.dotted_order_key is None) or (
        convention.dotted_order_key in convention.id_keys
    )
    if convention.write is not None:
        assert list(inspect.signature(convention.write).parameters) == ["run", "facts", "out"]


def test_a_generation_is_recognised_without_a_kind_key_only_by_both_model_and_usage() -> None:
    # Model and usage keys go together: a convention with one should have the other.
    for convention in ALL:
        assert bool(convention.model_keys) == bool(convention.usage_keys), convention.name


def test_every_emitted_family_has_a_writer() -> None:
    assert set(EMIT_FAMILIES) == {c.name for c in EMITTED}


def test_the_processors_id_keys_come_from_the_conventions() -> None:
    declared = frozenset().union(*(c.id_keys for c in READERS))
    assert declared == ID_KEYS
    assert tree.ID_KEYS is ID_KEYS  # the processor's span tree reads the same set
    assert not hasattr(processor, "_ID_KEYS")  # no copy of a reader's table left
