"""The property tests' profile, and fixtures for the tests that hold the optional C
extensions to their Python references."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest
from hypothesis import HealthCheck, Phase, settings

# Property tests are deterministic in CI: derandomised (the same examples every run),
# no example database, and no explain or shrink phase, which can outlast the test
# timeout; a failure prints the example that failed and the blob that replays it
# (`@reproduce_failure`). Each test's own `@settings` keeps its example budget.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)

# CI sets this: an extension that failed to build must fail the run, not skip its tests.
REQUIRE_SPEEDUPS = os.environ.get("OTEL_LLM_REQUIRE_SPEEDUPS") == "1"


def _speedup(module: str) -> ModuleType:
    """The C extension `module`; without it the test is skipped (the install works without
    a C compiler, only slower), or fails under OTEL_LLM_REQUIRE_SPEEDUPS=1."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        reason = f"{module} is not built ({exc}): install a C compiler, then pip install -e ."
        if REQUIRE_SPEEDUPS:
            pytest.fail(f"OTEL_LLM_REQUIRE_SPEEDUPS=1 and {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def c_wire_codec() -> ModuleType:
    """otel_llm.otlp._wire, the C protobuf codec (skips or fails without it)."""
    return _speedup("otel_llm.otlp._wire")


@pytest.fixture(scope="session")
def c_redact_walk() -> ModuleType:
    """otel_llm._redact_walk, the C redaction walk (skips or fails without it)."""
    return _speedup("otel_llm._redact_walk")
