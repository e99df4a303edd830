# Types of the optional C redaction walk (otel_llm/_redact_walk.c).
from collections.abc import Callable
from typing import Any

def redact_walk(
    value: Any,
    skip: frozenset[str] | None = None,
    *,
    secret_key: Callable[[str], bool],
    key_cache: dict[str, bool],
    text: Callable[[str], str] | None,
    memo: dict[str, str],
    unchanged: str,
    replacement: str,
    other: Callable[[Any], Any],
) -> Any:
    """`value` with secrets replaced: the very same object when nothing changed.

    Args:
        value: a JSON-like value (dicts, lists, tuples, strings, numbers, None).
        skip: keys of a top-level dict whose values are left as they are.
        secret_key: does this key name a secret? Called when `key_cache` has no answer.
        key_cache: answers of `secret_key`, read first.
        text: a string with its secrets replaced, called when `memo` has no answer; None
            when strings are left as they are.
        memo: strings -> what they become, or `unchanged` when that is themselves.
        unchanged: the memo's marker for "nothing to redact".
        replacement: what replaces the value of a secret key.
        other: the redacted form of a value of any other type (a str subclass, another
            mapping, ...).
    """
