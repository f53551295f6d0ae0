"""The parsing behind bench.scale's cost figures: /proc stat lines, the API server's request counter, history events."""

from __future__ import annotations

import os

import pytest

from bench.cost import ProcStat, history_counts, parse_proc_stat, ratios, request_counts, tree_ticks


def stat_line(pid: int, comm: str, ppid: int, utime: int, stime: int, cutime: int, cstime: int) -> str:
    # Fields 3..: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
    rest = ["S", ppid, 1, 1, 0, -1, 4194560, 10, 0, 0, 0, utime, stime, cutime, cstime, 20, 0, 1, 0, 100]
    return f"{pid} ({comm}) " + " ".join(str(v) for v in rest) + "\n"


def test_a_stat_line_gives_parent_own_and_reaped_ticks() -> None:
    stat = parse_proc_stat(stat_line(42, "python3", 7, utime=150, stime=30, cutime=5, cstime=2))

    assert stat == ProcStat(pid=42, ppid=7, own_ticks=180, reaped_ticks=7)


def test_a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() -> None:
    stat = parse_proc_stat(stat_line(9, "odd) (name x", 1, utime=3, stime=4, cutime=0, cstime=0))

    assert (stat.pid, stat.ppid, stat.own_ticks) == (9, 1, 7)


def test_this_process_stat_parses() -> None:
    with open(f"/proc/{os.getpid()}/stat") as handle:
        stat = parse_proc_stat(handle.read())

    assert stat.pid == os.getpid()
    assert stat.ppid == os.getppid()


def test_a_tree_counts_its_live_descendants_but_not_its_siblings() -> None:
    stats = [
        ProcStat(10, 1, own_ticks=100, reaped_ticks=5),
        ProcStat(11, 10, own_ticks=20, reaped_ticks=0),
        ProcStat(12, 11, own_ticks=3, reaped_ticks=0),
        ProcStat(13, 1, own_ticks=1000, reaped_ticks=0),
    ]

    assert tree_ticks(stats, 10) == 128
    assert tree_ticks(stats, 11) == 23
    with pytest.raises(LookupError):
        tree_ticks(stats, 99)


APISERVER_METRICS = """\
# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each verb, ...
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="experiments.illm.io",resource="experiments",scope="resource",subresource="",verb="GET",version="v1alpha1"} 40
apiserver_request_total{code="404",component="apiserver",dry_run="",group="experiments.illm.io",resource="experiments",scope="resource",subresource="",verb="GET",version="v1alpha1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="experiments.illm.io",resource="experiments",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 17
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="events",scope="resource",subresource="",verb="POST",version="v1"} 5
apiserver_request_total{code="200",component="",dry_run="",group="",resource="",scope="",subresource="/healthz",verb="GET",version=""} 3
# HELP apiserver_request_duration_seconds [STABLE] Response latency distribution ...
# TYPE apiserver_request_duration_seconds histogram
apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="events",scope="resource",subresource="",verb="POST",version="v1",le="0.005"} 5
apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="events",scope="resource",subresource="",verb="POST",version="v1"} 5
"""  # noqa: E501 (the API server's own lines, verbatim)


def test_api_requests_are_summed_over_codes_per_verb_and_resource_with_subresource() -> None:
    counts = request_counts(APISERVER_METRICS)

    assert counts == {
        "GET experiments": 42,
        "PATCH experiments/status": 17,
        "POST events": 5,
        "GET /healthz": 3,
    }


def test_two_scrapes_subtract_to_the_requests_in_between() -> None:
    later = APISERVER_METRICS.replace("} 40\n", "} 100\n")

    assert dict(request_counts(later) - request_counts(APISERVER_METRICS)) == {"GET experiments": 60}


def test_a_history_counts_events_and_tasks_by_type() -> None:
    events = [
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
        *["EVENT_TYPE_WORKFLOW_TASK_SCHEDULED", "EVENT_TYPE_WORKFLOW_TASK_STARTED"] * 3,
        "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
        "EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT",
        "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
        "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED",
        "EVENT_TYPE_WORKFLOW_TASK_FAILED",
    ]

    assert history_counts(events) == {
        "events": 12,
        "workflow tasks scheduled": 3,
        "workflow tasks completed": 2,
        "workflow tasks failed/timed out": 2,
        "activity tasks scheduled": 1,
    }


def test_ratios_are_after_over_before_for_the_numbers_both_runs_have() -> None:
    before = {"cpu worker": 2.0, "api GET experiments": 50.0, "api LIST claims": 0.0, "label": "x"}
    after = {"cpu worker": 1.0, "api GET experiments": 5.0, "api LIST claims": 3.0}

    assert ratios(before, after) == {"cpu worker": 0.5, "api GET experiments": 0.1, "api LIST claims": float("inf")}
