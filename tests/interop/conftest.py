"""Interop tests run against real third-party servers installed from PyPI: slow, so
they run only when asked for (`pytest -m interop tests/interop`, as `.ci/run` does)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "interop: against a real third-party server (slow)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Left out of a run that did not ask for them (deselected, not skipped)."""
    if "interop" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("interop") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
