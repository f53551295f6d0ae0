"""The shipped catalog: components/ and experiments/ are valid, complete and consistent with each other."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.experiment import INLINE_WORKFLOW_TEMPLATE
from api.validation import PLATFORM_WORKFLOW_PARAMS

REPO = Path(__file__).resolve().parents[2]
CATEGORIES = {"apps", "chaos", "core", "messaging", "observability", "storage", "testing", "workflows"}
# Component names of the original (seed-behaviour §8): users' Experiments refer to them by name.
ORIGINAL_COMPONENTS = {
    "apps": [
        "cardinality-generator", "db-benchmark-loadgen", "db-disk-bench-loadgen", "db-storage-bench-loadgen",
        "demo-app", "hello-app", "log-generator", "metrics-app", "naive-db", "naive-db-disk-bench",
        "naive-db-fsync", "naive-db-nosync", "naive-db-storage-bench", "nginx", "otel-demo", "station-monitor",
    ],
    "chaos": ["chaos-mesh"],
    "core": [
        "envoy-gateway", "nginx-ingress", "tailscale-operator", "traefik", "argocd", "cert-manager", "gateway-api",
    ],
    "messaging": ["kafka", "rabbitmq", "strimzi-operator"],
    "observability": [
        "elasticsearch", "fluent-bit", "jaeger", "kibana", "kube-prometheus-stack", "loki", "metrics-agent",
        "metrics-egress", "mimir", "otel-collector", "promtail", "pyrra", "seaweedfs", "tempo", "victoria-metrics",
        "eck-operator", "elk-stack", "prometheus-stack",
    ],
    "storage": ["minio"],
    "testing": ["k6-gateway-loadtest", "k6"],
    "workflows": ["argo-workflows"],
}  # fmt: skip
# The original's Experiments (seed-behaviour §8): generateName, the WorkflowTemplate they name, completion mode.
# Users have these files; ours are the same objects, so theirs find the templates we ship.
ORIGINAL_EXPERIMENTS = {
    "db-disk-comparison": ("db-dsc-", "db-disk-comparison-validation", "workflow"),
    "db-fsync-vs-memory": ("db-fvm-", "db-fsync-vs-memory-validation", "workflow"),
    "db-storage-tiers": ("db-st-", "db-storage-tiers-validation", "workflow"),
    "gateway-comparison": ("gw-comp-", "gateway-comparison-validation", "workflow"),
    "tsdb-comparison": ("tsdb-comparison-", "tsdb-comparison-validation", "workflow"),
    "logging-comparison": ("logging-comparison-", "logging-comparison-v3", "workflow"),
    "tracing-comparison": ("tracing-comparison-", "tracing-comparison-validation", "workflow"),
    "ui-showcase": ("ui-showcase-", "ui-showcase-validation", "workflow"),
    "hello-app": ("hello-app-", "hello-app-validation", "workflow"),
    "elk-tutorial": ("elk-tutorial-", "elk-validation", "manual"),
    "gateway-tutorial": ("gateway-tutorial-", "gateway-validation", "manual"),
    "loki-tutorial": ("loki-tutorial-", "loki-validation", "manual"),
    "observability-cost-tutorial": ("observability-cost-tutorial-", "observability-cost-validation", "manual"),
    "otel-tutorial": ("otel-tutorial-", "otel-validation", "manual"),
    "prometheus-tutorial": ("prometheus-tutorial-", "prometheus-validation", "manual"),
    "seaweedfs-tutorial": ("seaweedfs-tutorial-", "seaweedfs-validation", "manual"),
    "slo-tutorial": ("slo-tutorial-", "slo-validation", "manual"),
}
# What each of the original's comparisons measured (its questions: latency, throughput, resource use, disk
# and fsync behaviour, footprint ...), as the metric each of ours must have to answer it.
ORIGINAL_MEASUREMENTS = {
    "db-disk-comparison": ["hdd_write_p99", "fsync_p99_by_disk", "write_throughput_by_disk", "disk_write_iops_by_disk",
                           "disk_busy_by_disk", "hdd_cpu", "cluster_cpu", "cluster_memory"],
    "db-fsync-vs-memory": ["fsync_write_p99", "write_p50_by_mode", "fsync_p99_by_mode", "write_throughput_by_mode",
                           "read_p99_by_mode", "read_throughput_by_mode", "fsync_cpu", "fsync_memory", "cluster_cpu"],
    "db-storage-tiers": ["balanced_tier_write_p99", "fsync_p99_by_tier", "write_throughput_by_tier",
                         "read_throughput_by_tier", "disk_write_iops_by_tier", "hyperdisk_tier_cpu", "cluster_memory"],
    "gateway-comparison": ["nginx_ingress_cpu", "envoy_gateway_memory", "cluster_cpu"],
    "tsdb-comparison": ["prometheus_cpu", "victoria_metrics_memory", "prometheus_pods", "victoria_metrics_pods",
                        "cluster_cpu", "cluster_memory"],
    "logging-comparison": ["loki_cpu", "elasticsearch_memory", "loki_disk_bytes", "elasticsearch_disk_bytes",
                           "cluster_cpu"],
    "ui-showcase": ["cpu_by_pod", "memory_by_pod", "cluster_cpu", "cluster_memory", "monitoring_cpu_peak",
                    "station_monitor_peak_memory", "pod_count", "container_restarts"],
}  # fmt: skip
REQUIRED_SCENARIOS = (
    "hello-app", "prometheus-tutorial", "loki-tutorial", "tsdb-comparison", "gateway-comparison",
    "logging-comparison", "tracing-comparison", "otel-tutorial", "slo-tutorial", "observability-cost-tutorial",
    "seaweedfs-tutorial", "cicd-fundamentals", "http-baseline",
)  # fmt: skip


def _load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), path
    return doc


def _components() -> dict[str, tuple[str, dict[str, Any]]]:
    """name → (category, Component body)."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in sorted((REPO / "components").glob("*/*/component.yaml")):
        body = _load(path)
        name = body["metadata"]["name"]
        assert name not in found, f"{name} is declared twice"
        assert path.parent.name == name, f"{path}: directory and metadata.name differ"
        found[name] = (path.parent.parent.name, body)
    return found


def _scenarios() -> list[Path]:
    return sorted(p for p in (REPO / "experiments").iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


SCENARIOS = _scenarios()


def _shipped_templates() -> dict[str, Path]:
    shipped: dict[str, Path] = {}
    for path in sorted((REPO / "experiments").glob("*/workflow/template.yaml")):
        body = _load(path)
        assert body["kind"] == "WorkflowTemplate" and body["metadata"]["namespace"] == "argo-workflows", path
        name = body["metadata"]["name"]
        assert name not in shipped, f"WorkflowTemplate {name!r} is shipped twice: {shipped.get(name)} and {path}"
        shipped[name] = path
    return shipped


