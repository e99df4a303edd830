"""Interop tests run against real third-party servers installed from PyPI: slow, so
they run only when asked for (`pytest -m interop tests/interop`, as `.ci/run` does)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "interop: against a real third-party server (slow)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "interop" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="interop test: run with `pytest -m interop tests/interop`")
    for item in items:
        if item.get_closest_marker("interop") is not None:
            item.add_marker(skip)
