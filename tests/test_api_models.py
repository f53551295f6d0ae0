"""The Experiment and Component models: the original's YAML applies unchanged, wire names survive a
round trip, and defaults match the original operator's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml

from api.component import Component, ComponentObservability, ComponentParameter, ComponentSource, ParameterType
from api.experiment import (
    DEFAULT_DEADLINES,
    CleanupPolicy,
    Experiment,
    ExperimentSpec,
    MetricsQuery,
    MetricType,
    QualityGateSpec,
)
from api.validation import check_experiment, parse_object

# The original README's "Experiment Spec" example, comments and all.
TSDB_COMPARISON = """\
apiVersion: experiments.illm.io/v1alpha1
kind: Experiment
metadata:
  generateName: tsdb-comparison-      # K8s appends a unique suffix
  namespace: experiments
spec:
  description: "Prometheus vs VictoriaMetrics"
  tags: ["comparison", "observability", "metrics"]
  publish: true                        # publish results to benchmark site + AI analysis
  ttlDays: 7                           # auto-delete after N days (default: 1)

  targets:
    - name: prometheus                 # deploy target name
      cluster:
        type: gke                      # gke | hub
        preemptible: true              # use preemptible/spot nodes
        # zone: us-central1-a          # GCP zone (optional)
        # machineType: e2-standard-4   # node machine type (optional)
        # nodeCount: 3                 # node count (optional)
        # diskSizeGb: 50              # disk size (optional)
      components:
        - app: kube-prometheus-stack    # resolves to Component CRD by name
          params:                       # override component parameters
            grafana.enabled: "true"
        - app: metrics-app
      observability:
        enabled: true                  # inject Alloy + Tailscale for metrics backhaul
        transport: tailscale           # tailscale | direct
      # depends: [other-target]        # wait for another target to be ready first

  workflow:
    template: experiment-lifecycle      # Argo WorkflowTemplate name
    completion:
      mode: workflow                   # workflow: auto-complete | manual: stay running
    # params:                          # extra workflow parameters
    #   duration: "10m"

  metrics:                             # custom PromQL queries (optional — defaults provided)
    - name: p99_latency
      query: histogram_quantile(0.99, rate(http_duration_seconds_bucket[5m]))
      type: range                      # instant (bar chart) | range (line chart)
      unit: seconds
      description: "P99 request latency"
