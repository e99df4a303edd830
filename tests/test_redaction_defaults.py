"""Every default rule of redaction, one by one: each key name (in the spellings real
producers use) and each value pattern. The lists are literal on purpose: a rule removed
from the defaults must fail here."""

from __future__ import annotations

import uuid

import pytest

from otel_llm.model import Run
from otel_llm.redaction import REPLACEMENT, Redactor

DEFAULT_KEYS = [
    "api_key",
    "apikey",
    "authorization",
    "password",
    "passwd",
    "secret",
    "secret_key",
    "token",
    "private_key",
    "cookie",
]


def redacted(inputs: dict[str, object]) -> dict[str, object]:
    run = Run(id=uuid.uuid4(), name="step", start_time_ns=1, inputs=inputs)
    out: dict[str, object] = Redactor()(run).inputs
    return out


@pytest.mark.parametrize("key", DEFAULT_KEYS)
@pytest.mark.parametrize(
    "spelling", ["{}", "{}".upper(), "x-{}", "openai_{}", "http.request.header.{}"]
)
def test_each_default_key_is_redacted_in_every_spelling(key: str, spelling: str) -> None:
    name = spelling.format(key.replace("_", "-") if spelling.startswith("x-") else key)
    assert redacted({name: "hunter2", "other": "kept"}) == {name: REPLACEMENT, "other": "kept"}


@pytest.mark.parametrize(
    "key",
    [
        "max_tokens",
        "input_tokens",
        "tokenizer",
        "cookies_eaten",
        "secretary",
        "passwords_policy_url",
    ],
)
def test_keys_that_only_contain_a_name_are_kept(key: str) -> None:
    assert redacted({key: 42}) == {key: 42}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to ada@example.com today", f"write to {REPLACEMENT} today"),
        ("card 4111 1111 1111 1111 ok", f"card {REPLACEMENT} ok"),
        ("card 4111-1111-1111-1111", f"card {REPLACEMENT}"),
        ("card 4111 1111 1111 1112 fails Luhn", "card 4111 1111 1111 1112 fails Luhn"),
        ("Authorization: Bearer abc.DEF-123_x=", f"Authorization: {REPLACEMENT}"),
        ("bearer sk-live-abcdef", REPLACEMENT),
        ("a bearerless word", "a bearerless word"),
        ("order 1700000000123 shipped", "order 1700000000123 shipped"),
    ],
)
def test_each_builtin_pattern_in_a_value(text: str, expected: str) -> None:
    assert redacted({"note": text}) == {"note": expected}
