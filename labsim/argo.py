"""Plays Argo Workflows: a Workflow runs for a while, then Succeeded (or Failed with fault ``workflow-fail``).

The run time comes from the parameter ``labsim-duration`` (else ``duration``) — a duration such as
``3s`` or ``2m`` — taken from the Workflow's arguments, else the WorkflowTemplate's defaults (from the
simulator's store of them, :mod:`labsim.lookups`), else the configured default. A
``workflowTemplateRef`` to a missing template ends in phase Error with Argo's message. Suspend
templates without a duration (inline or in the WorkflowTemplate) behave as in Argo: after the run
time each becomes a node of type Suspend in phase Running, and the workflow stays Running until every
such node is Succeeded (what ``argo resume`` writes); ``spec.suspend: true`` holds it too.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from api.base import parse_duration
from labsim.config import Fault, SimulatorConfig
from labsim.lookups import WORKFLOW_TEMPLATES, Lookups
from labsim.objects import CustomObjects, meta, now_rfc3339, uid_of

GROUP, VERSION = "argoproj.io", "v1alpha1"
DURATION_PARAMETERS = ("labsim-duration", "duration")
TERMINAL = ("Succeeded", "Failed", "Error")


@dataclass(frozen=True)
class _Run:
    began: float
    """monotonic start"""
    seconds: float
    suspends: tuple[str, ...]
    """the suspend templates (no duration) the run stops at after ``seconds``, until resumed"""


class WorkflowController:
    def __init__(self, api: client.ApiClient, config: SimulatorConfig, lookups: Lookups) -> None:
        self.custom = CustomObjects(api)
        self.config = config
        self.lookups = lookups
        self.run_time: dict[str, _Run] = {}

    def reconcile(self, wf: dict[str, Any], faults: set[Fault]) -> float | None:
        """Act on the Workflow as it is; the seconds until its run time is over (None: on its next change)."""
        status = wf.get("status") or {}
        uid = uid_of(wf)
        if status.get("phase") in TERMINAL or meta(wf).get("deletionTimestamp"):
            self.run_time.pop(uid, None)
            return None
        if uid not in self.run_time:
            started = self._start(wf, faults)
            if started is None:
                return None
            self.run_time[uid] = started
        run = self.run_time[uid]
        left = run.began + run.seconds - time.monotonic()
        if left > 0:
            return left
        if (wf.get("spec") or {}).get("suspend"):
            return None
        nodes = status.get("nodes") or {}
        if any(n.get("type") == "Suspend" and n.get("phase") == "Running" for n in nodes.values()):
            return None  # suspended until `argo resume`
        if run.suspends and not any(n.get("type") == "Suspend" for n in nodes.values()):
            self._patch(wf, {"nodes": _suspend_nodes(meta(wf)["name"], run.suspends)})
            return None
        if Fault.WORKFLOW_FAIL in faults:
            self._patch(
                wf,
                {
                    "phase": "Failed",
                    "message": "labsim: simulated step failure (exit code 1)",
                    "finishedAt": now_rfc3339(),
                },
            )
        else:
            self._patch(wf, {"phase": "Succeeded", "finishedAt": now_rfc3339()})
        return None

    def _start(self, wf: dict[str, Any], faults: set[Fault]) -> _Run | None:
        spec = wf.get("spec") or {}
        slow = self.config.slow_factor if Fault.SLOW in faults else 1.0
        template_ref = (spec.get("workflowTemplateRef") or {}).get("name")
        defaults: dict[str, str] = {}
        suspends: tuple[str, ...] = ()
        if template_ref:
            try:
                template = self._template(meta(wf)["namespace"], template_ref)
            except ApiException as exc:
                if exc.status != 404:
                    raise
                self._patch(
                    wf,
                    {
                        "phase": "Error",
                        "startedAt": now_rfc3339(),
                        "finishedAt": now_rfc3339(),
                        "message": f'workflowtemplates.argoproj.io "{template_ref}" not found',
                    },
                )
                return None
            defaults = _parameters(template.get("spec") or {})
            suspends = _suspends(template.get("spec") or {})
        else:
            suspends = _suspends(spec)
        values = defaults | _parameters(spec)
        text = next((values[n] for n in DURATION_PARAMETERS if values.get(n)), None)
        seconds = (
            parse_duration(text).total_seconds() * self.config.time_scale if text else self.config.workflow_duration
        )
        self._patch(wf, {"phase": "Running", "startedAt": now_rfc3339()})
        return _Run(time.monotonic(), seconds * slow, suspends)

    def _template(self, namespace: str, name: str) -> dict[str, Any]:
        """From the WorkflowTemplates' store (Argo's controller has that informer); the API when it lacks it."""
        stored = self.lookups.get(WORKFLOW_TEMPLATES, namespace, name)
        return stored if stored is not None else self.custom.get(GROUP, VERSION, namespace, "workflowtemplates", name)

    def _patch(self, wf: dict[str, Any], status: dict[str, Any]) -> None:
        self.custom.patch((GROUP, VERSION, "workflows"), wf, {"status": status})


def _parameters(spec: dict[str, Any]) -> dict[str, str]:
    params = (spec.get("arguments") or {}).get("parameters") or []
    return {str(p["name"]): str(p.get("value", "")) for p in params if "name" in p}


def _suspends(spec: dict[str, Any]) -> tuple[str, ...]:
    """The suspend templates that wait for a resume (those with a duration resume themselves)."""
    templates = spec.get("templates") or []
    return tuple(str(t["name"]) for t in templates if "suspend" in t and not (t["suspend"] or {}).get("duration"))


def _suspend_nodes(workflow: str, templates: tuple[str, ...]) -> dict[str, Any]:
    """Argo's status.nodes entries of suspend steps that wait: type Suspend, phase Running."""
    nodes = {}
    for template in templates:
        name = f"{workflow}.{template}"
        node_id = f"{workflow}-{zlib.crc32(name.encode())}"
        nodes[node_id] = {
            "id": node_id,
            "name": name,
            "displayName": template,
            "type": "Suspend",
            "templateName": template,
            "phase": "Running",
            "startedAt": now_rfc3339(),
        }
    return nodes
