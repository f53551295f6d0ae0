"""Gateway at scale: 10,000 Experiments held (most finished), one resync's cost, then a burst of creates.

Starts only what the gateway talks to — a real etcd + kube-apiserver with the Experiment CRD and the
Temporal dev server (file SQLite) — and the gateway itself as a process (``python -m crd_gateway``,
all namespaces, no leader election). No worker runs: the workflows are real ``ExperimentWorkflow``
executions in Temporal that no worker executes, so every figure is the gateway's own.

1. Seed (before the gateway starts): ``--finished`` Experiments with phase Complete, the finalizer
   and ``status.temporal`` pointing at a workflow that is closed (started, then terminated), and
   ``--running`` Experiments with phase Running whose workflow runs.
2. Start the gateway: time to ready (paged list done) and to settled (its first sweep finished and
   the queue empty); its RSS.
3. One resync: the gateway's resync interval is ``--resync`` s; the Temporal requests (the dev
   server's own ``service_requests`` by operation), the API-server requests (its
   ``apiserver_request_total`` for experiments, by verb) and the sweep's time are read across it.
4. Burst: ``--creates`` new Experiments created 16 at a time; the time from the first create until
   Temporal counts that many more running ExperimentWorkflows; the gateway's RSS after.

    .venv/bin/python -m bench.gateway_scale [--finished 9500 --running 500 --creates 1000]

``--gateway-src DIR`` runs the gateway from another checkout (e.g. the code before this change) with
the same load; gateway-side counters it does not have print as n/a.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import httpx
from kubernetes import client, config
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from api.experiment import EXPERIMENT_FINALIZER, ExperimentPhase, ExperimentStatus, TemporalRef
from api.names import workflow_id
from bench.common import GROUP, REPO, VERSION, header, hello_app, load, rss_mib, table
from labctl.controlplane import ControlPlane, assets_dir, install_crds
from labctl.servers import start_temporal
from labctl.settings import ServerBinaries
from labctl.supervisor import free_port

PLURAL = "experiments"
SEEDED, BURST = "bench", "burst"
IDLE_QUEUE = "bench-no-worker"
THREADS = 16

Obj = dict[str, Any]


# --------------------------------------------------------------------------------- the servers


@contextmanager
def servers(root: Path) -> Iterator[tuple[ControlPlane, int]]:
    """kube-apiserver + etcd with the CRDs, and the Temporal dev server; (control plane, Temporal port)."""
    binaries = ServerBinaries()
    plane = ControlPlane(root / "kube", assets_dir(binaries), with_controller_manager=False)
    port, ui_port = free_port(), free_port()
    temporal = None
    try:
        plane.start()
        install_crds(plane.kubeconfig_path, sorted((REPO / "deploy" / "crds").glob("*.yaml")))
        temporal = start_temporal(binaries, root / "temporal.sqlite", port, ui_port, root / "temporal.log")
        yield plane, port
    finally:
        if temporal is not None:
            temporal.stop()
        plane.stop()


def kube_api(plane: ControlPlane) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(plane.kubeconfig_path), client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = THREADS
    return client.ApiClient(configuration)


def counters(text: str, sample_name: str, label: str, **match: str) -> dict[str, float]:
    """label value → summed value of the samples named ``sample_name`` (or ``sample_name_total``)."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name not in (sample_name, f"{sample_name}_total"):
                continue
            if all(sample.labels.get(k) == v for k, v in match.items()):
                key = sample.labels.get(label, "")
                found[key] = found.get(key, 0.0) + sample.value
    return found


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0) > 0}


# ------------------------------------------------------------------------------------------ seed


def seed(api: client.ApiClient, namespace: str, count: int, phase: ExperimentPhase | None) -> list[str]:
    """``count`` Experiments (finalizer set; with ``phase``, a status naming their workflow) → workflow ids."""
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    try:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    except client.ApiException as err:
        if err.status != 409:
            raise

    def one(index: int) -> str:
        body = hello_app(f"{namespace}-{index:05d}")
        body["metadata"]["namespace"] = namespace
        if phase is not None:
            body["metadata"]["finalizers"] = [EXPERIMENT_FINALIZER]
        obj = cast(Obj, custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body))
        meta = obj["metadata"]
        wid = workflow_id(namespace, meta["name"], meta["uid"])
        if phase is not None:
            status = ExperimentStatus(phase=phase, temporal=TemporalRef(workflow_id=wid), report_sequence=1)
            obj["status"] = status.to_wire()
            custom.replace_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, meta["name"], obj)
        return wid

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(count)))


