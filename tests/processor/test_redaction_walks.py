"""Redaction's two walks (the C one in otel_llm/_redact_walk.c and the Python one, its
reference) give the same values, and its value patterns match what their plain forms do."""

from __future__ import annotations

import collections
import copy
import enum
import re
from types import MappingProxyType, ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_llm import redaction
from otel_llm.redaction import BUILTIN_PATTERNS, Redactor

CARD = "4111 1111 1111 1111"  # passes the Luhn check
NOT_A_CARD = "4111 1111 1111 1112"


SECRETISH_KEYS = [
    "api_key",
    "x-api-key",
    "Authorization",
    "token",
    "max_tokens",
    "password",
    "name",
    "otel",
    "trace_id",
    "",
    "input_tokens",
]
TEXTS = [
    "plain",
    "mail a@b.io now",
    CARD,
    NOT_A_CARD,
    "Bearer abc.def",
    "x" * 250,
    "é ビルド",
    "2024-05-01",
    "[REDACTED]",
]
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.sampled_from(TEXTS)
    | st.text(max_size=8)
)
json_like = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.sampled_from(SECRETISH_KEYS) | st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=25,
)


def same(a: Any, b: Any) -> bool:
    """Equal, with the same container types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# The C walk's tests are skipped without the extension, and fail without it under
# OTEL_LLM_REQUIRE_SPEEDUPS=1 (tests/conftest.py).
needs_c_walk = pytest.mark.usefixtures("c_redact_walk")


def both_walks(
    redactor: Redactor, value: Any, skip: frozenset[str] | None = None
) -> tuple[Any, Any]:
    """(the C walk's answer, the Python walk's answer)."""
    assert redaction._redact_walk is not None
    by_c = redactor._walk(value, skip)
    if skip is not None and type(value) is dict:
        return by_c, redactor._mapping(value, skip)
    return by_c, redactor._value(value)


def test_the_c_walk_is_built(c_redact_walk: ModuleType) -> None:
    assert redaction._redact_walk is c_redact_walk.redact_walk


@needs_c_walk
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    json_like,
    st.sampled_from([None, frozenset({"otel"}), frozenset({"trace_id", "name"})]),
    st.sampled_from(["default", "keys only", "patterns only", "none"]),
)
def test_the_c_walk_gives_what_the_python_walk_gives(
    value: Any, skip: frozenset[str] | None, rules: str
) -> None:
    redactor = {
        "default": Redactor(),
        "keys only": Redactor(patterns=()),
        "patterns only": Redactor(keys=()),
        "none": Redactor((), ()),
    }[rules]
    before = copy.deepcopy(value)
    by_c, by_python = both_walks(redactor, value, skip)
    assert same(by_c, by_python)
    assert (by_c is value) == (by_python is value)  # unchanged values are not copied
    assert same(value, before)  # and the argument is never changed


class Tag(enum.IntEnum):
    A = 1


class Text(str):
    pass


class Items(list[Any]):
    pass


@needs_c_walk
@pytest.mark.parametrize(
    "value",
    [
        {"k": Text("a@b.io")},
        {"k": MappingProxyType({"api_key": "x", "n": 1})},
        {"k": collections.OrderedDict(token="t")},
        [Items(["a@b.io", 1])],
        {"k": Tag.A, "b": b"a@b.io", "o": object},
        (1, None, "a@b.io"),
        Text("Bearer zzz"),
    ],
    ids=[
        "str subclass",
        "mappingproxy",
        "OrderedDict",
        "list subclass",
        "other types",
        "tuple",
        "top-level str subclass",
    ],
)
def test_values_of_unusual_types_take_the_same_way_in_both_walks(value: Any) -> None:
    by_c, by_python = both_walks(Redactor(), value)
    assert same(by_c, by_python)


@pytest.mark.parametrize("walk", ["c", "python"])
def test_deep_json_is_walked(
    walk: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    if walk == "c":
        request.getfixturevalue("c_redact_walk")
    else:
        monkeypatch.setattr(redaction, "_redact_walk", None)
    # orjson parses at most 254 levels: runs are never deeper than a few hundred.
    value: Any = "a@b.io"
    for i in range(300):
        value = [value] if i % 2 else {"k": value}
    out = Redactor().value(value)
    for i in reversed(range(300)):
        out = out[0] if i % 2 else out["k"]
    assert out == "[REDACTED]"


# The value patterns are written to start with a plain character class (fast to scan
# for); these are their plain forms, which they must match exactly.
PLAIN_FORMS = {
    "card": re.compile(r"(?<![\w-])(?:[0-9][ -]?){12,18}[0-9](?![\w-])"),
    "bearer": re.compile(r"\b(?i:bearer)\s+[A-Za-z0-9\-._~+/]+=*"),
}


@settings(max_examples=1000)
@given(
    st.sampled_from(sorted(PLAIN_FORMS)),
    st.lists(
        st.sampled_from(
            [
                "4111",
                "1111",
                "1",
                "0",
                " ",
                "-",
                "_",
                "a",
                "é",
                "bearer ",
                "BEARER\t",
                "Bearer",
                "b",
                "x=",
                ".",
                "\n",
                "41111111111111111",
            ]
        ),
        max_size=20,
    ),
)
def test_value_patterns_match_what_their_plain_forms_match(name: str, pieces: list[str]) -> None:
    text = "".join(pieces)
    fast, plain = BUILTIN_PATTERNS[name].regex, PLAIN_FORMS[name]
    assert [m.span() for m in fast.finditer(text)] == [m.span() for m in plain.finditer(text)]


@settings(max_examples=1000)
@given(
    st.lists(
        st.sampled_from(["a", ".", "@", "b.io", "x_", "-", " ", "com", "é", "@c.org", "1", "%"]),
        max_size=16,
    )
)
def test_the_email_scan_replaces_what_the_regex_alone_replaces(pieces: list[str]) -> None:
    text = "".join(pieces)
    email = BUILTIN_PATTERNS["email"]
    assert email.apply(text) == email.regex.sub(email.replace, text)


def test_a_long_run_of_address_characters_is_scanned_in_one_pass() -> None:
    # The regex alone tries every position of the run (200,000 positions, each read to
    # the run's end: minutes); the scan tries where runs begin.
    text = "a" * 200_000 + " @ then mail x.y@example.com."
    assert Redactor().text(text) == "a" * 200_000 + " @ then mail [REDACTED]."
