"""Shared between the lab test module and conftest's terminal summary."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScenarioRun:
    scenario: str
    mode: str
    phase: str
    seconds: float


DURATIONS: list[ScenarioRun] = []
