"""Headless Debian Chromium for report checks: the rendered DOM plus every console message."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websocket  # websocket-client, installed with the kubernetes client

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


def render(html_file: Path, *, screenshot: Path | None = None) -> RenderedPage:
    """Load a local file with networking unavailable to the page's content (file:// only, no fetches)."""
    with tempfile.TemporaryDirectory() as profile:
        argv = [chromium_binary(), *FLAGS, f"--user-data-dir={profile}"]
        if screenshot is not None:
            subprocess.run(
                [*argv, f"--screenshot={screenshot}", "--window-size=1200,2400", html_file.as_uri()],
                capture_output=True,
                timeout=120,
                check=False,
            )
        done = subprocess.run(
            [*argv, "--dump-dom", html_file.as_uri()], capture_output=True, text=True, timeout=120, check=False
        )
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return RenderedPage(dom=done.stdout, console=console)


def page_text_when(url: str, wanted: str, timeout: float = 90.0) -> str:
    """Open ``url`` (a live web app such as the Temporal UI) and return the page's text once it shows
    ``wanted``, or the last text seen at the deadline. Driven over the DevTools protocol, because a
    single-page app renders after ``--dump-dom`` has already returned."""
    port = free_port()
    with tempfile.TemporaryDirectory() as profile:
        argv = [chromium_binary(), *FLAGS, f"--user-data-dir={profile}", f"--remote-debugging-port={port}"]
        browser = subprocess.Popen([*argv, "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + timeout
            tabs: list[dict[str, str]] = []
            while not tabs and time.monotonic() < deadline:
                try:
                    tabs = [
                        t
                        for t in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                        if t["type"] == "page"
                    ]
                except httpx.HTTPError:
                    time.sleep(0.2)
            socket = websocket.create_connection(tabs[0]["webSocketDebuggerUrl"], timeout=30)
            calls = iter(range(1, 1_000_000))

            def call(method: str, **params: object) -> dict[str, object]:
                call_id = next(calls)
                socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
                while True:
                    message = json.loads(socket.recv())
                    if message.get("id") == call_id:
                        return message

            call("Page.navigate", url=url)
            text = ""
            while wanted not in text and time.monotonic() < deadline:
                time.sleep(0.5)
                answer = call(
                    "Runtime.evaluate", expression="document.body ? document.body.innerText : ''", returnByValue=True
                )
                text = answer["result"]["result"].get("value", "")  # type: ignore[index]
            socket.close()
            return text
        finally:
            browser.terminate()
            browser.wait(10)
