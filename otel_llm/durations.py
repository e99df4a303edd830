"""Durations as people write them: a number and an optional unit (`90`, `500ms`, `14d`).

One parser for both grammars; each caller passes the units it accepts:
- filter queries (`gt(latency, "5s")`): `FILTER_UNITS`, ms to d, in nanoseconds, and a
  number may start at its point (`.5s`);
- server settings (`--retention`, `--project-retention`, `--older-than`):
  `SETTING_UNITS`, s to w, in seconds, through `parse_duration`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

SETTING_UNITS: Mapping[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
FILTER_UNITS: Mapping[str, int] = {
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
}

# Matched against stripped text: a `\s*` at each end of a pattern would let `re`
# backtrack quadratically over a long run of spaces before a bad unit. Digits, spaces
# and letters are disjoint, so these match in linear time.
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")
_DURATION_OR_POINT = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)")


def duration_in(
    text: str, units: Mapping[str, int], *, leading_point: bool = False
) -> float | None:
    """`text` counted in the base of `units` (a number without a unit is in `s`);
    None when it is not a number with one of `units`.

    Args:
        text: e.g. `90`, ` 2 m`, `1.5h` (case and surrounding space do not matter).
        units: unit name -> how many of the base it is; must name `s`.
        leading_point: whether a number may start at its point (`.5`).
    """
    pattern = _DURATION_OR_POINT if leading_point else _DURATION
    match = pattern.fullmatch(text.strip().lower())
    if match is None:
        return None
    scale = units.get(match.group(2) or "s")
    return None if scale is None else float(match.group(1)) * scale


def parse_duration(text: str) -> float:
    """`90`, `90s`, `15m`, `12h`, `14d`, `2w` -> seconds (the server settings' grammar).

    Raises:
        ValueError: when the text is not a positive number with an optional unit.
    """
    seconds = duration_in(text, SETTING_UNITS)
    if seconds is None:
        raise ValueError(
            f"bad duration {text!r}: use a number with an optional unit s, m, h, d or w (e.g. 14d)"
        )
    if seconds <= 0:
        raise ValueError(f"bad duration {text!r}: must be greater than zero")
    return seconds