async def seed_workflows(port: int, closed: list[str], running: list[str]) -> None:
    temporal = await Client.connect(f"127.0.0.1:{port}")
    gate = asyncio.Semaphore(32)

    async def one(wid: str, close: bool) -> None:
        async with gate:
            handle = await temporal.start_workflow("ExperimentWorkflow", id=wid, task_queue=IDLE_QUEUE)
            if close:
                await handle.terminate("bench: a finished experiment's workflow")

    await asyncio.gather(*(one(w, True) for w in closed), *(one(w, False) for w in running))


RUNNING = "WorkflowType = 'ExperimentWorkflow' AND ExecutionStatus = 'Running'"


async def running_count(port: int) -> int:
    temporal = await Client.connect(f"127.0.0.1:{port}")
    return (await temporal.count_workflows(RUNNING)).count


async def until_running(port: int, count: int, timeout: float) -> None:
    temporal = await Client.connect(f"127.0.0.1:{port}")
    deadline = time.monotonic() + timeout
    while (await temporal.count_workflows(RUNNING)).count < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} running workflows after {timeout:.0f} s")
        await asyncio.sleep(0.25)


# --------------------------------------------------------------------------------------- gateway


def start_gateway(
    plane: ControlPlane, temporal_port: int, health: int, resync: float, src: Path | None, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GATEWAY_KUBECONFIG": str(plane.kubeconfig_path),
        "GATEWAY_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "GATEWAY_LEADER_ELECTION": "false",
        "GATEWAY_HEALTH_PORT": str(health),
        "GATEWAY_HEALTH_HOST": "127.0.0.1",
        "GATEWAY_RESYNC_SECONDS": str(resync),
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return subprocess.Popen(
        [sys.executable, "-m", "crd_gateway"],
        env=env,
        cwd=str(src or REPO),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            if check():
                return time.monotonic() - began
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.gateway_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--finished", type=int, default=9500, help="Complete Experiments, workflow closed (9500)")
    parser.add_argument("--running", type=int, default=500, help="Running Experiments, workflow running (500)")
    parser.add_argument("--creates", type=int, default=1000, help="Experiments created in the burst (1000)")
    parser.add_argument("--resync", type=float, default=60.0, help="the gateway's resync interval, s (60)")
    parser.add_argument("--gateway-src", type=Path, help="run the gateway from this checkout instead")
    parser.add_argument("--timeout", type=float, default=600.0, help="s to wait for each step (600)")
    args = parser.parse_args(argv)
    header("Gateway at scale (held Experiments, resync, burst)", "bench.gateway_scale")
    root = Path(tempfile.mkdtemp(prefix="bench-gwscale-"))
    gateway = None
    try:
        with servers(root) as (plane, tport):
            api = kube_api(plane)
            began = time.monotonic()
            finished_ids = seed(api, SEEDED, args.finished, ExperimentPhase.COMPLETE)
            running_ids = seed(api, f"{SEEDED}-running", args.running, ExperimentPhase.RUNNING)
            print(f"# {args.finished + args.running} objects in {time.monotonic() - began:.0f} s; load {load()}")
            began = time.monotonic()
            asyncio.run(seed_workflows(tport, finished_ids, running_ids))
            print(f"# their workflows in {time.monotonic() - began:.0f} s; load {load()}", flush=True)

            health = free_port()
            metrics_url, temporal_metrics = (
                f"http://127.0.0.1:{health}/metrics",
                f"http://127.0.0.1:{tport + 20}/metrics",
            )

            def page(url: str) -> str:
                return httpx.get(url, timeout=10).text

            def apiserver_page() -> str:
                bearer = {"Authorization": f"Bearer {plane.admin_token}"}
                return httpx.get(f"{plane.server}/metrics", headers=bearer, verify=False, timeout=30).text

            gateway = start_gateway(plane, tport, health, args.resync, args.gateway_src, root / "gateway.log")
            ready = wait_for(
                lambda: httpx.get(f"http://127.0.0.1:{health}/readyz", timeout=5).status_code == 200,
                args.timeout,
                "gateway ready",
            )

            def settled() -> bool:
                text = page(metrics_url)
                depth = counters(text, "crd_gateway_queue_depth", "").get("", 1.0)
                sweeps = sum(counters(text, "crd_gateway_sweeps", "how").values())
                reconciles = sum(counters(text, "crd_gateway_reconciles", "result").values())
                new_code = "crd_gateway_sweeps" in text
                return depth == 0 and (sweeps >= 1 if new_code else reconciles >= args.finished + args.running)

            settle = wait_for(settled, args.timeout, "gateway settled")
            rss_settled = rss_mib(gateway.pid)
            print(
                f"# ready {ready:.1f} s, settled {settle:.1f} s after start; "
                f"RSS {rss_settled[0]:.0f} MiB; load {load()}"
            )

            # One resync: counters just after a sweep-free moment, then across the next resync.
            t0, g0, k0 = page(temporal_metrics), page(metrics_url), apiserver_page()
            mark = time.monotonic()
            time.sleep(args.resync + 5)
            t1, g1, k1 = page(temporal_metrics), page(metrics_url), apiserver_page()
            window = time.monotonic() - mark
            temporal_calls = delta(
                *(counters(t, "service_requests", "operation", service_name="frontend") for t in (t1, t0))
            )
            kube_calls = delta(*(counters(k, "apiserver_request", "verb", resource="experiments") for k in (k1, k0)))
            sweep_sum = delta(*(counters(g, "crd_gateway_sweep_seconds_sum", "") for g in (g1, g0)))
            sweeps = delta(*(counters(g, "crd_gateway_sweeps", "how") for g in (g1, g0)))
            enqueued = delta(*(counters(g, "crd_gateway_sweep_enqueued", "") for g in (g1, g0)))
            print(f"# resync window {window:.0f} s: Temporal {temporal_calls}; API server (experiments) {kube_calls}")

            # Burst
            base = asyncio.run(running_count(tport))
            burst_began = time.monotonic()
            seed(api, BURST, args.creates, None)
            created = time.monotonic() - burst_began
            asyncio.run(until_running(tport, base + args.creates, args.timeout))
            started = time.monotonic() - burst_began
            rss_end = rss_mib(gateway.pid)
            writes_waited = counters(page(metrics_url), "crd_gateway_rate_limit_wait_seconds", "backend")
            api.close()  # type: ignore[no-untyped-call]
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(30)
        shutil.rmtree(root, ignore_errors=True)

    held = args.finished + args.running
    table(
        ["held", "ready (s)", "settled (s)", "RSS settled (MiB)", "sweeps", "sweep time (s)", "swept into queue"],
        [
            [
                held,
                ready,
                settle,
                rss_settled[0],
                sum(sweeps.values()) or "n/a",
                sweep_sum.get("", "n/a"),
                enqueued.get("", 0.0) if sweeps else "n/a",
            ]
        ],
    )
    table(
        ["resync window (s)", "Temporal requests", "API-server requests (experiments)"],
        [[window, _fmt(temporal_calls), _fmt(kube_calls)]],
    )
    table(
        [
            "creates",
            "created in (s)",
            "all started (s)",
            "workflows/s",
            "RSS after (MiB)",
            "peak RSS (MiB)",
            "rate-limit waits (s)",
        ],
        [[args.creates, created, started, args.creates / started, rss_end[0], rss_end[1], _fmt(writes_waited)]],
    )
    print(
        f"summary: {held} held → RSS {rss_settled[0]:.0f} MiB settled, {rss_end[1]:.0f} MiB peak; one resync: "
        f"{_fmt(temporal_calls)} Temporal, {_fmt(kube_calls)} API; {args.creates} creates → started in {started:.1f} s"
    )
    return 0


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k or 'total'} {v:.0f}" for k, v in sorted(values.items())) or "none"


if __name__ == "__main__":
    sys.exit(main())