"""

MINIMAL_SPEC: dict[str, Any] = {
    "targets": [{"name": "app", "cluster": {"type": "gke"}}],
    "workflow": {"template": "hello-app", "completion": {"mode": "workflow"}},
}


def assert_contains(whole: Any, part: Any, path: str = "") -> None:
    """Every key and value of ``part`` is in ``whole`` (defaults may add more)."""
    if isinstance(part, dict):
        assert isinstance(whole, dict), path
        for key, value in part.items():
            assert key in whole, f"{path}.{key} lost"
            assert_contains(whole[key], value, f"{path}.{key}")
    elif isinstance(part, list):
        assert isinstance(whole, list) and len(whole) == len(part), path
        for i, (w, p) in enumerate(zip(whole, part, strict=True)):
            assert_contains(w, p, f"{path}[{i}]")
    else:
        assert whole == part, f"{path}: {whole!r} != {part!r}"


def test_the_original_readme_example_parses_unchanged() -> None:
    doc = yaml.safe_load(TSDB_COMPARISON)

    exp, problems = parse_object(doc)

    assert problems == []
    assert isinstance(exp, Experiment)
    assert exp.spec.targets[0].components is not None
    assert exp.spec.targets[0].components[0].params == {"grafana.enabled": "true"}
    assert exp.spec.metrics is not None and exp.spec.metrics[0].type == MetricType.RANGE
    assert_contains(exp.to_wire(), doc)


def test_the_original_readme_example_is_valid_though_its_claim_exceeded_the_old_gke_limit() -> None:
    """`tsdb-comparison-xxxxx-prometheus` is 32 characters; the original's GKE composition allowed 29 and
    left this example stuck in Provisioning. Derived names now always fit (api.names): nothing to refuse."""
    exp, _ = parse_object(yaml.safe_load(TSDB_COMPARISON))
    assert isinstance(exp, Experiment)

    assert check_experiment(exp, catalog=None) == []


def test_round_trip_keeps_the_wire_names() -> None:
    wire = {
        "apiVersion": "experiments.illm.io/v1alpha1",
        "kind": "Experiment",
        "metadata": {"name": "tsdb-x7k2q", "namespace": "experiments"},
        "spec": {
            **MINIMAL_SPEC,
            "targets": [{"name": "app", "cluster": {"type": "gke", "diskSizeGb": 100, "machineType": "e2-standard-4"}}],
            "qualityGate": {"maxIterations": 2, "minDataCoverage": 0.8},
        },
        "status": {
            "phase": "Complete",
            "resultsURL": "s3://experiment-results/tsdb-x7k2q/",
            "publishPRNumber": 42,
            "publishPRURL": "https://github.com/o/r/pull/42",
            "resourcesCleaned": True,
        },
    }

    exp = Experiment.model_validate(wire)
    out = exp.to_wire()

    assert exp.status is not None and exp.status.publish_pr_number == 42
    assert out["status"]["resultsURL"] == "s3://experiment-results/tsdb-x7k2q/"
    assert out["status"]["publishPRNumber"] == 42
    assert out["status"]["publishPRURL"] == "https://github.com/o/r/pull/42"
    assert out["spec"]["targets"][0]["cluster"] == {"type": "gke", "diskSizeGb": 100, "machineType": "e2-standard-4"}
    assert out["spec"]["qualityGate"]["maxIterations"] == 2
    assert "results_url" not in out["status"] and "disk_size_gb" not in str(out)
    assert Experiment.model_validate(out) == exp


def test_experiment_defaults_match_the_original() -> None:
    spec = ExperimentSpec.model_validate(MINIMAL_SPEC)

    assert spec.ttl_days == 1
    assert spec.publish is False
    assert spec.cleanup_policy == CleanupPolicy.ALWAYS
    assert spec.to_wire()["cleanupPolicy"] == "Always"
    assert MetricsQuery(name="up", query="up").type == MetricType.INSTANT
    gate = QualityGateSpec()
    assert (gate.enabled, gate.max_iterations, gate.recollect_delay_seconds) == (True, 3, 120)
    assert gate.min_data_coverage is None  # the code constant 0.5 applies


def test_component_defaults_match_the_original() -> None:
    source = ComponentSource.model_validate({"repoURL": "https://example.org/charts", "chart": "x"})

    assert source.target_revision == "HEAD"
    assert source.to_wire() == {"repoURL": "https://example.org/charts", "targetRevision": "HEAD", "chart": "x"}
    assert ComponentParameter(name="replicas").type == ParameterType.STRING
    assert ComponentObservability().metrics_path == "/metrics"


def test_component_yaml_with_values_ref_round_trips() -> None:
    doc = {
        "apiVersion": "experiments.illm.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "metrics-agent"},
        "spec": {
            "type": "app",
            "sources": [
                {
                    "repoURL": "https://grafana.github.io/helm-charts",
                    "chart": "alloy",
                    "targetRevision": "0.12.0",
                    "helm": {"releaseName": "alloy", "valuesFiles": ["$values/values.yaml"]},
                },
                {"repoURL": "https://github.com/o/r.git", "targetRevision": "HEAD"},
            ],
        },
    }

    component, problems = parse_object(doc)

    assert problems == []
    assert isinstance(component, Component)
    assert_contains(component.to_wire(), doc)


def test_deadlines_default_per_phase() -> None:
    spec = ExperimentSpec.model_validate(MINIMAL_SPEC)

    assert spec.deadline("provisioning") == timedelta(minutes=60)
    assert spec.deadline("running") == timedelta(hours=4)
    assert spec.deadline("review") == timedelta(hours=12)  # ends before the default ttlDays 1
    assert {phase: spec.deadline(phase) for phase in DEFAULT_DEADLINES} == DEFAULT_DEADLINES


def test_deadlines_can_be_overridden_per_phase() -> None:
    spec = ExperimentSpec.model_validate({**MINIMAL_SPEC, "deadlines": {"provisioning": "1h30m", "cleanup": "90s"}})

    assert spec.deadline("provisioning") == timedelta(hours=1, minutes=30)
    assert spec.deadline("cleanup") == timedelta(seconds=90)
    assert spec.deadline("deploying") == DEFAULT_DEADLINES["deploying"]


def test_unknown_deadline_phase_is_a_programming_error() -> None:
    spec = ExperimentSpec.model_validate(MINIMAL_SPEC)

    with pytest.raises(KeyError):
        spec.deadline("teatime")


def test_parse_object_is_as_strict_as_the_api_server() -> None:
    """pydantic alone would turn "7" into 7; the API server would reject it, and so do we."""
    doc = {"apiVersion": "experiments.illm.io/v1alpha1", "kind": "Experiment", "metadata": {"generateName": "x-"}}
    lax = {**doc, "spec": {**MINIMAL_SPEC, "ttlDays": "7", "publish": "true"}}

    assert ExperimentSpec.model_validate(lax["spec"]).ttl_days == 7
    exp, problems = parse_object(lax)

    assert exp is None
    assert [p.path for p in problems] == ["spec.publish", "spec.ttlDays"]


def test_parse_object_rejects_snake_case_field_names() -> None:
    doc = {
        "apiVersion": "experiments.illm.io/v1alpha1",
        "kind": "Experiment",
        "metadata": {"generateName": "x-"},
        "spec": {**MINIMAL_SPEC, "ttl_days": 3},
    }

    exp, problems = parse_object(doc)

    assert exp is None
    assert [p.render() for p in problems] == ["spec.ttl_days: unknown field — fix: use the camelCase name `ttlDays`"]
