"""Every Experiment of experiments/ runs unchanged to Complete in one embedded lab, all at once, in fast mode.

"Unchanged": the committed YAML, created through its generateName exactly as `kubectl create -f` would
(`labctl run --json` creates the file as it is, after the same local validation). The files are the
original's Experiments (its template names, generateNames — the long `observability-cost-tutorial-`
on GKE included — gke targets, tailscale observability, manual tutorials), so this is also the test
that the original's Experiments run here. One more, `manual-inline`, is hello-app in manual mode on
the built-in `experiment-lifecycle` workflow: manual mode must end on request whatever the template.

One lab for the module with a small time scale (a 25-minute observation window becomes under a minute).
Manual-mode runs are ended with `labctl complete` as soon as they are Running, which is what a user
does. Each run's time from creation to its final phase is recorded and printed as a table at the end
of the session (tests/catalog/conftest.py).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from labctl.lab.state import LabState
from tests.catalog.durations import DURATIONS, ScenarioRun
from tests.fixtures.eventually import eventually
from tests.fixtures.lab import REPO, lab_env, labctl, module_lab

pytestmark = pytest.mark.slow
TIME_SCALE = 0.03  # 25m → 45 s: past the 30 s minimum metrics window, so published comparisons collect data
DEADLINE_SECONDS = 360
SCENARIOS = sorted(p.name for p in (REPO / "experiments").iterdir() if (p / "experiment.yaml").is_file())
MANUAL_INLINE = "manual-inline"


def manual_inline_file(directory: Path) -> Path:
    """hello-app as a user would adapt it: manual mode on the built-in workflow (no WorkflowTemplate)."""
    exp = yaml.safe_load((REPO / "experiments" / "hello-app" / "experiment.yaml").read_text())
    exp["metadata"]["generateName"] = "manual-inline-"
    exp["spec"]["workflow"] = {"template": "experiment-lifecycle", "completion": {"mode": "manual"}}
    path = directory / "manual-inline.yaml"
    path.write_text(yaml.safe_dump(exp))
    return path


@dataclass
class Run:
    scenario: str
    mode: str
    name: str = ""
    created: float = 0.0
    phase: str = ""
    finished: float | None = None
    completed_by_hand: bool = False
    status: dict[str, Any] = field(default_factory=dict)
    error: str = ""


lab = module_lab(TIME_SCALE)


@pytest.fixture(scope="module")
def runs(lab: LabState, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    env = lab_env(lab)
    files = {s: REPO / "experiments" / s / "experiment.yaml" for s in SCENARIOS}
    files[MANUAL_INLINE] = manual_inline_file(tmp_path_factory.mktemp("manual-inline"))
    result: dict[str, Run] = {}
    procs: dict[str, subprocess.Popen[str]] = {}
    for scenario, path in files.items():
        exp = yaml.safe_load(path.read_text())
        result[scenario] = Run(scenario, exp["spec"]["workflow"]["completion"]["mode"])
        argv = [sys.executable, "-m", "labctl", "run", str(path), "--json"]
        procs[scenario] = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO
        )
    for scenario, proc in procs.items():
        out, err = proc.communicate(timeout=180)
        run = result[scenario]
        if proc.returncode != 0:
            run.error = f"labctl run exited {proc.returncode}: {err.strip()}"
            continue
        run.name = json.loads(out)["metadata"]["name"]
        run.created = time.monotonic()
    _follow(lab, env, result)
    for run in result.values():
        if run.finished is not None:
            DURATIONS.append(ScenarioRun(run.scenario, run.mode, run.phase, run.finished - run.created))
    return result


def _follow(lab: LabState, env: dict[str, str], result: dict[str, Run]) -> None:
    """Until every run has ended: note each final phase, and `labctl complete` manual runs once Running."""
    api = client.CustomObjectsApi(config.new_client_from_config(str(lab.kubeconfig)))
    by_name = {r.name: r for r in result.values() if r.name}

    def all_finished() -> bool:
        listing: Any = api.list_namespaced_custom_object(
            "experiments.illm.io", "v1alpha1", "experiments", "experiments"
        )
        for item in listing.get("items", []):
            run = by_name.get(item["metadata"]["name"])
            if run is None or run.finished is not None or run.error:
                continue
            run.status = item.get("status") or {}
            run.phase = run.status.get("phase") or ""
            if run.phase in ("Complete", "Failed"):
                run.finished = time.monotonic()
            elif run.mode == "manual" and run.phase == "Running" and not run.completed_by_hand:
                done = labctl("complete", run.name, env=env, timeout=120)
                run.completed_by_hand = done.returncode == 0
                run.error = "" if done.returncode == 0 else f"labctl complete exited {done.returncode}: {done.stderr}"
        return all(r.finished is not None or r.error for r in by_name.values())

    with contextlib.suppress(AssertionError):  # each scenario's test reports a run that did not end
        eventually(all_finished, DEADLINE_SECONDS, "every run ended", interval=1)


@pytest.mark.parametrize("scenario", [*SCENARIOS, MANUAL_INLINE])
def test_experiment_runs_unchanged_to_complete(runs: dict[str, Run], scenario: str) -> None:
    run = runs[scenario]
    assert not run.error, run.error
    assert run.finished is not None, (
        f"{scenario} ({run.name}) still {run.phase!r} after {DEADLINE_SECONDS}s: {run.status}"
    )
    conditions = {c["type"]: c.get("message") for c in run.status.get("conditions") or []}
    assert run.phase == "Complete", f"{scenario} ({run.name}) ended {run.phase}: {conditions}"
    assert run.status.get("resultsURL"), f"{scenario}: Complete without status.resultsURL"
    if run.mode == "manual":
        assert run.completed_by_hand, "a manual-mode run must wait for `labctl complete`"
    else:
        assert (run.status.get("workflowStatus") or {}).get("phase") == "Succeeded"
