"""Shared pieces of the benchmarks: a throw-away lab, bulk creation, watches, RSS, Temporal and gateway figures.

``lab(...)`` starts the whole embedded lab (``labctl.lab.stack.LabStack``) in a temporary folder with
the given simulator flags — ``ZERO_DELAYS`` sets every simulated external delay (claim provisioning,
claim deletion, Application sync, Workflow run time) to zero — and stops it on exit, also on Ctrl-C
or SIGTERM. The benchmark process is the lab's supervisor while it runs (``lab.json`` says so), so
``labctl lab --lab-dir DIR env`` works for poking at it from another shell.
"""

from __future__ import annotations

import asyncio
import copy
import math
import os
import platform
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, cast

import httpx
import yaml
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from bench.audit import USER_AGENT
from labctl.lab.stack import LabStack
from labctl.lab.state import LabState, choose_ports
from labctl.settings import ServerBinaries

REPO = Path(__file__).resolve().parents[1]
HELLO_APP = REPO / "experiments" / "hello-app" / "experiment.yaml"
NAMESPACE = "experiments"
GROUP, VERSION = "experiments.illm.io", "v1alpha1"
ZERO_DELAYS = (
    *("--provision-delay", "0", "--delete-delay", "0", "--sync-delay", "0"),
    *("--workflow-duration", "0", "--time-scale", "0"),
)
"""Simulator flags: every simulated external delay at zero (the simulator still reacts to each change
through its watches)."""

Obj = dict[str, Any]


# ----------------------------------------------------------------------------------------- the lab


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def lab(
    labsim_args: Sequence[str], *, keep: bool = False, quiet: bool = True, audit: bool = False
) -> Iterator[LabState]:
    """A fresh lab in a temporary folder; stopped (and the folder removed unless ``keep``) on exit.
    ``audit``: the API server writes an audit log to ``kube/audit.log`` (bench.audit)."""
    root = Path(tempfile.mkdtemp(prefix="bench-lab-"))
    state = LabState(root, ports=choose_ports(memorable=False), supervisor_pid=os.getpid())
    state.save()
    say: Callable[[str], None] = (lambda line: None) if quiet else (lambda line: print(line, flush=True))
    stack = LabStack(state, ServerBinaries(), time_scale=0.0, say=say, labsim_args=list(labsim_args), audit=audit)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    began = time.monotonic()
    print(f"# starting a lab in {root} (simulator: {' '.join(labsim_args)})", flush=True)
    try:
        stack.start()
        state.ready = True
        state.save()
        print(f"# lab ready in {time.monotonic() - began:.1f} s; load {load()}", flush=True)
        yield state
    finally:
        began = time.monotonic()
        stack.stop()
        state.ready, state.supervisor_pid = False, None
        state.save()
        signal.signal(signal.SIGTERM, previous)
        print(f"# lab stopped in {time.monotonic() - began:.1f} s", flush=True)
        if keep:
            print(f"# lab folder kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def api_client(state: LabState, pool: int = 32) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(state.kubeconfig), client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = pool
    api = client.ApiClient(configuration)
    api.user_agent = USER_AGENT  # so bench.audit tells this script's requests apart
    return api


# ------------------------------------------------------------------------------------- experiments


def hello_app(name: str, *, duration: str | None = None) -> Obj:
    """The hello-app Experiment under a fixed name."""
    body = cast(Obj, yaml.safe_load(HELLO_APP.read_text()))
    body = copy.deepcopy(body)
    body["metadata"] = {"name": name, "namespace": NAMESPACE}
    if duration is not None:
        body["spec"]["workflow"]["params"] = {"duration": duration}
    return body


def create_all(state: LabState, bodies: Sequence[Obj], threads: int = 16) -> dict[str, float]:
    """Create every Experiment (``threads`` at a time, as many ``kubectl create`` would); name → monotonic time."""
    api = api_client(state, pool=threads)
    custom = client.CustomObjectsApi(api)
    created: dict[str, float] = {}

    def create(body: Obj) -> None:
        for attempt in range(5):
            try:
                custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "experiments", body)
                break
            except ApiException as exc:
                if exc.status in (429, 500, 503, 504) and attempt < 4:
                    time.sleep(0.5 * 2**attempt)
                    continue
                raise
        created[body["metadata"]["name"]] = time.monotonic()

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(create, bodies))
    api.close()  # type: ignore[no-untyped-call]
    return created


def list_experiments(state: LabState) -> list[Obj]:
    """Every Experiment in the benchmark's namespace."""
    api = api_client(state, pool=1)
    try:
        custom = client.CustomObjectsApi(api)
        listed = cast(Obj, custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "experiments"))
        return cast(list[Obj], listed["items"])
    finally:
        api.close()  # type: ignore[no-untyped-call]


