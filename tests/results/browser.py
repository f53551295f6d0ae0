"""Headless Debian Chromium for report checks: the rendered DOM plus every console message."""

from __future__ import annotations

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
