"""``labctl list`` and ``labctl status NAME``: what the Experiments in a cluster are doing, and why.

Read-only; everything shown comes from the Experiment objects (spec and the status the gateway writes).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

import yaml

from api.experiment import ExperimentPhase, ExperimentStatus
from labctl.command import EXIT_OK, Subparsers
from labctl.experiments import (
    Experiments,
    Obj,
    add_cluster_options,
    age,
    created_at,
    name_of,
    phase_of,
    print_table,
    reason,
    status_of,
    table,
    target_names,
)

PHASES = [p.value for p in ExperimentPhase]


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    listing = subparsers.add_parser(
        "list",
        aliases=["ls"],
        help="list Experiments: phase, reason, targets, verdict, age",
        description="List the Experiments of a namespace (or all, with -A).",
    )
    add_cluster_options(listing)
    listing.add_argument("-A", "--all-namespaces", action="store_true", help="list every namespace")
    listing.add_argument("--phase", type=_phase, help=f"only this phase ({', '.join(PHASES)})")
    listing.add_argument("-l", "--selector", help="label selector, e.g. scenario=hello-app")
    listing.set_defaults(handler=list_experiments)

    status = subparsers.add_parser(
        "status",
        help="one Experiment in detail: targets, conditions, workflow, results, timeline",
        description="Show one Experiment: phase and why, targets, conditions with reasons, the Temporal "
        "workflow (with its UI link), results, tutorial endpoints and the phase timeline.",
    )
    status.add_argument("name", metavar="NAME")
    add_cluster_options(status)
    status.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text", help="output format")
    status.set_defaults(handler=show_status)


def _phase(text: str) -> str:
    match = next((p for p in PHASES if p.lower() == text.lower()), None)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a phase; use one of {', '.join(PHASES)}")
    return match


# ----------------------------------------------------------------------------------------- list


def list_experiments(args: argparse.Namespace) -> int:
    experiments = Experiments.connect(args)
    items = experiments.list(all_namespaces=args.all_namespaces, selector=args.selector)
    if args.phase:
        items = [o for o in items if phase_of(o) == args.phase]
    if not items:
        where = "any namespace" if args.all_namespaces else f"namespace {experiments.namespace}"
        print(f"No experiments found in {where}.")
        return EXIT_OK
    items.sort(key=lambda o: (o["metadata"].get("namespace", ""), created_at(o) or datetime.min.replace(tzinfo=UTC)))
    headers = ["NAME", "PHASE", "REASON", "TARGETS", "VERDICT", "AGE"]
    now = datetime.now(UTC)
    rows = [list_row(o, now) for o in items]
    if args.all_namespaces:
        headers.insert(0, "NAMESPACE")
        rows = [[o["metadata"].get("namespace"), *row] for o, row in zip(items, rows, strict=True)]
    print_table(headers, rows)
    return EXIT_OK


def list_row(obj: Obj, now: datetime) -> list[str | None]:
    status = status_of(obj)
    why = reason(status)
    return [
        name_of(obj),
        phase_of(obj),
        why.reason if why else None,
        _targets_cell(obj, status),
        status.hypothesis_result,
        age(created_at(obj), now),
    ]


def _targets_cell(obj: Obj, status: ExperimentStatus) -> str:
    """``app,db`` — with the target's phase when it differs from the experiment's (``db:Failed``)."""
    phases = {t.name: t.phase for t in status.targets or []}
    cells = []
    for name in target_names(obj):
        phase = phases.get(name)
        cells.append(f"{name}:{phase}" if phase and phase not in (phase_of(obj), "Ready") else name)
    return ",".join(cells)


# --------------------------------------------------------------------------------------- status


def show_status(args: argparse.Namespace) -> int:
    experiments = Experiments.connect(args)
    obj = experiments.get(args.name)
    if args.output == "json":
        print(json.dumps(obj, indent=2))
    elif args.output == "yaml":
        print(yaml.safe_dump(obj, sort_keys=False), end="")
    else:
        for line in status_lines(obj, datetime.now(UTC)):
            print(line)
    return EXIT_OK


def status_lines(obj: Obj, now: datetime) -> list[str]:
    spec = obj.get("spec") or {}
    meta = obj.get("metadata") or {}
    status = status_of(obj)
    why = reason(status)
    lines = _fields(
        [
            ("Name", meta.get("name")),
            ("Namespace", meta.get("namespace")),
            ("Title", spec.get("title")),
            ("Phase", phase_of(obj) + _since(status, now)),
            ("Reason", f"{why.reason}: {why.message}" if why else None),
            ("Created", f"{meta.get('creationTimestamp')} ({age(created_at(obj), now)} ago)"),
            ("Completion", _completion(spec)),
            ("TTL", f"{spec['ttlDays']} day(s)" if spec.get("ttlDays") is not None else None),
            ("Temporal", _temporal(status)),
            ("Workflow UI", status.temporal.ui_url if status.temporal else None),
            ("Argo workflow", _argo(status)),
            ("Results", status.results_url),
            ("Hypothesis", _hypothesis(spec, status)),
            ("Analysis", status.analysis_phase),
            ("Published", status.publish_pr_url or (str(status.published).lower() if status.published else None)),
            ("Review", status.review_phase),
            ("Cleaned up", str(status.resources_cleaned).lower() if status.resources_cleaned is not None else None),
        ]
    )
    target_rows = _target_rows(obj, status)
    lines += _section("Targets", table(["NAME", "PHASE", "CLUSTER", "ENDPOINT", "COMPONENTS"], target_rows))
    conditions = sorted(status.conditions or [], key=lambda c: c.last_transition_time)
    condition_rows = [
        [c.type, c.status, c.reason, age(c.last_transition_time, now), c.message.replace("\n", " ")] for c in conditions
    ]
    if condition_rows:
        lines += _section("Conditions", table(["TYPE", "STATUS", "REASON", "AGE", "MESSAGE"], condition_rows))
    services = (status.tutorial_status.services if status.tutorial_status else None) or []
    if services:
        rows = [[s.name, s.endpoint, "yes" if s.ready else "no"] for s in services]
        lines += _section("Tutorial services", table(["NAME", "ENDPOINT", "READY"], rows))
    secrets = (status.tutorial_status.kubeconfig_secrets if status.tutorial_status else None) or {}
    if secrets:
        rows = [[target, secret] for target, secret in sorted(secrets.items())]
        lines += _section("Kubeconfig secrets", table(["TARGET", "SECRET"], rows))
    if status.timeline:
        lines += _section("Timeline", _timeline(status, now))
    return [line.rstrip() for line in lines]


def _fields(pairs: list[tuple[str, object]]) -> list[str]:
    """``Label:  value`` lines, aligned over every label (shown or not), so the layout does not jump."""
    shown = [(k, str(v)) for k, v in pairs if v not in (None, "")]
    width = max(len(k) for k, _ in pairs) + 2
    return [f"{k + ':':<{width}}{v}" for k, v in shown]


def _section(title: str, lines: list[str]) -> list[str]:
    return ["", f"{title}:", *[f"  {line}" for line in lines]]


def _since(status: ExperimentStatus, now: datetime) -> str:
    if not status.timeline:
        return ""
    return f" (for {age(status.timeline[-1].time, now)})"


def _completion(spec: dict[str, object]) -> str | None:
    workflow = spec.get("workflow")
    if not isinstance(workflow, dict):
        return None
    mode = (workflow.get("completion") or {}).get("mode")
    return f"{mode} (template {workflow.get('template')})"


def _temporal(status: ExperimentStatus) -> str | None:
    ref = status.temporal
    if ref is None:
        return None
    return ref.workflow_id + (f" (run {ref.run_id})" if ref.run_id else "")


def _argo(status: ExperimentStatus) -> str | None:
    wf = status.workflow_status
    if wf is None:
        return None
    return f"{wf.name} {wf.phase or ''}".strip() + (f": {wf.message}" if wf.message else "")


def _hypothesis(spec: dict[str, object], status: ExperimentStatus) -> str | None:
    hypothesis = spec.get("hypothesis")
    claim = hypothesis.get("claim") if isinstance(hypothesis, dict) else None
    if status.hypothesis_result:
        return f"{status.hypothesis_result}" + (f" — {claim}" if claim else "")
    return f"(not evaluated yet) {claim}" if claim else None


def _target_rows(obj: Obj, status: ExperimentStatus) -> list[list[str | None]]:
    by_name = {t.name: t for t in status.targets or []}
    rows = []
    for name in target_names(obj) or list(by_name):
        t = by_name.get(name)
        components = ",".join(t.components or []) if t else ""
        rows.append(
            [name, t.phase if t else "Pending", t.cluster_name if t else None, t.endpoint if t else None, components]
        )
    return rows


def _timeline(status: ExperimentStatus, now: datetime) -> list[str]:
    entries = status.timeline or []
    rows = []
    for i, entry in enumerate(entries):
        end = entries[i + 1].time if i + 1 < len(entries) else None
        took = age(entry.time, end) if end else ("-" if entry.phase in ("Complete", "Failed") else age(entry.time, now))
        rows.append([entry.phase, entry.time.isoformat().replace("+00:00", "Z"), took])
    return table(["PHASE", "ENTERED", "DURATION"], rows)
