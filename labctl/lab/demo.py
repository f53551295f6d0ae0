"""``labctl lab demo``: the main job — bring the lab up, run hello-app to Complete, show the results.

Uses a running lab when there is one (and leaves it running); otherwise starts one in fast mode
and stops it at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from api.experiment import ExperimentPhase
from labctl.command import EXIT_INVALID, EXIT_OK, LabctlError
from labctl.experiments import phase_of, status_of
from labctl.inspect import status_lines
from labctl.lab import command as lab
from labctl.lab.state import LabState
from labctl.results import read_object, results_lines, results_location, s3_endpoint
from labctl.run import create_from_file, follow, validate_file
from labctl.settings import LabctlSettings

REPO = Path(__file__).resolve().parents[2]
HELLO_APP = REPO / "experiments" / "hello-app" / "experiment.yaml"


def register_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser("demo", help="the main job: run hello-app end to end in the lab")
    demo.add_argument("--file", type=Path, default=HELLO_APP, help="the experiment to run (default hello-app)")
    demo.add_argument("--keep", action="store_true", help="leave a lab this command started running")
    demo.add_argument("--time-scale", type=float, default=0.5, help="simulated run-time factor (default 0.5)")
    demo.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the experiment")
    demo.set_defaults(handler=lab_demo)


def lab_demo(args: argparse.Namespace) -> int:
    root = lab.lab_root(args)
    existing = LabState.load(root)
    started_here = not (existing and existing.supervisor_alive() and existing.ready)
    if started_here:
        print(f"bringing the lab up in {root} (simulated run times x{args.time_scale})", flush=True)
        lab.start_detached(root, args.time_scale)
    state = lab.running_state(root)
    args.settings = args.settings.with_environment(state.env())  # as after `eval "$(labctl lab env)"`
    try:
        return _run(args, state)
    finally:
        if started_here and not args.keep:
            print("stopping the lab (pass --keep to leave it running)", flush=True)
            lab.lab_down(args)


def _run(args: argparse.Namespace, state: LabState) -> int:
    path = Path(args.file)
    invalid = validate_file(path)
    if invalid:
        return invalid
    connection = argparse.Namespace(kubeconfig=None, context=None, namespace=None, settings=args.settings)
    experiments, created = create_from_file(connection, path)
    name = created["metadata"]["name"]
    print(f"\nexperiment {experiments.namespace}/{name} created from {path}", flush=True)
    final = follow(experiments, name, args.timeout, sys.stdout)
    print("")
    for line in status_lines(final, datetime.now(UTC)):
        print(line)
    _print_results(final, state, name, args.settings)
    status = status_of(final)
    print(f"\nTemporal UI: {status.temporal.ui_url if status.temporal else state.endpoints()['Temporal UI']}")
    return EXIT_OK if phase_of(final) == ExperimentPhase.COMPLETE else EXIT_INVALID


def _print_results(obj: dict[str, object], state: LabState, name: str, settings: LabctlSettings) -> None:
    try:
        location = results_location(obj)
        endpoint = s3_endpoint(settings, None)
        summary = json.loads(read_object(endpoint, location, f"{location.prefix}summary.json", "summary.json"))
        print("")
        for line in results_lines(summary, status_of(obj).hypothesis_result):
            print(line)
        report = state.root / "reports" / f"{name}-report.html"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_bytes(read_object(endpoint, location, f"{location.prefix}report.html", "report.html"))
        print(f"\nResults:     {status_of(obj).results_url}")
        print(f"Report:      {report}")
        print(f"Site:        {state.endpoints()['Results site']} (every run, series and comparison)")
    except LabctlError as exc:
        print(f"\nResults: {exc}")
