"""``labctl complete NAME`` and ``labctl review NAME approve|reject``: the two human decisions.

Both only set an annotation on the Experiment (``experiments.illm.io/complete=true``,
``experiments.illm.io/review=approved|rejected``); the CRD gateway turns it into a workflow update
and reports the outcome as a condition. So these commands need nothing but the Kubernetes API.
They wait up to ``--timeout`` seconds for that condition (or the phase change) and report it; if
the gateway has not reacted by then they still succeed, with a note. A refusal exits 1.
"""

from __future__ import annotations

import argparse

from api.experiment import COMPLETE_ANNOTATION, REVIEW_ANNOTATION
from labctl.command import EXIT_INVALID, EXIT_OK, LabctlError, Subparsers
from labctl.experiments import (
    TERMINAL_PHASES,
    Experiments,
    Obj,
    add_cluster_options,
    condition_text,
    phase_of,
    status_of,
)

DEFAULT_TIMEOUT_SECONDS = 30.0
REVIEW_VALUES = {"approve": "approved", "approved": "approved", "reject": "rejected", "rejected": "rejected"}


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    complete = subparsers.add_parser(
        "complete",
        help="end a manual-mode experiment's run (results are collected, then cleanup)",
        description=f"Set {COMPLETE_ANNOTATION}=true on the experiment and wait for the platform to react.",
        epilog="exit status: 0 requested (accepted, or no reaction yet), 1 refused, 2 error",
    )
    complete.add_argument("name", metavar="NAME")
    _add_common(complete)
    complete.set_defaults(handler=request_complete)

    review = subparsers.add_parser(
        "review",
        help="approve or reject an experiment's published results",
        description=f"Set {REVIEW_ANNOTATION}=approved|rejected and wait for the platform to react.",
        epilog="exit status: 0 requested (accepted, or no reaction yet), 1 refused, 2 error",
    )
    review.add_argument("name", metavar="NAME")
    review.add_argument(
        "decision", choices=("approve", "reject"), help="approve merges the results PR, reject closes it"
    )
    _add_common(review)
    review.set_defaults(handler=request_review)


def _add_common(parser: argparse.ArgumentParser) -> None:
    add_cluster_options(parser)
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"how long to wait for the platform's answer (default {DEFAULT_TIMEOUT_SECONDS:g}; 0 = do not wait)",
    )


def request_complete(args: argparse.Namespace) -> int:
    return _request(args, COMPLETE_ANNOTATION, "true")


def request_review(args: argparse.Namespace) -> int:
    return _request(args, REVIEW_ANNOTATION, REVIEW_VALUES[args.decision])


def _request(args: argparse.Namespace, annotation: str, value: str) -> int:
    experiments = Experiments.connect(args)
    before = experiments.get(args.name)
    if phase_of(before) in TERMINAL_PHASES:
        raise LabctlError(f"experiment {args.name} is already {phase_of(before)}; nothing to ask of it")
    previous = (before["metadata"].get("annotations") or {}).get(annotation)
    if previous == value:
        answered = _answer(before, before, annotation, value, repeated=True)
        if answered is not None:
            return _report(args.name, answered)
    else:
        experiments.annotate(args.name, {annotation: value})
    print(f"experiment {args.name}: set {annotation}={value}")
    if args.timeout <= 0:
        return EXIT_OK
    for obj in experiments.follow(args.name, args.timeout):
        answered = _answer(before, obj, annotation, value, repeated=False)
        if answered is not None:
            return _report(args.name, answered)
    print(
        f"note: the platform has not reacted within {args.timeout:g}s; `labctl status {args.name}` shows when it does"
    )
    return EXIT_OK


def _answer(before: Obj, now: Obj, annotation: str, value: str, *, repeated: bool) -> tuple[bool, str] | None:
    """(accepted, text) once a condition about ``annotation=value`` is new or changed, or the phase moved on."""
    old = {c.type: c for c in status_of(before).conditions or []}
    for condition in status_of(now).conditions or []:
        if f"{annotation}={value}" not in condition.message:
            continue
        if repeated or old.get(condition.type) != condition:
            return condition.status != "False", condition_text(condition)
    if annotation == COMPLETE_ANNOTATION and not repeated and phase_of(now) != phase_of(before):
        return True, f"phase {phase_of(before)} -> {phase_of(now)}"
    if annotation == REVIEW_ANNOTATION and not repeated:
        phase = status_of(now).review_phase
        if phase in ("Approved", "Rejected") and phase != status_of(before).review_phase:
            return True, f"review {phase}"
    return None


def _report(name: str, answer: tuple[bool, str]) -> int:
    accepted, text = answer
    if accepted:
        print(f"experiment {name}: {text}")
        return EXIT_OK
    print(f"experiment {name}: refused: {text}")
    return EXIT_INVALID
