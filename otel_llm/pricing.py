"""What an LLM call cost: a model price table shipped as data, extendable by the user.

Prices are USD per million tokens (`otel_llm/data/prices.json`). A model name matches a
table entry exactly, or as a prefix followed by `-`, `@`, `:` or `.`, the longest such
entry winning: `gpt-4o-mini-2024-07-18` is priced as `gpt-4o-mini`, never as `gpt-4o`.
A provider prefix such as `openai/` or `models/` is ignored.

Token semantics follow the run format's `usage_metadata`: `input_tokens` includes the
cache reads listed in `input_token_details.cache_read`, and `output_tokens` includes
the `output_token_details.reasoning` tokens. A run's own `input_cost` / `output_cost` /
`total_cost` always win over the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

_PER_TOKEN = 1e-6  # prices are per million tokens
_BOUNDARIES = ("-", "@", ":", ".")
_FIELDS = ("input", "output", "cached_input", "reasoning")
_OWN_COST_KEYS = frozenset(("input_cost", "output_cost", "total_cost"))
_CACHE_LIMIT = 4096  # distinct model names remembered by `PriceTable.lookup`
SHIPPED_PRICES = Path(__file__).parent / "data" / "prices.json"


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens; None means "same as input" / "same as output"."""

    input: float
    output: float
    cached_input: float | None = None
    reasoning: float | None = None


@dataclass(frozen=True, slots=True)
class Cost:
    """A run's cost in USD; a part is None when the producer gave only a total."""

    prompt: float | None
    completion: float | None
    total: float


class PriceTable:
    """Model name -> price, with exact and prefix matching.

    Args:
        prices: model name (any case) -> price.
    """

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = {name.lower(): price for name, price in prices.items()}
        self._cache: dict[str, Price | None] = {}

    @classmethod
    def load(cls, path: str | Path | None = None) -> PriceTable:
        """The shipped table, extended and overridden by the file at `path` if given.

        The file has the shipped file's shape, `{"models": {name: {"input": ..,
        "output": .., "cached_input": .., "reasoning": ..}}}`; add `"replace": true` to
        drop the shipped entries instead of extending them.

        Raises:
            ValueError: when the file is not readable JSON of that shape (the message
                names the file, the model and the field).
        """
        shipped = SHIPPED_PRICES.read_bytes()
        prices = parse_prices(orjson.loads(shipped), "the shipped prices.json")
        if path is not None:
            try:
                data = orjson.loads(Path(path).read_bytes())
            except OSError as exc:
                raise ValueError(f"cannot read price file {path}: {exc.strerror}") from None
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"price file {path} is not valid JSON: {exc}") from None
            extra = parse_prices(data, f"price file {path}")
            if isinstance(data, dict) and data.get("replace") is True:
                prices = {}
            prices.update(extra)
        return cls(prices)

    def __len__(self) -> int:
        return len(self._prices)

    def lookup(self, model: str) -> Price | None:
        """The price of `model`, or None when no entry matches."""
        try:
            return self._cache[model]
        except KeyError:
            pass
        price = self._match(model.lower())
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[model] = price
        return price

    def _match(self, name: str) -> Price | None:
        candidates = [name]
        if "/" in name:
            candidates.append(name.rsplit("/", 1)[1])
        for cand in candidates:
            exact = self._prices.get(cand)
            if exact is not None:
                return exact
            # Longest prefix that ends at a boundary of the name.
            for end in range(len(cand) - 1, 0, -1):
                if cand[end] in _BOUNDARIES:
                    hit = self._prices.get(cand[:end])
                    if hit is not None:
                        return hit
        return None

    def cost(self, model: str | None, usage: Mapping[str, Any]) -> Cost | None:
        """The cost of one call from its usage_metadata.

        Args:
            model: the model name (None: only the usage's own costs can be used).
            usage: `input_tokens`, `output_tokens`, `input_token_details.cache_read`,
                `output_token_details.reasoning`, or `input_cost` / `output_cost` /
                `total_cost` given by the producer (those win).
        """
        if _OWN_COST_KEYS.intersection(usage):
            return own_cost(usage)
        if model is None:
            return None
        price = self.lookup(model)
        if price is None:
            return None
        input_tokens = _number(usage.get("input_tokens"))
        output_tokens = _number(usage.get("output_tokens"))
        cache_read = reasoning = 0
        details = usage.get("input_token_details")
        if details:
            cache_read = min(_detail(details, "cache_read"), input_tokens)
        details = usage.get("output_token_details")
        if details:
            reasoning = min(_detail(details, "reasoning"), output_tokens)
        cached_price = price.input if price.cached_input is None else price.cached_input
        reasoning_price = price.output if price.reasoning is None else price.reasoning
        prompt = (
            (input_tokens - cache_read) * price.input + cache_read * cached_price
        ) * _PER_TOKEN
        completion = (
            (output_tokens - reasoning) * price.output + reasoning * reasoning_price
        ) * _PER_TOKEN
        return Cost(prompt, completion, prompt + completion)


def own_cost(usage: Mapping[str, Any]) -> Cost | None:
    """The cost a producer reported itself in usage_metadata, if any."""
    prompt = _maybe_number(usage.get("input_cost"))
    completion = _maybe_number(usage.get("output_cost"))
    total = _maybe_number(usage.get("total_cost"))
    if prompt is None and completion is None and total is None:
        return None
    if total is None:
        total = (prompt or 0.0) + (completion or 0.0)
    return Cost(prompt, completion, total)


def parse_prices(data: Any, source: str) -> dict[str, Price]:
    """`{"models": {name: {field: number}}}` -> {name: Price}.

    Raises:
        ValueError: naming `source`, the model and the field that is wrong.
    """
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise ValueError(f'{source}: expected an object with a "models" object')
    out: dict[str, Price] = {}
    for name, entry in data["models"].items():
        if not isinstance(entry, dict):
            raise ValueError(f"{source}: model {name!r}: expected an object of prices")
        unknown = sorted(set(entry) - set(_FIELDS))
        if unknown:
            raise ValueError(
                f"{source}: model {name!r}: unknown field(s) {', '.join(unknown)}; "
                f"known: {', '.join(_FIELDS)}"
            )
        values: dict[str, float | None] = {}
        for field in _FIELDS:
            value = entry.get(field)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0
            ):
                raise ValueError(
                    f"{source}: model {name!r}: {field} must be a number >= 0 "
                    f"(USD per million tokens), got {value!r}"
                )
            values[field] = None if value is None else float(value)
        if values["input"] is None or values["output"] is None:
            raise ValueError(f"{source}: model {name!r}: input and output prices are required")
        out[name] = Price(
            input=values["input"],
            output=values["output"],
            cached_input=values["cached_input"],
            reasoning=values["reasoning"],
        )
    return out


def _number(value: Any) -> int:
    if type(value) is int:  # the common case, without the checks below
        return value if value > 0 else 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return max(int(value), 0)


def _maybe_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _detail(details: Any, key: str) -> int:
    return _number(details.get(key)) if isinstance(details, dict) else 0