def audit_log(state: LabState) -> Path:
    """The API server's audit log of a lab started with ``audit=True``."""
    return state.root / "kube" / "audit.log"


def phase_of(obj: Obj) -> str:
    return str((obj.get("status") or {}).get("phase") or "")


# ------------------------------------------------------------------------------------------ watches

Handler = Callable[[float, str, Obj], None]
"""(monotonic receive time, event type ADDED/MODIFIED/DELETED/LISTED, object)."""


class Watcher(threading.Thread):
    """Watches one custom resource (all namespaces) and hands every event, with its receive time, to a handler."""

    def __init__(self, state: LabState, group: str, version: str, plural: str, handle: Handler) -> None:
        super().__init__(name=f"watch-{plural}", daemon=True)
        self.api = api_client(state, pool=2)
        self.gvp = (group, version, plural)
        self.handle = handle
        self.stopping = threading.Event()
        self.synced = threading.Event()

    def run(self) -> None:
        custom = client.CustomObjectsApi(self.api)
        version: str | None = None
        while not self.stopping.is_set():
            try:
                if version is None:
                    listing = cast(Obj, custom.list_cluster_custom_object(*self.gvp))
                    now = time.monotonic()
                    for item in listing.get("items", []):
                        self.handle(now, "LISTED", item)
                    version = str(listing["metadata"]["resourceVersion"])
                    self.synced.set()
                stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                    custom.list_cluster_custom_object,
                    *self.gvp,
                    resource_version=version,
                    timeout_seconds=5,
                    allow_watch_bookmarks=True,
                )
                for event in stream:
                    now = time.monotonic()
                    obj = cast(Obj, event["object"])
                    if event["type"] == "ERROR":
                        version = None
                        break
                    version = str(obj["metadata"]["resourceVersion"])
                    if event["type"] != "BOOKMARK":
                        self.handle(now, str(event["type"]), obj)
                    if self.stopping.is_set():
                        break
            except ApiException as exc:
                version = None if exc.status == 410 else version
                time.sleep(0.2)
            except Exception:  # a dropped connection: re-open the watch from the last version
                time.sleep(0.2)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)
        self.api.close()  # type: ignore[no-untyped-call]


CLEANED = "cleaned"
"""Pseudo-phase of :class:`PhaseLog`: ``status.resourcesCleaned`` became true (the cleanup finished)."""


