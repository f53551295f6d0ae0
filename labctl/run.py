"""``labctl run FILE [--wait] [--json]``: create an Experiment the way ``kubectl create -f`` does, then follow it.

The file is validated locally first (the same lines ``labctl validate`` prints); the object is created
from its ``generateName``; ``--wait`` follows it with a watch, printing one line per phase, target or
condition change. Exit 0 Complete, 1 Failed, 2 error or timeout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TextIO

from api.experiment import ExperimentPhase
from labctl.catalog import Catalog, find_components_dir, from_directory, is_lab_object
from labctl.command import EXIT_INVALID, EXIT_OK, LabctlError, Subparsers
from labctl.experiments import (
    TERMINAL_PHASES,
    Experiments,
    Obj,
    add_cluster_options,
    condition_text,
    elapsed,
    phase_of,
    reason,
    status_of,
)
from labctl.manifests import read_documents
from labctl.validate import validate_paths

DEFAULT_TIMEOUT_SECONDS = 4 * 3600


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="create an Experiment from a file and (with --wait) follow it to the end",
        description="Validate FILE, create the Experiment it describes (from metadata.generateName, like "
        "`kubectl create -f`) and, with --wait, follow its phases until it is Complete or Failed.",
        epilog="exit status: 0 created (or Complete with --wait), 1 invalid file or Failed, 2 error or timeout",
    )
    parser.add_argument("file", metavar="FILE", help="a YAML file with exactly one Experiment")
    parser.add_argument("--wait", action="store_true", help="follow the experiment until it is Complete or Failed")
    parser.add_argument("--json", action="store_true", help="print the (finished, with --wait) Experiment as JSON")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"give up waiting after this long (default {DEFAULT_TIMEOUT_SECONDS})",
    )
    add_cluster_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    invalid = validate_file(path)
    if invalid:
        return invalid
    experiments, created = create_from_file(args, path)
    name = created["metadata"]["name"]
    progress = sys.stderr if args.json else sys.stdout
    print(f"experiment {experiments.namespace}/{name} created", file=progress)
    if not args.wait:
        if args.json:
            print(json.dumps(created, indent=2))
        return EXIT_OK
    final = follow(experiments, name, args.timeout, progress)
    if args.json:
        print(json.dumps(final, indent=2))
    return EXIT_OK if phase_of(final) == ExperimentPhase.COMPLETE else EXIT_INVALID


def validate_file(path: Path) -> int:
    """The same checks as `labctl validate`; prints its lines and returns its exit code when invalid."""
    report = validate_paths([str(path)], _catalog_near(path))
    if report.exit_code != EXIT_OK:
        for line in report.problem_lines():
            print(line, file=sys.stderr)
        print(f"labctl run: {path} is not valid; nothing was created", file=sys.stderr)
    return report.exit_code


def create_from_file(args: argparse.Namespace, path: Path) -> tuple[Experiments, Obj]:
    """Create the file's Experiment (kubectl-create semantics) in the namespace ``Experiments.connect`` picks."""
    body = _read_experiment(path)
    experiments = Experiments.connect(args, file_namespace=(body.get("metadata") or {}).get("namespace"))
    body.setdefault("metadata", {})["namespace"] = experiments.namespace
    return experiments, experiments.create(body)


def _read_experiment(path: Path) -> Obj:
    documents, problems = read_documents(path)
    if problems:
        raise LabctlError(problems[0].render())
    experiments = [d for d in documents if is_lab_object(d, ("Experiment",))]
    if len(experiments) != 1 or len(documents) != 1:
        raise LabctlError(f"{path}: expected exactly one Experiment document, found {len(documents)} document(s)")
    return dict(experiments[0].body)


def _catalog_near(path: Path) -> Catalog | None:
    """The components/ tree of the file's repository, if it has one; the cluster checks the rest."""
    found = find_components_dir(path.resolve().parent)
    return from_directory(found) if found else None


# ------------------------------------------------------------------------------------ following


class Progress:
    """Turns successive versions of one Experiment into one line per change."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.started = time.monotonic()
        self.seen: dict[str, str] = {}

    def observe(self, obj: Obj) -> None:
        for key, text in self.facts(obj).items():
            if self.seen.get(key) != text:
                self.seen[key] = text
                stamp = elapsed(time.monotonic() - self.started)
                print(f"[{stamp:>6}] {text}", file=self.out, flush=True)

    @staticmethod
    def facts(obj: Obj) -> dict[str, str]:
        status = status_of(obj)
        facts = {"phase": f"phase {phase_of(obj)}"}
        for target in status.targets or []:
            facts[f"target/{target.name}"] = f"target {target.name}: {target.phase or 'Pending'}" + (
                f" ({target.cluster_name})" if target.cluster_name else ""
            )
        for condition in status.conditions or []:
            facts[f"condition/{condition.type}"] = f"condition {condition_text(condition)}"
        if status.temporal and status.temporal.ui_url:
            facts["temporal"] = f"workflow {status.temporal.ui_url}"
        if status.results_url:
            facts["results"] = f"results {status.results_url}"
        if status.resources_cleaned:
            facts["cleaned"] = "resources cleaned up"
        return facts


def follow(experiments: Experiments, name: str, timeout: float, out: TextIO) -> Obj:
    """Print every change until the experiment is Complete or Failed; LabctlError on timeout."""
    progress = Progress(out)
    last: Obj | None = None
    for obj in experiments.follow(name, timeout):
        last = obj
        progress.observe(obj)
        if _settled(obj):
            _print_outcome(obj, out)
            return obj
    phase = phase_of(last) if last else "unknown"
    raise LabctlError(f"timed out after {elapsed(timeout)}: experiment {name} is still {phase}")


def _settled(obj: Obj) -> bool:
    """Failed, or Complete with its results stored (the workflow stores them right after Complete)."""
    phase = phase_of(obj)
    if phase == ExperimentPhase.COMPLETE:
        return bool(status_of(obj).results_url)
    return phase in TERMINAL_PHASES


def _print_outcome(obj: Obj, out: TextIO) -> None:
    status = status_of(obj)
    why = reason(status)
    line = f"experiment {obj['metadata']['name']} {phase_of(obj)}"
    if why is not None and phase_of(obj) == ExperimentPhase.FAILED:
        line += f": {why.reason}: {why.message}"
    if status.hypothesis_result:
        line += f" (hypothesis {status.hypothesis_result})"
    print(line, file=out, flush=True)
