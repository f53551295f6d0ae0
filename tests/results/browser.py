"""Headless Debian Chromium for page checks: the rendered DOM, every console message, every request.

Pages are loaded from ``file://`` with a dead proxy (nothing a page asks for can leave the machine)
and a NetLog, from which ``requests`` lists what the page itself tried to fetch beyond ``file://``
(the browser's own background traffic is told apart by its network isolation key).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM_PACKAGE = "chromium"  # Debian package; CI: apt-get install -y --no-install-recommends chromium
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
    "--proxy-server=127.0.0.1:9",  # the discard port: any request that is not file:// fails
    "--proxy-bypass-list=<-loopback>",
)


def chromium_binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip(f"Chromium not installed (Debian package {CHROMIUM_PACKAGE!r}): report rendering not checked")
    return found


@dataclass
class RenderedPage:
    dom: str
    console: list[str]
    requests: list[str]
    """URLs the page tried to load that were not ``file://``."""


def render(
    html_file: Path, *, screenshot: Path | None = None, query: str = "", window_size: str = "1200,2400"
) -> RenderedPage:
    """Load a local file (``query``: the part after ``?``) with networking unavailable to the page."""
    url = html_file.as_uri() + (f"?{query}" if query else "")
    with tempfile.TemporaryDirectory() as profile:
        argv = [chromium_binary(), *FLAGS, f"--user-data-dir={profile}"]
        if screenshot is not None:
            subprocess.run(
                [*argv, f"--screenshot={screenshot}", f"--window-size={window_size}", "--hide-scrollbars", url],
                capture_output=True,
                timeout=120,
                check=False,
            )
        net_log = Path(profile) / "netlog.json"
        done = subprocess.run(
            [*argv, f"--log-net-log={net_log}", "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        requests = _page_requests(net_log)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return RenderedPage(dom=done.stdout, console=console, requests=requests)


def _page_requests(net_log: Path) -> list[str]:
    try:
        log = json.loads(net_log.read_text())
    except (OSError, ValueError):  # a NetLog cut short still lists its events up to the last complete one
        text = net_log.read_text() if net_log.exists() else ""
        log = json.loads(text.rstrip().rstrip(",") + "]}") if text else {"constants": {}, "events": []}
    start_job = (log.get("constants") or {}).get("logEventTypes", {}).get("URL_REQUEST_START_JOB")
    return [
        e["params"]["url"]
        for e in log.get("events", [])
        if e.get("type") == start_job
        and "file://" in str(e.get("params", {}).get("network_isolation_key", ""))
        and not str(e["params"].get("url", "")).startswith("file:")
    ]