@dataclass
class PhaseLog:
    """First time each Experiment was seen in each phase (monotonic), and in :data:`CLEANED`, from a watch."""

    reached: dict[str, dict[str, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def handle(self, now: float, kind: str, obj: Obj) -> None:
        name, phase = obj["metadata"]["name"], phase_of(obj)
        cleaned = bool((obj.get("status") or {}).get("resourcesCleaned"))
        with self.lock:
            phases = self.reached.setdefault(name, {})
            for seen in (phase, CLEANED if cleaned else ""):
                if seen and seen not in phases:
                    phases[seen] = now
                    self.changed.notify_all()

    def count(self, names: Iterable[str], phases: Iterable[str]) -> int:
        wanted = set(phases)
        return sum(1 for n in names if wanted & set(self.reached.get(n, {})))

    def wait(self, names: Sequence[str], phases: Iterable[str], timeout: float, tick: float = 10.0) -> bool:
        """Until every name reached one of ``phases``; prints progress every ``tick`` s; False on timeout."""
        wanted = tuple(phases)
        deadline, next_tick = time.monotonic() + timeout, time.monotonic() + tick
        with self.lock:
            while True:
                done = sum(1 for n in names if set(wanted) & set(self.reached.get(n, {})))
                if done == len(names):
                    return True
                now = time.monotonic()
                if now >= deadline:
                    return False
                if now >= next_tick:
                    counts: dict[str, int] = {}
                    for n in names:
                        seen = self.reached.get(n, {})
                        last = max(seen, key=lambda p: seen[p]) if seen else "-"
                        counts[last] = counts.get(last, 0) + 1
                    print(f"#   {done}/{len(names)} done; latest phases {counts}; load {load()}", flush=True)
                    next_tick = now + tick
                self.changed.wait(timeout=min(1.0, deadline - now))


# ------------------------------------------------------------------------------------ process stats


LAB_MODULES = {
    "crd_gateway": "gateway",
    "worker": "worker",
    "labsim": "simulator",
    "worker.codec_server": "codec-server",
    "labctl": "results-site",
}
"""Python module run by a lab process (``python -m MODULE``) → the service's name in the benchmarks."""
LAB_SERVERS = {
    "temporal": "temporal",
    "kube-apiserver": "kube-apiserver",
    "etcd": "etcd",
    "kube-controller-manager": "kube-controller-manager",
    "weed": "seaweedfs",
    "victoria-metrics": "victoria-metrics",
    "prometheus": "prometheus",
}
"""Executable the lab runs (matched by name prefix: the VictoriaMetrics binary may be ``…-prod``) → service name."""


def service_pids(state: LabState) -> dict[str, int]:
    """pid of every process of this lab: its Python services (by module + the lab folder in their
    environment, named as in :data:`LAB_MODULES`) and its servers (the lab folder in their argv)."""
    found: dict[str, int] = {}
    modules = LAB_MODULES
    marker = str(state.root).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            env = (entry / "environ").read_bytes()
        except OSError:
            continue
        if len(argv) >= 3 and argv[1] == b"-m" and argv[2].decode() in modules and marker in env:
            found[modules[argv[2].decode()]] = int(entry.name)
        elif any(marker in a for a in argv):
            exe = Path(argv[0].decode(errors="replace")).name
            server = next((name for prefix, name in LAB_SERVERS.items() if exe.startswith(prefix)), None)
            if server is not None:
                found[server] = int(entry.name)
    return found


def rss_mib(pid: int) -> tuple[float, float]:
    """(current VmRSS, peak VmHWM) of a process, MiB."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = float(value.split()[0]) / 1024
    return fields.get("VmRSS", math.nan), fields.get("VmHWM", math.nan)


def count_workflows(state: LabState, where: str = "") -> int:
    """ExperimentWorkflows in the lab's Temporal (visibility), optionally ``AND`` a condition."""
    query = "WorkflowType = 'ExperimentWorkflow'" + (f" AND {where}" if where else "")

    async def count() -> int:
        from temporalio.client import Client

        temporal = await Client.connect(f"127.0.0.1:{state.ports['temporal']}")
        return (await temporal.count_workflows(query)).count

    return asyncio.run(count())


# ------------------------------------------------------------------------------------ gateway metrics


@dataclass(frozen=True)
class Histogram:
    buckets: tuple[tuple[float, float], ...]
    """(upper bound, cumulative count), ascending, +Inf last."""
    count: float
    total: float

    def minus(self, earlier: Histogram) -> Histogram:
        before = dict(earlier.buckets)
        return Histogram(
            tuple((le, n - before.get(le, 0.0)) for le, n in self.buckets),
            self.count - earlier.count,
            self.total - earlier.total,
        )

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    def quantile(self, q: float) -> float:
        """Linear interpolation inside the bucket, like PromQL's histogram_quantile."""
        if not self.count:
            return math.nan
        rank, lower, below = q * self.count, 0.0, 0.0
        for le, cumulative in self.buckets:
            if cumulative >= rank:
                if math.isinf(le):
                    return lower
                inside = cumulative - below
                return lower + (le - lower) * ((rank - below) / inside if inside else 1.0)
            lower, below = le, cumulative
        return lower


def gateway_histogram(state: LabState, name: str = "crd_gateway_status_write_seconds") -> Histogram:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"http://127.0.0.1:{state.ports['gateway_health']}/metrics", timeout=10).text
    buckets: list[tuple[float, float]] = []
    count = total = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
                buckets.append((float(sample.labels["le"]), sample.value))
            elif sample.name == f"{name}_count":
                count = sample.value
            elif sample.name == f"{name}_sum":
                total = sample.value
    return Histogram(tuple(sorted(buckets)), count, total)


def gateway_counter(state: LabState, name: str) -> dict[str, float]:
    """Label set (as text) → value of one counter family on the gateway's /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"http://127.0.0.1:{state.ports['gateway_health']}/metrics", timeout=10).text
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == name.removesuffix("_total"):
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    values[",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))] = sample.value
    return values


# ----------------------------------------------------------------------------------------- printing


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}/{five:.2f}/{fifteen:.2f}"


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), "unknown CPU")
    mem_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    return f"{os.cpu_count()} CPUs ({model}), {mem_kib / 1024 / 1024:.1f} GiB RAM, Python {platform.python_version()}"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A Markdown table (pastes into docs/benchmarks.md as is)."""
    text = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) if text else len(h) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in text:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print(flush=True)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def header(title: str, module: str) -> None:
    """Title, machine, the command line that ran (``python -m MODULE ARGS``) and the load."""
    command = " ".join(["python -m", module, *sys.argv[1:]])
    print(f"## {title}\n\nmachine: {machine()}\ncommand: {command}\nload at start (1/5/15 min): {load()}\n", flush=True)
