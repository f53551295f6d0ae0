"""``labctl lab up|down|status|env``: run the embedded lab in the foreground or detached."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from labctl.command import LabctlError, Subparsers
from labctl.lab.stack import LabStack
from labctl.lab.state import LabState, choose_ports

READY_TIMEOUT_SECONDS = 300


def register(subparsers: Subparsers[argparse.ArgumentParser]) -> None:
    lab = subparsers.add_parser("lab", help="the embedded lab: the whole platform on loopback")
    lab.add_argument("--lab-dir", type=Path, default=None, help="lab folder (default $LAB_DIR or ~/.local/share/...)")
    commands = lab.add_subparsers(dest="lab_command", metavar="COMMAND", required=True)
    up = commands.add_parser("up", help="start the lab; Ctrl-C stops it")
    up.add_argument("--detach", action="store_true", help="return once everything is ready, leave it running")
    up.add_argument("--time-scale", type=float, default=1.0, help="scale simulated delays (0.1 = ten times faster)")
    up.set_defaults(handler=lab_up)
    commands.add_parser("down", help="stop a detached lab").set_defaults(handler=lab_down)
    commands.add_parser("status", help="is every service answering?").set_defaults(handler=lab_status)
    commands.add_parser("env", help="print export lines for KUBECONFIG, Temporal, S3, metrics").set_defaults(
        handler=lab_env
    )
    from labctl.lab.demo import register_demo

    register_demo(commands)


def lab_root(args: argparse.Namespace) -> Path:
    return Path(args.lab_dir) if args.lab_dir else args.settings.default_lab_dir


def running_state(root: Path) -> LabState:
    state = LabState.load(root)
    if state is None or not state.supervisor_alive() or not state.ready:
        raise LabctlError(f"no lab is running in {root}: start one with `labctl lab up --detach`")
    return state


def lab_up(args: argparse.Namespace) -> int:
    root = lab_root(args)
    state = LabState.load(root) or LabState(root)
    if state.supervisor_alive():
        raise LabctlError(
            f"a lab is already running in {root} (pid {state.supervisor_pid}); `labctl lab down` stops it"
        )
    if args.detach:
        print_endpoints(start_detached(root, args.time_scale))
        return 0
    state.ports = choose_ports(memorable=root == args.settings.default_lab_dir, existing=state.ports)
    state.supervisor_pid, state.ready, state.error = os.getpid(), False, None
    state.save()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"starting the lab in {root}", flush=True)
    stack = LabStack(state, args.settings, time_scale=args.time_scale, say=lambda line: print(line, flush=True))
    try:
        stack.start()
    except RuntimeError as exc:
        state.error, state.supervisor_pid = str(exc).splitlines()[0], None
        state.save()
        raise LabctlError(str(exc)) from exc
    state.ready = True
    state.save()
    print_endpoints(state)
    print("lab is up; Ctrl-C (or `labctl lab down`) stops it", flush=True)
    stop.wait()
    print("stopping the lab", flush=True)
    stack.stop()
    state.ready, state.supervisor_pid = False, None
    state.save()
    return 0


def start_detached(root: Path, time_scale: float) -> LabState:
    """Start the lab supervisor in its own session; return once everything is ready."""
    root.mkdir(parents=True, exist_ok=True)
    log = root / "supervisor.log"
    argv = [sys.executable, "-m", "labctl", "lab", "--lab-dir", str(root), "up", "--time-scale", str(time_scale)]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        state = LabState.load(root)
        if state and state.ready and state.supervisor_pid == proc.pid:
            return state
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise LabctlError(f"the lab did not start: {tail[0]} (log: {log})")
        time.sleep(0.2)
    raise LabctlError(f"the lab was not ready after {READY_TIMEOUT_SECONDS} s (log: {log})")


def lab_down(args: argparse.Namespace) -> int:
    root = lab_root(args)
    state = LabState.load(root)
    if state is None or not state.supervisor_alive():
        print(f"no lab is running in {root}")
        return 0
    assert state.supervisor_pid is not None
    os.kill(state.supervisor_pid, signal.SIGTERM)
    deadline = time.monotonic() + 180
    while state.supervisor_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    if state.supervisor_alive():
        raise LabctlError(f"the lab supervisor (pid {state.supervisor_pid}) did not stop within 180 s")
    print("lab stopped")
    return 0


def print_endpoints(state: LabState) -> None:
    for name, value in state.endpoints().items():
        print(f"  {name:<16} {value}")
    print(f'  use it:          eval "$(labctl lab --lab-dir {shlex.quote(str(state.root))} env)"', flush=True)


def lab_env(args: argparse.Namespace) -> int:
    state = running_state(lab_root(args))
    for key, value in state.env().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def lab_status(args: argparse.Namespace) -> int:
    root = lab_root(args)
    state = LabState.load(root)
    if state is None or not state.supervisor_alive():
        print(f"no lab is running in {root}")
        return 1
    p = state.ports
    probes = {
        "temporal UI": f"http://127.0.0.1:{p['temporal_ui']}/api/v1/namespaces",
        "seaweedfs": f"http://127.0.0.1:{p['s3.port']}/",
        "victoria-metrics": f"http://127.0.0.1:{p['victoria_metrics']}/health",
        "prometheus": f"http://127.0.0.1:{p['prometheus']}/-/ready",
        "crd-gateway": f"http://127.0.0.1:{p['gateway_health']}/readyz",
        "worker": f"http://127.0.0.1:{p['worker_health']}/readyz",
        "results site": f"http://127.0.0.1:{p['results_site']}/index.html",
        "codec server": f"{state.codec_endpoint()}/healthz",
    }
    healthy = True
    for name, url in probes.items():
        try:
            code = httpx.get(url, timeout=2).status_code
            ok = code < 500
        except httpx.HTTPError as exc:
            ok, code = False, type(exc).__name__  # type: ignore[assignment]
        healthy &= ok
        print(f"  {name:<18} {'ok' if ok else 'DOWN'} ({code})")
    return 0 if healthy else 1