def test_every_template_an_experiment_in_experiments_references_is_shipped() -> None:
    referenced: dict[str, list[str]] = {}
    for path in sorted((REPO / "experiments").rglob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "Experiment":
                template = doc["spec"]["workflow"]["template"]
                referenced.setdefault(template, []).append(str(path.relative_to(REPO)))
    shipped = _shipped_templates()
    missing = {t: files for t, files in referenced.items() if t not in shipped and t != INLINE_WORKFLOW_TEMPLATE}
    assert not missing, f"referenced but not shipped: {missing}"
    assert len(referenced) >= len(ORIGINAL_EXPERIMENTS)


@pytest.mark.parametrize("scenario", sorted(ORIGINAL_EXPERIMENTS))
def test_scenario_is_the_original_experiment_with_its_template_name(scenario: str) -> None:
    generate_name, template, mode = ORIGINAL_EXPERIMENTS[scenario]
    exp = _load(REPO / "experiments" / scenario / "experiment.yaml")
    spec = exp["spec"]
    assert exp["metadata"] == exp["metadata"] | {"generateName": generate_name, "namespace": "experiments"}
    assert spec["workflow"]["template"] == template
    assert template in _shipped_templates()
    assert spec["workflow"]["completion"]["mode"] == mode
    assert bool(spec.get("tutorial")) == (mode == "manual"), "the original's tutorials carry a tutorial block"
    for target in spec["targets"]:
        assert target["cluster"] == target["cluster"] | {"type": "gke", "preemptible": True}, target["name"]
        assert target.get("observability") == {"enabled": True, "transport": "tailscale"}, target["name"]


def test_validate_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "labctl", "validate", "experiments", "components"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert " 0 errors" in summary, result.stdout
    warnings = [line for line in result.stdout.splitlines()[:-1] if line.strip()]
    if warnings:  # allowed, but listed so they are seen
        print("labctl validate warnings:\n" + "\n".join(warnings))


def test_at_least_42_components_in_exactly_the_eight_categories() -> None:
    components = _components()
    categories = {p.name for p in (REPO / "components").iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert categories == CATEGORIES
    assert len(components) >= 42
    per_category = {c: sum(1 for cat, _ in components.values() if cat == c) for c in CATEGORIES}
    assert all(n >= 1 for n in per_category.values()), per_category


def test_original_component_names_are_kept_in_their_categories() -> None:
    components = _components()
    for category, names in ORIGINAL_COMPONENTS.items():
        for name in names:
            assert name in components, f"original component {name!r} is missing"
            assert components[name][0] == category, f"{name} should be under components/{category}/"


def test_components_document_sources_parameters_and_observability() -> None:
    for name, (_, body) in _components().items():
        spec = body["spec"]
        assert spec.get("description"), name
        assert spec.get("sources"), name
        for source in spec["sources"]:
            if source.get("chart"):
                assert source.get("targetRevision") not in (None, "HEAD", "latest"), f"{name}: chart not pinned"
        for param in spec.get("parameters") or []:
            assert param.get("type") in ("string", "int", "bool") and param.get("description"), (name, param)
        if name not in ("gateway-api", "metrics-egress"):  # plain manifests / a Service: nothing to scrape
            assert spec.get("observability"), f"{name}: no observability hints"


def test_repository_paths_of_components_exist() -> None:
    for name, (_, body) in _components().items():
        for source in body["spec"]["sources"]:
            if "illMadeCoder/k8s-ai-cloud-testbed" in source["repoURL"] and source.get("path"):
                chart_dir = REPO / source["path"]
                assert chart_dir.is_dir(), f"{name}: {source['path']} does not exist"
                if source.get("helm"):
                    assert (chart_dir / "Chart.yaml").is_file(), f"{name}: {source['path']} is not a chart"
                for dep in _load(chart_dir / "Chart.yaml").get("dependencies") or [] if source.get("helm") else []:
                    local = str(dep.get("repository", ""))
                    if local.startswith("file://"):
                        assert (chart_dir / local.removeprefix("file://") / "Chart.yaml").is_file(), (name, local)


def test_at_least_15_scenarios_including_the_originals() -> None:
    names = {p.name for p in SCENARIOS}
    assert len(names) >= 15
    assert set(REQUIRED_SCENARIOS) <= names, set(REQUIRED_SCENARIOS) - names


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_scenario_folder_is_complete(scenario: Path) -> None:
    for part in ("experiment.yaml", "README.md", "workflow/template.yaml"):
        assert (scenario / part).is_file(), f"{scenario.name}: {part} missing"
    exp = _load(scenario / "experiment.yaml")
    assert exp["kind"] == "Experiment"
    assert exp["metadata"].get("generateName") and not exp["metadata"].get("name"), "use generateName"
    readme = (scenario / "README.md").read_text()
    assert "**Question:**" in readme
    for heading in ("## What gets deployed", "## How to run it", "## What to expect"):
        assert heading in readme, f"{scenario.name}/README.md: no {heading!r}"
    spec = exp["spec"]
    if spec["workflow"]["completion"]["mode"] == "manual":
        assert spec.get("tutorial"), f"{scenario.name}: manual mode without a tutorial block"
        pages = subprocess.run(
            [sys.executable, "-m", "labctl", "tutorial", "--file", str(scenario / "tutorial.yaml"), "x", "--page", "1"],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
            env={"KUBECONFIG": "/nonexistent", "PATH": "/usr/bin:/bin"},
        )
        assert pages.returncode == 0, pages.stdout + pages.stderr
    if spec.get("publish") and "comparison" in spec.get("tags", []):
        criteria = (spec.get("hypothesis") or {}).get("successCriteria") or []
        assert criteria, f"{scenario.name}: a comparison needs machine-checkable success criteria"
        metric_names = {m["name"] for m in spec.get("metrics") or []}
        assert {c["metric"] for c in criteria} <= metric_names


@pytest.mark.parametrize("scenario", sorted(ORIGINAL_MEASUREMENTS))
def test_comparison_measures_what_the_original_measured(scenario: str) -> None:
    spec = _load(REPO / "experiments" / scenario / "experiment.yaml")["spec"]
    names = {m["name"] for m in spec["metrics"]}
    assert set(ORIGINAL_MEASUREMENTS[scenario]) <= names, sorted(set(ORIGINAL_MEASUREMENTS[scenario]) - names)
    readme = (REPO / "experiments" / scenario / "README.md").read_text()
    assert "## The original's questions" in readme, "say where each of the original's questions is answered"
    for name in names:
        assert f"`{name}`" in readme, f"{scenario}/README.md does not describe metric {name}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_template_named_by_scenario_exists_and_declares_platform_parameters(scenario: Path) -> None:
    spec = _load(scenario / "experiment.yaml")["spec"]
    templates = {name: _load(path) for name, path in _shipped_templates().items()}
    name = spec["workflow"]["template"]
    assert name in templates, f"{scenario.name}: WorkflowTemplate {name!r} does not exist"
    declared = {p["name"] for p in templates[name]["spec"]["arguments"]["parameters"]}
    passed = set(PLATFORM_WORKFLOW_PARAMS) | {"duration"} | set(spec["workflow"].get("params") or {})
    for target in spec["targets"]:
        if target["cluster"]["type"] != "hub":
            passed |= {f"{target['name']}-endpoint", f"{target['name']}-name"}
    assert passed <= declared, f"{name}: does not declare {sorted(passed - declared)}"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_components_referenced_by_scenario_exist(scenario: Path) -> None:
    components = _components()
    spec = _load(scenario / "experiment.yaml")["spec"]
    for target in spec["targets"]:
        for ref in target.get("components") or []:
            name = ref.get("app") or ref.get("workflow") or ref.get("config")
            assert name in components, f"{scenario.name}: no Component {name!r}"
