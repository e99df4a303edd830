"""The one place that reads the environment.

Every environment variable the project honours is named here as a constant and read
by a function of this module; components take plain values as arguments.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def env_first(names: tuple[str, ...], environ: Mapping[str, str] | None = None) -> str | None:
    """The value of the first variable in `names` that is set and non-empty."""
    env = os.environ if environ is None else environ
    for name in names:
        value = env.get(name)
        if value:
            return value
    return None


def env_bool(value: str | None, default: bool = False) -> bool:
    """`true`/`1`/`yes`/`on` (any case) are true; unset is `default`."""
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


# --- server (otel-llm serve) -------------------------------------------------------

# --- span processor, sinks and exporters -------------------------------------------
