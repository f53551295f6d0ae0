"""The Alloy configuration the metrics-agent runs with, rendered from the repository's values and the
Helm parameters the platform injects: each transport's agent writes to that transport's URL."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from activities.deploy.component_sources import argocd_sources
from activities.deploy.observability import EGRESS_WRITE_URL, obs_refs
from activities.settings import ActivitySettings
from api.component import Component
from api.experiment import Target
from api.validation import parse_object
from labsim import alloy

REPO = Path(__file__).resolve().parents[2]
DIRECT_URL = "https://vm-write.hub.example.com/api/v1/write"


def metrics_agent() -> Component:
    component, problems = parse_object(
        yaml.safe_load((REPO / "components/observability/metrics-agent/component.yaml").read_text())
    )
    assert isinstance(component, Component), problems
    return component


def rendered_agent(transport: str) -> alloy.AlloyAgent:
    target = Target.model_validate(
        {"name": "app", "cluster": {"type": "gke"}, "observability": {"enabled": True, "transport": transport}}
    )
    settings = ActivitySettings(metrics_direct_write_url=DIRECT_URL)
    [agent_ref] = [r for r in obs_refs("exp-1", target, settings) if r.app == "metrics-agent"]
    [chart] = [s for s in argocd_sources(metrics_agent(), agent_ref.params) if s.get("chart") == "alloy"]
    return alloy.render(chart, REPO)


@pytest.mark.parametrize(("transport", "url"), [("tailscale", EGRESS_WRITE_URL), ("direct", DIRECT_URL)])
def test_each_transport_writes_to_its_url(transport: str, url: str) -> None:
    agent = rendered_agent(transport)
    assert agent.remote_write_urls == [url]
    assert agent.env["EXPERIMENT_NAME"] == "exp-1"
    assert 'experiment = "exp-1"' in agent.config
