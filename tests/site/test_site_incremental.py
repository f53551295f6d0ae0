"""Rebuilding the site as summaries land: only what changed is rendered, the result is byte for byte what a
full build of the same store writes, summaries are read once per version, and landings are coalesced."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from labctl.command import LabctlError
from labctl.seaweedfs import S3Endpoint
from labctl.site.build import Site, build_site
from labctl.site.runs import BucketSummaries, FolderSummaries, ParsedSummaries, SummarySource, run_key
from labctl.site.serve import Coalescer, LiveSite
from labctl.supervisor import free_port
from tests.site.summaries import summary, write


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def full_build(source: SummarySource, out: Path) -> dict[str, bytes]:
    build_site(source, out)
    return files(out)


def run(name: str, day: int, cpu: float, series: str = "observability-backends", **extra: Any) -> dict[str, Any]:
    values = {"cpu_total": {"prometheus": cpu, "victoria": cpu / 2}}
    return summary(name, f"2026-03-{day:02d}T10:00:00Z", values, series=series, **extra)


def rewrite(folder: Path, name: str, document: dict[str, Any]) -> None:
    """Change a summary in place; its version tag (mtime and size) changes even within one clock tick."""
    path = folder / f"{name}.json"
    before = path.stat().st_mtime_ns
    path.write_text(json.dumps(document | {"note": "x" * (len(path.read_bytes()) % 7 + 1)}))
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def test_incremental_rebuilds_write_exactly_what_a_full_build_writes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for i in range(5):
        write(data, f"run-{i}", run(f"run-{i}", i + 1, float(i), series="a" if i % 2 else "b"))
    (data / "_series.json").write_text(json.dumps({"series": [{"id": "a", "name": "Series A"}]}))
    source, site = FolderSummaries(data), Site(tmp_path / "site")
    first = site.build(source)
    assert first.written == len(files(tmp_path / "site"))

    def step(change: str) -> set[str]:
        before = files(tmp_path / "site")
        built = site.build(source)
        after = files(tmp_path / "site")
        assert after == full_build(FolderSummaries(data), tmp_path / f"full-{change}"), change
        assert built.written == len({n for n in after if before.get(n) != after[n]}), f"{change}: no needless write"
        return {n for n in after if before.get(n) != after[n]} | (set(before) - set(after))

    write(data, "run-5", run("run-5", 6, 5.0, series="a"))
    new_key = run_key(run("run-5", 6, 5.0, series="a"))
    assert step("one run added") == {
        f"runs/{new_key}.html",
        "series/a.html",
        "series/index.html",
        "index.html",
        "runs.js",
    }, "series b and the other runs' pages are not rendered again"

    rewrite(data, "run-1", run("run-1", 2, 9.0, series="a", analysis={"abstract": "now analysed"}))
    assert f"runs/{run_key(run('run-1', 2, 9.0))}.html" in step("one run changed")

    (data / "run-2.json").unlink()
    gone = f"runs/{run_key(run('run-2', 3, 2.0))}.html"
    assert gone in step("one run removed") and not (tmp_path / "site" / gone).exists()

    for i in (0, 4):
        (data / f"run-{i}.json").unlink()  # series b is now empty: its page goes
    write(data, "run-6", run("run-6", 7, 6.0, series="c"))
    changed = step("a series emptied, another begun")
    assert {"series/b.html", "series/c.html"} <= changed and not (tmp_path / "site" / "series" / "b.html").exists()

    (data / "_series.json").write_text(json.dumps({"series": [{"id": "a", "name": "Series A, renamed"}]}))
    assert "series/a.html" in step("a series renamed")
    assert step("nothing changed") == set()


def test_incremental_rebuild_from_a_bucket_matches_a_full_build(
    s3_server: S3Endpoint, s3_bucket: str, tmp_path: Path
) -> None:
    client = s3_server.client()

    def put(key: str, document: dict[str, Any]) -> None:
        client.put_object(Bucket=s3_bucket, Key=key, Body=json.dumps(document).encode())

    for i in range(3):
        put(f"experiments/run-{i}/summary.json", run(f"run-{i}", i + 1, float(i)))
    source, site = BucketSummaries(s3_server, s3_bucket), Site(tmp_path / "site")
    site.build(source)

    put("experiments/run-3/summary.json", run("run-3", 4, 3.0))
    put("experiments/run-0/summary.json", run("run-0", 1, 7.0, analysis={"abstract": "analysed"}))
    client.delete_object(Bucket=s3_bucket, Key="experiments/run-1/summary.json")
    built = site.build(source)

    assert files(tmp_path / "site") == full_build(BucketSummaries(s3_server, s3_bucket), tmp_path / "full")
    assert built.runs == 3 and built.removed == 1


def test_summaries_are_read_once_per_version() -> None:
    store = {"a/summary.json": json.dumps(run("a", 1, 1.0)), "b/summary.json": json.dumps(run("b", 2, 2.0))}
    reads: list[str] = []

    def read(key: str) -> bytes | None:
        reads.append(key)
        return store[key].encode() if key in store else None

    parsed = ParsedSummaries()
    first = parsed.runs({"a/summary.json": "v1", "b/summary.json": "v1"}, read)
    store["c/summary.json"] = json.dumps(run("c", 3, 3.0))
    store["a/summary.json"] = json.dumps(run("a", 1, 5.0))
    again = parsed.runs({"a/summary.json": "v2", "b/summary.json": "v1", "c/summary.json": "v1"}, read)
    del store["b/summary.json"]
    last = parsed.runs({"a/summary.json": "v2", "c/summary.json": "v1"}, read)

    assert reads == ["a/summary.json", "b/summary.json", "a/summary.json", "c/summary.json"]
    assert [r.name for r in first] == ["b", "a"] and [r.name for r in again] == ["c", "b", "a"]
    assert [r.name for r in last] == ["c", "a"] and last[1].metrics[0].values["prometheus"] == 5.0
    assert next(r for r in again if r.name == "b") is next(r for r in first if r.name == "b"), "kept, not re-parsed"


def test_a_store_gone_between_listing_and_reading_is_a_failed_build_not_a_dead_server() -> None:
    gone = BucketSummaries(S3Endpoint(f"http://127.0.0.1:{free_port()}", "key", "secret"), "results")

    with pytest.raises(LabctlError, match=r"cannot read s3://results/a/summary\.json"):
        gone.load({"a/summary.json": "v1"})  # LiveSite.check reports it and retries at the next check


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_landings_is_one_rebuild_after_a_quiet_spell() -> None:
    clock = FakeClock()
    coalescer = Coalescer(quiet=1.0, longest=5.0, clock=clock)
    due = []
    for landed in (True, True, True, True, False, False):  # a check every 0.5 s; four landings, then quiet
        due.append(coalescer.saw(landed))
        clock.now += 0.5
    assert due == [False, False, False, False, False, True]
    coalescer.built()
    assert coalescer.saw(False) is False, "nothing pending after the rebuild"
    assert coalescer.next_check(2.0) == 2.0


def test_a_steady_stream_of_landings_is_still_rebuilt_every_few_seconds() -> None:
    clock = FakeClock()
    coalescer = Coalescer(quiet=1.0, longest=5.0, clock=clock)
    rebuilt_at = []
    while clock.now < 60:  # a landing at every check: never a quiet spell
        if coalescer.saw(True):
            rebuilt_at.append(clock.now)
            coalescer.built()
        clock.now += coalescer.next_check(2.0)
    gaps = [b - a for a, b in zip([0.0, *rebuilt_at], rebuilt_at, strict=False)]
    assert len(rebuilt_at) >= 10 and max(gaps) <= 5.0 + 1.0, gaps


def test_live_site_coalesces_a_burst_and_retries_a_failed_rebuild(tmp_path: Path) -> None:
    data, clock = tmp_path / "data", FakeClock()
    write(data, "run-0", run("run-0", 1, 0.0))
    live = LiveSite(FolderSummaries(data), tmp_path / "site", Coalescer(quiet=1.0, longest=5.0, clock=clock))
    rebuilds = []
    for i in range(1, 6):  # five landings, a check between each
        write(data, f"run-{i}", run(f"run-{i}", i + 1, float(i)))
        rebuilds.append(live.check())
        clock.now += 0.2
    assert rebuilds == [None] * 5 and live.built.runs == 1

    clock.now += 1.0
    built = live.check()
    assert built is not None and built.runs == 6, "the burst in one rebuild"
    assert live.check() is None, "nothing pending"
    assert "run-5" in (tmp_path / "site" / "index.html").read_text()

    write(data, "run-6", run("run-6", 7, 6.0))
    in_the_way = tmp_path / "site" / "runs" / f"{run_key(run('run-6', 7, 6.0))}.html"
    in_the_way.mkdir()  # the new run's page cannot be written
    assert live.check() is None, "seen, not yet due"
    clock.now += 1.0
    assert live.check() is None, "due, failed"
    in_the_way.rmdir()
    retried = live.check()
    assert retried is not None and retried.runs == 7, "retried at the next check, with no new landing"
    assert files(tmp_path / "site") == full_build(FolderSummaries(data), tmp_path / "full")
