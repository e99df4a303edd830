"""Redaction: what must not leave the process is removed from runs before any sink
sees them.

`Redactor` applies two kinds of built-in rules to inputs, outputs, extra (metadata,
invocation params, raw attributes), events, serialized manifests and error text:

- by key name: the value of any key that names a secret (`api_key`, `authorization`,
  `password`, `secret`, `token`, ...) is replaced whole. A key matches when, lowercased
  with `-` and `.` read as `_`, it equals a name or ends with `_<name>`: `x-api-key` and
  `openai_api_key` match `api_key`, while `max_tokens` and `input_tokens` do not match
  `token`.
- by value pattern: emails, card numbers (Luhn-checked, so ids and timestamps survive)
  and bearer tokens inside any string are replaced.

`hide_inputs` / `hide_outputs` empty the inputs / outputs entirely (LangSmith's
`LANGSMITH_HIDE_INPUTS` / `LANGSMITH_HIDE_OUTPUTS`). A redact hook is any callable
`(run) -> run | None`; None drops the run.

The walk over a run's values runs in C when the extension is built (`_redact_walk.c`,
~5x faster); the Python walk here is its reference and the fallback.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from otel_llm.model import Run

_redact_walk: Callable[..., Any] | None
try:  # the walk in C (otel_llm/_redact_walk.c); the Python walk below is its reference
    from otel_llm._redact_walk import redact_walk as _redact_walk
except ImportError:  # built without a C compiler
    _redact_walk = None

RedactHook = Callable[[Run], "Run | None"]

REPLACEMENT = "[REDACTED]"

DEFAULT_KEYS: tuple[str, ...] = (
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
)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    return REPLACEMENT if _luhn(digits) else match.group(0)


@dataclasses.dataclass(frozen=True)
class Pattern:
    """A value rule: what to look for in strings, and what to put instead.

    Args:
        name: how the rule is named in settings (OTEL_LLM_RUNS_REDACT).
        regex: the pattern.
        replace: a replacement string, or a function of the match (to keep matches
            that turn out not to be secrets).
        needle: a substring every match contains; strings without it are not scanned.
    """

    name: str
    regex: re.Pattern[str]
    replace: str | Callable[[re.Match[str]], str] = REPLACEMENT
    needle: str | None = None
    # A regex that begins with a greedy run of one character class, which the element
    # after it cannot continue (`[a-z]+@`), costs `re` quadratic time on a long run: it
    # tries every position inside it. `lead` names that class; the scan then tries only
    # where a run begins and right after the previous match (the only other place a match
    # can begin), which finds the same matches in linear time.
    lead: str | None = None

    def apply(self, text: str) -> str:
        """The text with every match replaced."""
        if self.lead is None:
            return self.regex.sub(self.replace, text)
        pieces: list[str] = []
        pos = 0
        replace = self.replace
        while True:
            match = self.regex.match(text, pos) if pos else None
            if match is None:
                match = self._at_run_start.search(text, pos)
                if match is None:
                    break
            pieces.append(text[pos : match.start()])
            pieces.append(replace if isinstance(replace, str) else replace(match))
            pos = match.end()
        if not pieces:
            return text
        pieces.append(text[pos:])
        return "".join(pieces)

    @functools.cached_property
    def _at_run_start(self) -> re.Pattern[str]:
        return re.compile(f"(?<!{self.lead})(?:{self.regex.pattern})", self.regex.flags)


BUILTIN_PATTERNS: dict[str, Pattern] = {
    p.name: p
    for p in (
        Pattern(
            "email",
            re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
            needle="@",
            lead="[A-Za-z0-9._%+-]",
        ),
        # ASCII digits only: card numbers are, and the Luhn check reads them so. 13 to 19
        # digits, maybe grouped by spaces or dashes, not inside a longer word or number.
        # Written to begin with a plain character class (the lookbehind after it), which
        # lets the regex engine skip ahead to candidates: ~4x faster on ordinary text.
        Pattern("card", re.compile(r"[0-9](?<![\w-][0-9])(?:[ -]?[0-9]){12,18}(?![\w-])"), _card),
        # "bearer" as a whole word (the lookbehind is \b, placed after the first letter
        # for the same reason).
        Pattern("bearer", re.compile(r"[Bb](?<!\w[Bb])(?i:earer)\s+[A-Za-z0-9\-._~+/]+=*")),
    )
}
BUILTIN_RULES = ("keys", *BUILTIN_PATTERNS)


_UNCHANGED = "\x00unchanged"  # memo entry: the string had nothing to redact
_MEMO_SIZE = 8192
_MEMO_MAX_LEN = 200


def _norm(key: str) -> str:
    return key.lower().replace("-", "_").replace(".", "_")


class Redactor:
    """The built-in redaction rules, as a redact hook: `Redactor(...)(run) -> run`.

    Args:
        keys: key names whose values are replaced (see the module docstring for how a
            key matches); `DEFAULT_KEYS` by default, empty to disable key rules.
        patterns: value rules; the built-in email, card and bearer rules by default.
            Extra rules may be given as `re.Pattern`s or `Pattern`s.
        hide_inputs / hide_outputs: replace inputs / outputs with `{}`.
        replacement: what replaces a redacted value.
    """

    def __init__(
        self,
        keys: Iterable[str] = DEFAULT_KEYS,
        patterns: Iterable[Pattern | re.Pattern[str]] = tuple(BUILTIN_PATTERNS.values()),
        *,
        hide_inputs: bool = False,
        hide_outputs: bool = False,
        replacement: str = REPLACEMENT,
    ) -> None:
        self.keys = frozenset(_norm(k) for k in keys)
        self._suffixes = tuple(f"_{k}" for k in self.keys)
        self.patterns = tuple(
            p if isinstance(p, Pattern) else Pattern(p.pattern, p, replacement) for p in patterns
        )
        self.hide_inputs = hide_inputs
        self.hide_outputs = hide_outputs
        self.replacement = replacement
        self._key_cache: dict[str, bool] = {}
        self._memo: dict[str, str] = {}
        # What the C walk calls back on a cache miss, bound once (it runs per run).
        self._on_key, self._on_text, self._on_other = self.secret_key, self.text, self._walk_other

    @classmethod
    def from_rules(
        cls,
        rules: Iterable[str] = BUILTIN_RULES,
        extra_keys: Iterable[str] = (),
        *,
        hide_inputs: bool = False,
        hide_outputs: bool = False,
    ) -> Redactor:
        """Build from rule names: "keys" and the names in `BUILTIN_PATTERNS`.

        Raises:
            ValueError: naming an unknown rule.
        """
        rules = tuple(rules)
        unknown = set(rules) - set(BUILTIN_RULES)
        if unknown:
            raise ValueError(
                f"unknown redaction rules {sorted(unknown)}; choose from {list(BUILTIN_RULES)}"
            )
        keys = (*DEFAULT_KEYS, *extra_keys) if "keys" in rules else tuple(extra_keys)
        return cls(
            keys,
            [BUILTIN_PATTERNS[r] for r in rules if r in BUILTIN_PATTERNS],
            hide_inputs=hide_inputs,
            hide_outputs=hide_outputs,
        )

    def secret_key(self, key: str) -> bool:
        """Does this key name a secret?"""
        hit = self._key_cache.get(key)
        if hit is None:
            k = _norm(key)
            hit = k in self.keys or k.endswith(self._suffixes)
            if len(self._key_cache) < 10_000:
                self._key_cache[key] = hit
        return hit

    def text(self, value: str) -> str:
        """A string with every value-pattern match replaced."""
        memo = self._memo.get(value)
        if memo is not None:
            # The very same object when nothing changed, so containers are not copied.
            return value if memo is _UNCHANGED else memo
        out = value
        for p in self.patterns:
            if p.needle is None or p.needle in out:
                out = p.apply(out)
        if out == value:
            out = value
        if len(value) <= _MEMO_MAX_LEN:
            # Short strings repeat across runs (resource values, names, models).
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[value] = _UNCHANGED if out is value else out
        return out

    def value(self, value: Any) -> Any:
        """A JSON-like value with secrets replaced. Never mutates its argument: changed
        containers are copied, unchanged ones are returned as they are."""
        return self._walk(value)

    def __call__(self, run: Run) -> Run:
        """The run with its secrets replaced: a new Run when anything changed (the
        argument is never mutated), else the run itself.

        Args:
            run: the run to redact.
        """
        hiding = self.hide_inputs or self.hide_outputs
        inputs: dict[str, Any] = {} if self.hide_inputs else run.inputs
        outputs = run.outputs
        if outputs is not None and self.hide_outputs:
            outputs = {}
        extra = self._hide_content(run.extra) if hiding else run.extra
        error, events, serialized = run.error, run.events, run.serialized
        if self.keys or self.patterns:
            # One walk over the parts of the run, `extra` among them unless it keeps a
            # span's `otel` (walked apart, see `_extra`). A tuple comes back as it was
            # when nothing in it changed.
            from_span = type(extra.get("otel")) is dict
            if from_span:
                extra = self._extra(extra)
            parts = (inputs, outputs, error, events, serialized, None if from_span else extra)
            walked = self._walk(parts)
            if walked is not parts:
                inputs, outputs, error, events, serialized, walked_extra = walked
                if not from_span:
                    extra = walked_extra
        if (
            inputs is run.inputs
            and outputs is run.outputs
            and extra is run.extra
            and error is run.error
            and events is run.events
            and serialized is run.serialized
        ):
            return run  # nothing to redact: no copy
        return dataclasses.replace(
            run,
            inputs=inputs,
            outputs=outputs,
            extra=extra,
            error=error,
            events=events,
            serialized=serialized,
        )

    def _extra(self, extra: dict[str, Any]) -> dict[str, Any]:
        """`extra` with a span's `otel`, redacted."""
        otel = extra["otel"]
        # OTel ids, times and numeric fields are never secrets and must survive intact:
        # only the rest of `otel` (attributes, resource, scope, links, status) is read.
        new_extra: dict[str, Any] = self._walk(extra, _OTEL)
        new_otel = self._walk(otel, _OTEL_VERBATIM)
        if new_otel is otel:
            return new_extra
        new_extra = dict(new_extra) if new_extra is extra else new_extra
        new_extra["otel"] = new_otel
        return new_extra

    # --- the walk: in C when the extension is built (otel_llm._redact_walk), else here ---

    def _walk(self, value: Any, skip: frozenset[str] | None = None) -> Any:
        """`value` with secrets replaced; `skip`: keys of a top-level dict left as they
        are."""
        if _redact_walk is None:
            if skip is not None and type(value) is dict:
                return self._mapping(value, skip)
            return self._value(value)
        # The C walk reads the caches and calls back on a miss, as _mapping does.
        return _redact_walk(
            value,
            skip,
            secret_key=self._on_key,
            key_cache=self._key_cache,
            text=self._on_text if self.patterns else None,
            memo=self._memo,
            unchanged=_UNCHANGED,
            replacement=self.replacement,
            other=self._on_other,
        )

    def _walk_other(self, value: Any) -> Any:
        """Values of types the walk does not know: subclasses of str, list and tuple,
        other mappings (both walks call this)."""
        if isinstance(value, str):
            return self.text(value) if self.patterns else value
        if isinstance(value, Mapping):
            return self._walk(dict(value))
        if isinstance(value, (list, tuple)):
            return self._walk(list(value))
        return value

    def _value(self, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            return self.text(value) if self.patterns else value
        if kind is dict:
            return self._mapping(value)
        if kind is list or kind is tuple:
            return self._sequence(value)
        if value is None or kind is int or kind is float or kind is bool:
            return value
        return self._walk_other(value)

    def _mapping(self, value: dict[Any, Any], skip: frozenset[str] = frozenset()) -> dict[Any, Any]:
        # The hot loop of the Python walk: caches are read inline, scalars skipped early.
        out: dict[Any, Any] | None = None
        keys, memo, patterns = self._key_cache, self._memo, self.patterns
        for k, v in value.items():
            if v is None or k in skip:
                continue
            secret = keys.get(k) if type(k) is str else False
            if secret is None:
                secret = self.secret_key(k)
            if secret:
                new: Any = self.replacement
            else:
                kind = type(v)
                if kind is str:
                    if not patterns:
                        continue
                    new = memo.get(v)
                    if new is None:
                        new = self.text(v)
                    elif new is _UNCHANGED:
                        continue
                elif kind is int or kind is float or kind is bool:
                    continue
                else:
                    new = self._value(v)
            if new is not v:
                if out is None:
                    out = dict(value)
                out[k] = new
        return value if out is None else out

    def _sequence(self, value: list[Any] | tuple[Any, ...]) -> list[Any] | tuple[Any, ...]:
        out: list[Any] | None = None
        for i, v in enumerate(value):
            kind = type(v)
            if v is None or kind is int or kind is float or kind is bool:
                continue
            new = self._value(v)
            if new is not v:
                if out is None:
                    out = list(value)
                out[i] = new
        return value if out is None else out

    def _hide_content(self, extra: dict[str, Any]) -> dict[str, Any]:
        """Without their inputs/outputs, runs must not keep them in raw attributes
        (called when inputs or outputs are hidden)."""
        otel = extra.get("otel")
        if not isinstance(otel, dict):
            return extra
        attrs = otel.get("attributes")
        if not isinstance(attrs, dict):
            return extra
        kept = {k: v for k, v in attrs.items() if not _content_key(k)}
        return {**extra, "otel": {**otel, "attributes": kept}}


_OTEL = frozenset({"otel"})
_OTEL_VERBATIM = frozenset(
    {
        "trace_id",
        "span_id",
        "parent_span_id",
        "start_time_unix_nano",
        "end_time_unix_nano",
        "kind",
        "flags",
        "incomplete",
        "dropped_attributes_count",
        "dropped_events_count",
        "dropped_links_count",
    }
)

# Attribute keys that carry prompt/response content in the conventions we read; dropped
# from raw attributes when inputs or outputs are hidden.
_CONTENT_MARKERS = ("input", "output", "prompt", "completion", "message", "content")


def _content_key(key: str) -> bool:
    k = key.lower()
    return any(m in k for m in _CONTENT_MARKERS)


def chain(*hooks: RedactHook | None) -> RedactHook | None:
    """One hook that runs `hooks` in order, stopping at the first that drops the run."""
    active = [h for h in hooks if h is not None]
    if not active:
        return None
    if len(active) == 1:
        return active[0]

    def run_all(run: Run) -> Run | None:
        current: Run | None = run
        for hook in active:
            if current is None:
                return None
            current = hook(current)
        return current

    return run_all
