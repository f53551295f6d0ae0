"""The dashboard in platform/ and the scrape objects in deploy/monitoring/ point at what the processes
really serve: metric names the gateway registers or the worker's SDK exports, and the Services' ports."""

from __future__ import annotations

import json
import re

from prometheus_client import REGISTRY

import crd_gateway.metrics  # noqa: F401 - registers the gateway's metrics
from tests.deploy.conftest import PLATFORM, REPO, by_kind, parse

DASHBOARD = PLATFORM / "dashboards" / "experiment-system.json"
WORKER_SDK_METRICS = {
    # Seen on a worker's /metrics after an activity ran (tests/worker/test_worker_process.py checks them);
    # the failure counter appears once an activity failed.
    "temporal_workflow_task_execution_latency",
    "temporal_workflow_task_schedule_to_start_latency",
    "temporal_activity_execution_latency",
    "temporal_activity_schedule_to_start_latency",
    "temporal_activity_execution_failed",
    "temporal_worker_task_slots_available",
}


def dashboard_metrics() -> set[str]:
    exprs = [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"]]
    names = {m for e in exprs for m in re.findall(r"\b((?:crd_gateway|temporal)_[a-z_]+)", e)}
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in names}


def test_dashboard_shows_phases_activity_latency_failures_and_workflow_task_latency() -> None:
    titles = " | ".join(p["title"] for p in json.loads(DASHBOARD.read_text())["panels"])
    for wanted in ("Experiments by phase", "Activity latency", "Activity failures", "Workflow task latency"):
        assert wanted in titles


def test_every_dashboard_metric_is_one_the_processes_export() -> None:
    gateway = {m.name for m in REGISTRY.collect() if m.name.startswith("crd_gateway_")}
    gateway |= {f"{name}_total" for name in gateway}  # counters are registered without the suffix
    unknown = {m for m in dashboard_metrics() if m not in gateway | WORKER_SDK_METRICS}
    assert unknown == set(), f"the dashboard queries metrics nothing exports: {sorted(unknown)}"


def test_scrape_objects_select_both_services_on_their_metrics_port() -> None:
    scrapes = parse((REPO / "deploy" / "monitoring" / "scrape.yaml").read_text())
    assert {doc["kind"] for doc in scrapes} == {"ServiceMonitor", "VMServiceScrape"}
    services = parse((REPO / "deploy" / "base" / "worker.yaml").read_text()) + parse(
        (REPO / "deploy" / "base" / "gateway.yaml").read_text()
    )
    for scrape in scrapes:
        (expression,) = scrape["spec"]["selector"]["matchExpressions"]
        selected = [
            s
            for s in by_kind(services, "Service").values()
            if s["metadata"]["labels"].get(expression["key"]) in expression["values"]
        ]
        assert {s["metadata"]["labels"]["app.kubernetes.io/name"] for s in selected} == {
            "crd-gateway",
            "experiment-worker",
        }
        (endpoint,) = scrape["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        for service in selected:
            assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
