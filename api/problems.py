"""A validation problem: which field, what is wrong, how to fix it. Shared by the schema and rule checks."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    fix: str
    severity: Severity = Severity.ERROR

    def render(self) -> str:
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        return f"{prefix}{self.path}: {self.message} — fix: {self.fix}"


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity is Severity.ERROR]


def one_of(options: Iterable[str]) -> str:
    return ", ".join(options)


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    """The option closest to ``word`` ignoring case, if any is close."""
    by_lower = {o.lower(): o for o in options}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None
