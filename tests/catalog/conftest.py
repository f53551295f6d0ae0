"""Prints the per-scenario duration table the embedded-lab run collects (tests/catalog/test_scenarios_in_lab.py)."""

from __future__ import annotations

import pytest

from tests.catalog.durations import DURATIONS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not DURATIONS:
        return
    terminalreporter.section("scenario durations in the embedded lab")
    terminalreporter.write_line(f"{'scenario':<30} {'mode':<9} {'final phase':<12} {'seconds':>8}")
    for row in sorted(DURATIONS, key=lambda r: r.scenario):
        terminalreporter.write_line(f"{row.scenario:<30} {row.mode:<9} {row.phase:<12} {row.seconds:>8.1f}")
