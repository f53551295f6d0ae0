"""The ``labctl`` entry point: one argparse parser with a subcommand per module in COMMANDS.

Whatever goes wrong, the user sees one line on stderr and an exit code, never a traceback
(set LABCTL_DEBUG=1 to get the traceback of an unexpected error).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from labctl import human, inspect, kubeconfig, results, run, tutorial, validate
from labctl.command import EXIT_UNREADABLE, Command, LabctlError
from labctl.lab import command as lab
from labctl.settings import LabctlSettings
from labctl.site import command as site

COMMANDS: tuple[Command, ...] = (lab, run, inspect, human, results, site, kubeconfig, tutorial, validate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labctl",
        description="Command line of the AI-driven Kubernetes benchmarking lab.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already explained
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_UNREADABLE)
    args.settings = LabctlSettings()  # the one read of the environment; every command gets it here
    try:
        return int(args.handler(args))
    except LabctlError as exc:
        _say(f"labctl {args.command}: {_first_line(exc)}")
        return exc.exit_code
    except KeyboardInterrupt:
        _say("labctl: interrupted")
        return 130
    except BrokenPipeError:  # output piped into `head` and friends: not an error
        _silence_stdout()
        return 0
    except Exception as exc:
        if args.settings.debug:
            traceback.print_exc()
        hint = "" if args.settings.debug else " (LABCTL_DEBUG=1 shows the traceback)"
        _say(f"labctl {args.command}: unexpected error: {type(exc).__name__}: {_first_line(exc)}{hint}")
        return EXIT_UNREADABLE


def _first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    return lines[0] if lines else ""


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
