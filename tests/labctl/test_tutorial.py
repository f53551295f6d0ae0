"""`labctl tutorial`: both tutorial formats of the original, paged, with discovered endpoints filled in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labctl.tutorial import Page, page_interactively
from tests.labctl.conftest import Gateway, experiment_file

PATTERN_A = """\
name: demo
title: Demo tutorial
description: Poke the demo app.
instructions: |
  Welcome
  Read this first.
  =====
  # Open the app
  Browse to {{web}} and log in.
  ===
  Call the API
  curl {{ .api }}/health   # in {{namespace}}
  Unknown stays: {{missing}}
"""

PATTERN_B = """\
name: demo
title: Demo tutorial
difficulty: beginner
modules:
  - title: Explore
    description: Look around.
    objectives:
      - find the web UI at {{web}}
    checkpoints:
      - name: web up
        description: the page loads
        validation:
          type: pod_ready
          selector: app=web
  - name: Load it
    content: Point the load generator at {{.api}}.
    checkpoints:
      - name: done
        validation: {type: manual}
completion:
  title: Well done
  message: You finished.
  nextSteps: [labctl results]
"""


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """experiments/demo/ in a repo, with the current directory somewhere below it."""
    folder = tmp_path / "repo" / "experiments" / "demo"
    folder.mkdir(parents=True)
    below = tmp_path / "repo" / "docs"
    below.mkdir()
    monkeypatch.chdir(below)
    yield folder


def discovered(gateway: Gateway, tmp_path: Path, namespace: str) -> str:
    name = gateway.create(experiment_file(tmp_path, namespace))
    services = [
        {"name": "web", "endpoint": "http://10.1.2.3:8080", "ready": True},
        {"name": "api", "endpoint": "http://10.1.2.4:9000", "ready": True},
        {"name": "db", "ready": False},
    ]
    gateway.patch_status(name, {"phase": "Running", "tutorialStatus": {"services": services}})
    return name


def test_pattern_a_pages_split_on_equals_lines_with_endpoints_filled_in(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path, scenario: Path
) -> None:
    (scenario / "tutorial.yaml").write_text(PATTERN_A)
    name = discovered(gateway, tmp_path, kube_namespace)

    result = labctl("tutorial", name, "-n", kube_namespace)

    assert result.code == 0, result.err
    out = result.out
    assert out.startswith(f"Tutorial {scenario / 'tutorial.yaml'} — experiment {name} (Running)")
    assert "  service db: not discovered yet (not ready)" in out
    titles = [line.rsplit("  (", 1)[0] for line in out.splitlines() if line.endswith("/4)")]
    assert titles == ["Demo tutorial", "Welcome", "Open the app", "Call the API"]
    assert "Browse to http://10.1.2.3:8080 and log in." in out
    assert f"curl http://10.1.2.4:9000/health   # in {kube_namespace}" in out
    assert "Unknown stays: {{missing}}" in out


def test_pattern_b_modules_with_objectives_checkpoints_and_completion(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path, scenario: Path
) -> None:
    (scenario / "tutorial.yaml").write_text(PATTERN_B)
    name = discovered(gateway, tmp_path, kube_namespace)

    result = labctl("tutorial", name, "-n", kube_namespace, "--page", "2")

    assert result.code == 0, result.err
    page = result.out.split("─" * 72, 2)[2]
    assert page.strip().splitlines()[:4] == [
        "Look around.",
        "",
        "Objectives:",
        "  - find the web UI at http://10.1.2.3:8080",
    ]
    assert "Explore  (2/4)" in result.out
    assert "  - find the web UI at http://10.1.2.3:8080" in page
    assert "  [ ] web up — the page loads\n        check: pod_ready (selector=app=web)" in page
    everything = labctl("tutorial", name, "-n", kube_namespace).out
    assert "Point the load generator at http://10.1.2.4:9000." in everything
    assert "Well done  (4/4)" in everything and "  - labctl results" in everything
    assert "Difficulty: beginner" in everything


def test_offline_the_scenario_name_finds_the_tutorial(
    labctl: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, scenario: Path
) -> None:
    (scenario / "tutorial.yaml").write_text(PATTERN_A)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))

    result = labctl("tutorial", "demo", "--page", "3")

    assert result.code == 0, result.err
    assert result.out.startswith(f"Tutorial {scenario / 'tutorial.yaml'} (offline: cannot use kubeconfig")
    assert "Browse to {{web}} and log in." in result.out


def test_a_missing_tutorial_is_one_line(
    labctl: Any, gateway: Gateway, kube_namespace: str, tmp_path: Path, scenario: Path
) -> None:
    name = discovered(gateway, tmp_path, kube_namespace)

    result = labctl("tutorial", name, "-n", kube_namespace)

    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "no tutorial found (experiments/demo/tutorial.yaml" in result.err


def test_file_option_and_page_out_of_range(labctl: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    path = tmp_path / "t.yaml"
    path.write_text(PATTERN_B)

    result = labctl("tutorial", "whatever", "--file", str(path), "--page", "9")

    assert result.code == 2
    assert result.err == f"labctl tutorial: {path} has 4 page(s); there is no page 9\n"


def test_the_pager_moves_with_n_p_g_and_quits_with_q(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = iter(["n", "n", "p", "G", "g", "q"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(keys))
    pages = [Page(f"P{i}", f"body {i}") for i in range(1, 4)]

    page_interactively(pages)

    shown = [line for line in capsys.readouterr().out.splitlines() if line.startswith("P")]
    assert shown == ["P1  (1/3)", "P2  (2/3)", "P3  (3/3)", "P2  (2/3)", "P3  (3/3)", "P1  (1/3)"]
