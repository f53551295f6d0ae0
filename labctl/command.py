"""What a subcommand module provides, and the one exception a command raises for the user to read.

A command module exposes ``register(subparsers)``: it adds its parser and sets ``handler``, a
function from the parsed arguments to the exit code.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Protocol

Subparsers = argparse._SubParsersAction  # the object add_subparsers() returns
Handler = Callable[[argparse.Namespace], int]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2


class Command(Protocol):
    def register(self, subparsers: Subparsers[argparse.ArgumentParser]) -> None: ...


class LabctlError(Exception):
    """A failure the user can act on (missing catalog, unreachable cluster): one line, exit code 2."""

    exit_code = EXIT_UNREADABLE
