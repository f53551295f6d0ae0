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

import httpx
import pytest
import websocket  # websocket-client, installed with the kubernetes client

from tests.fixtures.eventually import eventually
from tests.fixtures.process import free_port

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
LIVE_APP_FLAGS = tuple(f for f in FLAGS if not f.startswith("--proxy-bypass-list"))
"""For a web app served on loopback (the Temporal UI): loopback goes direct, anything else still fails."""


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
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:  # Chromium helpers may still write
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


def page_text_when(url: str, wanted: str, timeout: float = 90.0) -> str:
    """Open ``url`` (a live web app such as the Temporal UI) and return the page's text once it shows
    ``wanted``; fails naming the last text seen at the deadline. Driven over the DevTools protocol,
    because a single-page app renders after ``--dump-dom`` has already returned."""
    port = free_port()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:  # Chromium helpers may still write
        argv = [chromium_binary(), *LIVE_APP_FLAGS, f"--user-data-dir={profile}", f"--remote-debugging-port={port}"]
        browser = subprocess.Popen([*argv, "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:

            def pages() -> list[dict[str, str]]:
                listed = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                return [t for t in listed if t["type"] == "page"]

            tabs = eventually(pages, timeout, "a page in Chromium's DevTools list", tolerate=(httpx.HTTPError,))
            socket = websocket.create_connection(tabs[0]["webSocketDebuggerUrl"], timeout=30)
            calls = iter(range(1, 1_000_000))

            def call(method: str, **params: object) -> dict[str, object]:
                call_id = next(calls)
                socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
                while True:
                    message = json.loads(socket.recv())
                    if message.get("id") == call_id:
                        return message

            def text() -> str:
                answer = call(
                    "Runtime.evaluate", expression="document.body ? document.body.innerText : ''", returnByValue=True
                )
                return str(answer["result"]["result"].get("value", ""))  # type: ignore[index]

            call("Page.navigate", url=url)
            shown = eventually(text, timeout, f"{url} shows {wanted!r}", until=lambda t: wanted in t, interval=0.5)
            socket.close()
            return shown
        finally:
            browser.terminate()
            browser.wait(10)
