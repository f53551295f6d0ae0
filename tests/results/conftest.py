"""Shared pieces of the results-pipeline specifications: settings pointing at the real local servers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from activities.contracts import ExperimentRef
from activities.settings import ResultsSettings
from api.experiment import ExperimentSpec
from labctl.seaweedfs import S3Endpoint


def make_settings(**overrides: Any) -> ResultsSettings:
    """Settings independent of the developer's environment: no GitHub, no Claude, no hub metrics unless given."""
    values: dict[str, Any] = {
        "metrics_url": "",
        "github_token": "",
        "anthropic_api_key": "",
        "s3_write_attempts": 2,
        "s3_retry_initial_seconds": 0.05,
        "metrics_query_attempts": 2,
        "analyzer_retry_initial_seconds": 0.01,
        "github_seconds_between_writes": 0,
        "github_seconds_between_requests": 0,
    }
    values.update(overrides)
    return ResultsSettings(_env_file=None, **values)


@pytest.fixture
def s3_settings(s3_server: S3Endpoint, s3_bucket: str) -> ResultsSettings:
    return make_settings(
        s3_endpoint=s3_server.url,
        s3_bucket=s3_bucket,
        s3_access_key=s3_server.access_key,
        s3_secret_key=s3_server.secret_key,
    )


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in ("GITHUB_TOKEN", "ANTHROPIC_API_KEY", "METRICS_URL", "S3_ENDPOINT", "S3_BUCKET"):
        monkeypatch.delenv(key, raising=False)
    yield


def experiment_ref(name: str, minutes_ago: float = 10.0) -> ExperimentRef:
    return ExperimentRef(
        namespace="experiments",
        name=name,
        uid="0b6c0a52-6d1f-4d0e-9a59-3f0b0f6f2a11",
        creation_timestamp=datetime.now(UTC) - timedelta(minutes=minutes_ago),
    )


def comparison_spec(**overrides: Any) -> ExperimentSpec:
    """Two GKE targets compared on request rate and latency, with success criteria on both metrics."""
    doc: dict[str, Any] = {
        "title": "Gateway comparison",
        "description": "Which gateway is faster?",
        "publish": True,
        "targets": [
            {"name": "app", "cluster": {"type": "gke", "machineType": "e2-standard-4", "preemptible": True}},
            {"name": "loadgen", "cluster": {"type": "gke", "machineType": "e2-standard-2", "nodeCount": 2}},
        ],
        "workflow": {"template": "gw", "completion": {"mode": "workflow"}},
        "metrics": [
            {
                "name": "request_rate",
                "query": 'sum(bench_rps{experiment="$EXPERIMENT"})',
                "type": "instant",
                "unit": "req/s",
                "description": "Requests per second",
            },
            {
                "name": "latency_p99",
                "query": 'max by (pod) (bench_p99{experiment="${EXPERIMENT}",namespace="$NAMESPACE"})',
                "type": "range",
                "unit": "s",
                "description": "p99 latency",
            },
        ],
        "hypothesis": {
            "claim": "The gateway sustains 100 req/s under 0.5 s p99",
            "successCriteria": [
                {"metric": "request_rate", "operator": "gte", "value": "100"},
                {"metric": "latency_p99", "operator": "lt", "value": "0.5"},
            ],
        },
    }
    doc.update(overrides)
    return ExperimentSpec.model_validate(doc)
