"""``labctl site serve``: the site over HTTP, brought up to date whenever the set of summaries changes.

Change detection is a listing of the store (keys and ETags), cheap enough to repeat every few
seconds. Landings are coalesced: the site is rebuilt once no summary has landed for ``QUIET_SECONDS``,
or ``LONGEST_WAIT_SECONDS`` after the first one not yet built, so a steady stream of landings still
shows every few seconds. A rebuild renders only what changed (labctl/site/build.py) and reads only the
summaries not read before. A failed check or build is reported, retried at the next check, and the
last good pages keep being served.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from labctl.command import LabctlError
from labctl.site.build import BuiltSite, Site
from labctl.site.runs import SummarySource

QUIET_SECONDS = 1.0
"""Rebuild once no summary has landed for this long: a burst of landings is one rebuild."""
LONGEST_WAIT_SECONDS = 5.0
"""...but never later than this after the first landing not yet shown."""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Coalescer:
    """When pending landings are due for a rebuild: after ``quiet`` seconds without a new one, and at most
    ``longest`` seconds after the first of them."""

    quiet: float = QUIET_SECONDS
    longest: float = LONGEST_WAIT_SECONDS
    clock: Callable[[], float] = time.monotonic
    _first: float | None = field(default=None, init=False)
    _last: float = field(default=0.0, init=False)
    _checked: float | None = field(default=None, init=False)

    def saw(self, landed: bool) -> bool:
        """Record one check (``landed``: something changed since the previous check); True when a rebuild is due."""
        now = self.clock()
        if landed:
            if self._first is None:  # it landed after the previous check: count from there
                self._first = now if self._checked is None else self._checked
            self._last = now
        self._checked = now
        if self._first is None:
            return False
        return now - self._last >= self.quiet or now - self._first >= self.longest

    def built(self) -> None:
        self._first = None

    def next_check(self, interval: float) -> float:
        """Seconds to the next check: sooner while landings wait, so a quiet spell is noticed when it begins."""
        return interval if self._first is None else min(interval, self.quiet)


class LiveSite:
    """A site folder kept current with a store: built whole at first, then only what each change touched."""

    def __init__(self, source: SummarySource, out: Path, coalescer: Coalescer | None = None) -> None:
        self.source = source
        self.coalescer = coalescer or Coalescer()
        self._site = Site(out)
        self._seen = source.listing()
        self.built = self._site.build(source, self._seen)
        self._built_listing = self._seen

    def check(self) -> BuiltSite | None:
        """List the store; rebuild when the coalescer says pending changes are due. Returns the rebuild, if any."""
        try:
            current = self.source.listing()
            landed, self._seen = current != self._seen, current
            if not self.coalescer.saw(landed):
                return None
            built = None
            if current != self._built_listing:
                built = self._site.build(self.source, current)
                self.built, self._built_listing = built, current
            self.coalescer.built()
        except (LabctlError, OSError) as exc:  # still due: retried at the next check
            print(f"site not rebuilt, still serving the last one: {exc}", file=sys.stderr, flush=True)
            return None
        if built is not None:
            print(f"rebuilt: {built.runs} runs, {built.written} files written in {built.seconds:.2f} s", flush=True)
        return built


def serve_site(
    source: SummarySource,
    out: Path,
    host: str,
    port: int,
    interval: float,
    stop: threading.Event | None = None,
) -> None:
    stop = stop or threading.Event()
    live = LiveSite(source, out)
    handler = functools.partial(QuietHandler, directory=str(out.resolve()))
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise LabctlError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    thread = threading.Thread(target=server.serve_forever, name="site-http", daemon=True)
    thread.start()
    print(
        f"serving {live.built.runs} runs from {source.describe()} at http://{host}:{server.server_address[1]}/ "
        f"(rebuilt when a summary lands; checked every {interval:g} s)",
        flush=True,
    )
    try:
        while not stop.wait(live.coalescer.next_check(interval)):
            live.check()
    finally:
        server.shutdown()
        server.server_close()
