"""One embedded lab for the whole resilience suite, started in-process so tests can kill and restart its parts.

The worker talks to local GitHub and Claude fakes (so publish/analysis storms can be injected), gives up
on a claim in ReconcileError after 2 s instead of 5 min; everything else is the lab
as ``labctl lab up`` runs it. Helpers here observe from the outside only: the Experiment's status, every
claim ever ADDED (by uid), every object on the hub labelled with an experiment, every Temporal history.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import yaml
from kubernetes import client

from activities.clusters.claims import CLAIM_GROUP, CLAIM_KINDS, CLAIM_VERSION
from api.names import Identity, results_prefix, workflow_id
from bench.common import Watcher
from labctl import kube
from labctl.lab.stack import LabStack
from labctl.lab.state import LabState, choose_ports
from labsim.config import FAULT_ANNOTATION
from runtime.kube import ClusterChoice
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.github_server import FakeGitHub
from tests.fixtures.eventually import eventually
from tests.fixtures.process import BINARIES, find_binary

REPO = Path(__file__).resolve().parents[2]
HELLO_APP = REPO / "experiments" / "hello-app" / "experiment.yaml"
NAMESPACE = "experiments"
TIME_SCALE = 0.5
RESULTS_REPO = "lab/results"
Obj = dict[str, Any]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "resilience: kills, restarts and faults against a whole embedded lab")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks everything here ``resilience``; the soak runs only when asked for (``-m soak``, ``make soak``)."""
    here = Path(__file__).parent
    markexpr = config.option.markexpr or ""
    soak_selected = "soak" in markexpr and "not soak" not in markexpr
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.resilience)
        if item.get_closest_marker("soak") and not soak_selected:
            item.add_marker(pytest.mark.skip(reason="the soak runs only with -m soak (make soak)"))


EXPERIMENT_LABELS = ("experiments.illm.io/experiment", "experiment")
"""The two label keys that name an experiment on the hub's objects."""
RESTARTING = (Exception,)
"""What ``eventually`` tolerates here: a server being killed or restarted answers with errors for a while."""


class ClaimLog:
    """Every claim uid of the run, per claim name; a second uid would mean a second cluster.

    One ``bench.common.Watcher`` per claim kind: a watch resumed from its last resourceVersion, so a
    claim created and deleted between two watch connections is still seen; only after a 410 (the API
    server restarted, history compacted) does it list again.
    """

    def __init__(self, state: LabState) -> None:
        self.uids: dict[str, set[str]] = defaultdict(set)
        self._watchers = [
            Watcher(state, CLAIM_GROUP, CLAIM_VERSION, kind.plural, self._seen) for kind in CLAIM_KINDS.values()
        ]
        for watcher in self._watchers:
            watcher.start()
        for watcher in self._watchers:
            watcher.synced.wait(30)

    def _seen(self, now: float, event: str, obj: Obj) -> None:
        if event in ("ADDED", "LISTED"):
            self.uids[obj["metadata"]["name"]].add(obj["metadata"]["uid"])

    def created(self, experiment: str) -> dict[str, set[str]]:
        return {name: uids for name, uids in self.uids.items() if name.startswith(f"{experiment}-")}

    def stop(self) -> None:
        for watcher in self._watchers:
            watcher.stop()


