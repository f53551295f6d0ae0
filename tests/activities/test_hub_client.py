"""The worker's one hub client, shared by every activity running at once."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from kubernetes import client

from activities.kube import hub_client
from activities.settings import ActivitySettings
from tests.fixtures.kube import KubeCluster


@pytest.mark.kube
def test_concurrent_activities_reuse_their_hub_connections(kube: KubeCluster, caplog: pytest.LogCaptureFixture) -> None:
    """With urllib3's default pool (5 per core) 40 threads at once opened connections only to discard
    them ("Connection pool is full"), each a new TLS handshake next time: 471 in 8 minutes of the soak."""
    with hub_client(ActivitySettings(hub_kubeconfig=kube.kubeconfig)) as api:
        core = client.CoreV1Api(api)
        with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"), ThreadPoolExecutor(40) as pool:
            list(pool.map(lambda _: core.list_namespace(limit=1), range(400)))
    assert not [r.getMessage() for r in caplog.records if "Connection pool is full" in r.getMessage()]
