"""``summary.json``: the one document per experiment that the site, the report, the PR and the analyzer read.

The original's fields and order are kept (seed §3.6), so existing site pages render. Added, because
users asked "why did it pass/fail?" and "which run was this?": a run ``uuid``; the full ``parameters``
(the spec as submitted); the Temporal ``workflowId``/``runId``; for every success criterion the query,
actual value (per target too), threshold and outcome; the verdict's explanation; per-metric statistics;
the phase ``timeline``; the status conditions; and where the report lives.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from statistics import fmean
from typing import Any

from activities.contracts import ExperimentRef
from activities.results import judgement
from activities.results.contracts import CriterionResult
from activities.results.cost_estimate import estimate
from activities.results.metrics_snapshot import MetricsSnapshot
from api.experiment import ExperimentSpec, ExperimentStatus, HypothesisSpec


def run_uuid(experiment: ExperimentRef, workflow_run_id: str) -> str:
    """Stable across activity retries, unique per run (uid + Temporal run) for comparing runs later."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"illm.io/{experiment.uid}/{workflow_run_id}"))


def _time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def metric_statistics(snapshot: MetricsSnapshot) -> dict[str, dict[str, dict[str, float]]]:
    """``{metric: {target: {count, min, max, mean, last}}}``: the numbers people quote and the analyzer reads."""
    stats: dict[str, dict[str, dict[str, float]]] = {}
    for target, block in snapshot.targets.items():
        for name, result in block.queries.items():
            if not result.has_data or not result.data:
                continue
            values = [p.value for p in result.data]
            latest = max(result.data, key=lambda p: p.timestamp).timestamp
            last = fmean(p.value for p in result.data if p.timestamp == latest)
            stats.setdefault(name, {})[target] = {
                "count": len(values),
                "min": min(values),
                "max": max(values),
                "mean": fmean(values),
                "last": last,
            }
    return stats


def hypothesis_block(
    spec_hypothesis: HypothesisSpec | None, criteria: list[CriterionResult], snapshot: MetricsSnapshot | None
) -> dict[str, Any] | None:
    """The claim plus, per criterion, query/actual/threshold/outcome; ``machineVerdict`` from ``judgement``."""
    if spec_hypothesis is None:
        return None
    values = {c.metric: c.actual for c in criteria if c.actual is not None}
    if not criteria and snapshot is not None:
        values = snapshot.representative_values()
    verdict = judgement.evaluate(spec_hypothesis, values)
    per_target = snapshot.representative_values() if snapshot else {}
    rows = []
    for spec_criterion, result in zip(spec_hypothesis.success_criteria or [], verdict.criteria, strict=False):
        query = snapshot.queries.get(result.metric) if snapshot else None
        row: dict[str, Any] = {
            "metric": result.metric,
            "operator": result.operator,
            "value": result.threshold,
            "description": spec_criterion.description,
            "query": query.query if query else None,
            "unit": query.unit if query else None,
            "passed": result.passed,
            "actualValue": repr(result.actual) if result.actual is not None else None,
            "outcome": _outcome(result),
        }
        targets = {k.split("/", 1)[0]: v for k, v in per_target.items() if k.endswith(f"/{result.metric}")}
        if len(targets) > 1:
            row["actualPerTarget"] = targets
        rows.append({k: v for k, v in row.items() if v is not None})
    block: dict[str, Any] = {
        "claim": spec_hypothesis.claim,
        "questions": spec_hypothesis.questions or [],
        "focus": spec_hypothesis.focus or [],
        "successCriteria": rows,
    }
    if verdict.verdict is not None:
        block["machineVerdict"] = str(verdict.verdict)
        block["verdictMessage"] = verdict.message
    return block


def _outcome(result: CriterionResult) -> str:
    if result.passed is True:
        return "passed"
    if result.passed is False:
        return "failed"
    try:
        float(result.threshold)
    except ValueError:
        return "invalid-threshold"
    return "no-data"


def build_summary(
    *,
    experiment: ExperimentRef,
    spec: ExperimentSpec,
    status: ExperimentStatus,
    snapshot: MetricsSnapshot | None,
    criteria: list[CriterionResult],
    workflow_id: str,
    workflow_run_id: str,
    now: datetime,
) -> dict[str, Any]:
    created = experiment.creation_timestamp
    completed = status.completed_at or now
    targets_status = {t.name: t for t in status.targets or []}
    summary: dict[str, Any] = {
        "name": experiment.name,
        "title": spec.title,
        "namespace": experiment.namespace,
        "uid": experiment.uid,
        "description": spec.description or "",
        "createdAt": _time(created),
        "completedAt": _time(completed),
        "durationSeconds": round((completed - created).total_seconds(), 3),
        "phase": str(status.phase) if status.phase else None,
        "tags": spec.tags,
        "series": spec.series,
        "uuid": run_uuid(experiment, workflow_run_id),
        "temporal": {"workflowId": workflow_id, "runId": workflow_run_id},
        "hypothesis": hypothesis_block(spec.hypothesis, criteria, snapshot),
        "analyzerConfig": spec.analyzer_config.to_wire() if spec.analyzer_config else None,
        "targets": [
            _target(t.name, t.cluster.to_wire(), targets_status.get(t.name), t.components) for t in spec.targets
        ],
        "workflow": _workflow(spec, status),
        "metrics": snapshot.to_json_dict() if snapshot else None,
        "metricStatistics": metric_statistics(snapshot) if snapshot else None,
        "costEstimate": estimate(spec, created, completed).to_json_dict(),
        "iterationStatus": status.iteration_status.to_wire() if status.iteration_status else None,
        "timeline": [t.to_wire() for t in status.timeline or []],
        "conditions": [c.to_wire() for c in status.conditions or []],
        "parameters": spec.to_wire(),
    }
    return {k: v for k, v in summary.items() if v is not None}


def _target(name: str, cluster: dict[str, Any], status: Any, components: Any) -> dict[str, Any]:
    row = {
        "name": name,
        "clusterName": getattr(status, "cluster_name", None),
        "clusterType": cluster.get("type"),
        "machineType": getattr(status, "machine_type", None)
        or cluster.get("machineType")
        or cluster.get("instanceType")
        or cluster.get("vmSize"),
        "nodeCount": getattr(status, "node_count", None) or cluster.get("nodeCount"),
        "components": getattr(status, "components", None) or [c.component_name for c in components or []] or None,
    }
    return {k: v for k, v in row.items() if v is not None}


def _workflow(spec: ExperimentSpec, status: ExperimentStatus) -> dict[str, Any]:
    wf = status.workflow_status
    row = {
        "name": wf.name if wf else "",
        "template": spec.workflow.template,
        "phase": wf.phase if wf else None,
        "startedAt": _time(wf.started_at) if wf else None,
        "finishedAt": _time(wf.finished_at) if wf else None,
    }
    return {k: v for k, v in row.items() if v is not None}