class ResilienceLab:
    def __init__(self, stack: LabStack, github: FakeGitHub, anthropic: FakeAnthropic) -> None:
        self.stack = stack
        self.state = stack.state
        self.github = github
        self.anthropic = anthropic
        self.api_client = kube.connect(ClusterChoice(explicit=str(self.state.kubeconfig)))
        self.custom = client.CustomObjectsApi(self.api_client)
        self.claims = ClaimLog(self.state)

    # ---------------------------------------------------------------- experiments

    def create(
        self,
        prefix: str,
        *,
        duration: str = "6s",
        faults: tuple[str, ...] = (),
        change: Callable[[Obj], None] | None = None,
    ) -> str:
        body = self.experiment_body(prefix, duration=duration, faults=faults)
        if change:
            change(body)
        created: Obj = self.custom.create_namespaced_custom_object(  # type: ignore[assignment]  # the client is untyped
            "experiments.illm.io", "v1alpha1", NAMESPACE, "experiments", body
        )
        return str(created["metadata"]["name"])

    @staticmethod
    def experiment_body(prefix: str, *, duration: str = "6s", faults: tuple[str, ...] = ()) -> Obj:
        body: Obj = yaml.safe_load(HELLO_APP.read_text())
        body["metadata"]["generateName"] = f"{prefix}-"
        if faults:
            body["metadata"]["annotations"] = {FAULT_ANNOTATION: ",".join(faults)}
        body["spec"]["workflow"]["params"] = {"duration": duration}
        return body

    def get(self, name: str) -> Obj | None:
        try:
            obj: Obj = self.custom.get_namespaced_custom_object(  # type: ignore[assignment]  # the client is untyped
                "experiments.illm.io", "v1alpha1", NAMESPACE, "experiments", name
            )
            return obj
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def status(self, name: str) -> Obj:
        obj = self.get(name) or {}
        return dict(obj.get("status") or {})

    def wait_for(self, name: str, check: Callable[[Obj], bool], timeout: float, what: str) -> Obj:
        seen: list[Obj] = [{}]

        def reached() -> Obj | None:
            seen[0] = self.status(name)
            return seen[0] if seen[0] and check(seen[0]) else None

        try:
            return dict(eventually(reached, timeout, f"{name}: {what}", tolerate=RESTARTING))
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last status: {status_summary(seen[0])}") from None

    def wait_final(self, name: str, phase: str, timeout: float = 180) -> Obj:
        """The final phase with cleanup reported: ``resourcesCleaned`` is written after the cleanup step."""
        status = self.wait_for(
            name,
            lambda s: (
                s.get("phase") in ("Complete", "Failed")
                and (s.get("resourcesCleaned") is not None or not _provisioned(s))
            ),
            timeout,
            f"phase {phase} with cleanup done",
        )
        assert status["phase"] == phase, status_summary(status)
        return status

    def results_url(self, name: str) -> str:
        """Where this Experiment object's results belong (api.names): its own prefix, never a namesake's."""
        obj = self.get(name)
        assert obj is not None
        meta = obj["metadata"]
        return f"s3://experiment-results/{results_prefix(Identity(meta['namespace'], meta['name'], meta['uid']))}"

    def workflow_id(self, name: str) -> str:
        obj = self.get(name)
        assert obj is not None
        meta = obj["metadata"]
        return workflow_id(meta["namespace"], meta["name"], meta["uid"])

    # ---------------------------------------------------------------- what is left

    def leftovers(self, experiment: str) -> list[str]:
        """Every object of every listable kind on the hub labelled with the experiment (either spelling)."""
        return self.leftovers_of({experiment}).get(experiment, [])

    def leftovers_of(self, experiments: Collection[str]) -> dict[str, list[str]]:
        """Experiment → every object of every listable kind on the hub labelled with it; one listing for all."""
        kinds = self.kubectl("api-resources", "--verbs=list", "-o", "name").split()
        kinds = [k for k in kinds if k not in ("events", "events.events.k8s.io")]
        found: dict[str, list[str]] = defaultdict(list)
        for key in EXPERIMENT_LABELS:
            listing = json.loads(self.kubectl("get", ",".join(kinds), "-A", "-l", key, "-o", "json"))
            for item in listing["items"]:
                experiment = item["metadata"]["labels"][key]
                if experiment in experiments:
                    found[experiment].append(f"{item['kind']}/{item['metadata']['name']}")
        return dict(found)

    def assert_nothing_left(self, experiment: str, timeout: float = 30) -> None:
        eventually(
            lambda: not self.leftovers(experiment), timeout, f"nothing labelled {experiment} left", tolerate=RESTARTING
        )

    def assert_one_claim_ever(self, experiment: str) -> None:
        created = self.claims.created(experiment)
        assert len(created) == 1, created
        assert all(len(uids) == 1 for uids in created.values()), f"a claim was created twice: {created}"

    def s3(self) -> Any:
        """A boto3 client of the lab's SeaweedFS, with the lab's own credentials."""
        env = self.state.env()
        return boto3.client(
            "s3",
            endpoint_url=env["S3_ENDPOINT"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )

    def kubectl(self, *args: str) -> str:
        argv = [find_binary("kubectl"), f"--kubeconfig={self.state.kubeconfig}", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout

    # ---------------------------------------------------------------- processes

    def kill(self, name: str) -> None:
        self.stack.processes[name].kill()

    def start(self, name: str) -> None:
        """Start a stopped or killed service again on its ports (Temporal keeps its SQLite history)."""
        p = self.state.ports
        ready = {
            "worker": f"http://127.0.0.1:{p['worker_health']}/readyz",
            "crd-gateway": f"http://127.0.0.1:{p['gateway_health']}/readyz",
            "temporal": f"http://127.0.0.1:{p['temporal_ui']}/api/v1/namespaces",
        }[name]
        self.stack.processes[name].start(lambda: httpx.get(ready, timeout=1).status_code == 200, timeout=60)

    def restart_apiserver(self) -> None:
        assert self.stack.control_plane is not None
        self.stack.control_plane.restart_apiserver()


def status_summary(status: Obj) -> str:
    conditions = [
        (c.get("type"), c.get("status"), c.get("reason"), c.get("message")) for c in status.get("conditions") or []
    ]
    return f"phase {status.get('phase')}: {conditions}"


def _provisioned(status: Obj) -> bool:
    """Whether provisioning started: only then is there a cleanup to wait for."""
    return any(c.get("type") == "Provisioned" for c in status.get("conditions") or [])


def storing_results(status: Obj) -> bool:
    """Metrics collected or being stored: the phase turns Complete only once summary.json is stored."""
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    return status.get("phase") == "Running" and bool(ready) and ready[0].get("reason") == "CollectingResults"


def condition(status: Obj, type_: str) -> Obj:
    found = [c for c in status.get("conditions") or [] if c.get("type") == type_]
    assert found, f"no {type_} condition: {status_summary(status)}"
    return dict(found[0])


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ResilienceLab]:
    root = tmp_path_factory.mktemp("resilience-lab")
    state = LabState(root, ports=choose_ports(memorable=False))
    with FakeGitHub() as github, FakeAnthropic(time_scale=TIME_SCALE) as anthropic:
        github.add_repo(RESULTS_REPO)
        env = {
            "CLUSTER_FAILURE_GRACE_SECONDS": "2",
            "CLEANUP_WAIT_SECONDS": "60",
            "GITHUB_TOKEN": github.token,
            "GITHUB_API_URL": github.url,
            "GITHUB_REPO": RESULTS_REPO,
            "GITHUB_SECONDS_BETWEEN_REQUESTS": "0",
            "GITHUB_SECONDS_BETWEEN_WRITES": "0",
            "ANTHROPIC_API_KEY": anthropic.api_key,
            "ANTHROPIC_BASE_URL": anthropic.url,
            "ANALYZER_RETRY_INITIAL_SECONDS": "0.2",
        }
        stack = LabStack(state, BINARIES, time_scale=TIME_SCALE, say=lambda _: None, extra_env=env)
        stack.start()
        resilience_lab = ResilienceLab(stack, github, anthropic)
        try:
            yield resilience_lab
        finally:
            resilience_lab.claims.stop()
            stack.stop()
