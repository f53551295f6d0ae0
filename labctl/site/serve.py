"""``labctl site serve``: the site over HTTP, rebuilt whenever the set of summaries changes.

Change detection is a listing of the store (keys and ETags), cheap enough to repeat every few
seconds; a failed check or build is reported and the last good site keeps being served.
"""

from __future__ import annotations

import functools
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from labctl.command import LabctlError
from labctl.site.build import build_site
from labctl.site.runs import SummarySource


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_site(
    source: SummarySource,
    out: Path,
    host: str,
    port: int,
    interval: float,
    stop: threading.Event | None = None,
) -> None:
    stop = stop or threading.Event()
    listing = source.listing()
    built = build_site(source, out, listing)
    handler = functools.partial(QuietHandler, directory=str(out.resolve()))
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise LabctlError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    thread = threading.Thread(target=server.serve_forever, name="site-http", daemon=True)
    thread.start()
    print(
        f"serving {built.runs} runs from {source.describe()} at http://{host}:{server.server_address[1]}/ "
        f"(rebuilt when a summary lands; checked every {interval:g} s)",
        flush=True,
    )
    try:
        while not stop.wait(interval):
            listing = _rebuild_if_changed(source, out, listing)
    finally:
        server.shutdown()
        server.server_close()


def _rebuild_if_changed(source: SummarySource, out: Path, listing: dict[str, str]) -> dict[str, str]:
    try:
        current = source.listing()
        if current == listing:
            return listing
        built = build_site(source, out, current)
    except (LabctlError, OSError) as exc:
        print(f"site not rebuilt, still serving the last one: {exc}", file=sys.stderr, flush=True)
        return listing
    print(f"rebuilt: {built.runs} runs in {built.seconds:.1f} s", flush=True)
    return current
