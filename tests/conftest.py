"""Shared fixtures: real servers on loopback (see tests/fixtures/ and docs/testing.md)."""

from __future__ import annotations

import pytest

from tests.fixtures.timings import report_lines

pytest_plugins = [
    "tests.fixtures.temporal",
    "tests.fixtures.kube",
    "tests.fixtures.storage",
    "tests.fixtures.metrics",
]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = report_lines()
    if lines:
        terminalreporter.section("fixture start-up times")
        for line in lines:
            terminalreporter.write_line(line)
