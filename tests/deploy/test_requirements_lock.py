"""requirements.lock, what the image installs, agrees with pyproject.toml and pins every distribution by hash.

The lock is generated (its header names the command, pip-tools 7.6.2); these tests make a change to
pyproject.toml that is not carried into the lock fail here instead of shipping silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.conftest import PYPROJECT, REPO

LOCK_TEXT = (REPO / "requirements.lock").read_text()
REGENERATE = "regenerate it with the command at the top of requirements.lock (pip-tools 7.6.2)"


@dataclass(frozen=True)
class Locked:
    name: str
    version: str
    hashes: tuple[str, ...]
    line: str


def _logical_lines(text: str) -> list[str]:
    """Requirement lines with their continuation lines joined; comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line.split(" #")[0] for line in text.splitlines()))
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _locked() -> dict[str, Locked]:
    entries: dict[str, Locked] = {}
    for line in _logical_lines(LOCK_TEXT):
        requirement, *options = line.split()
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", requirement)
        assert match, f"not an exact pin: {line[:80]}"
        hashes = tuple(option.removeprefix("--hash=sha256:") for option in options)
        assert all(option.startswith("--hash=sha256:") for option in options), f"unexpected option in {line[:80]}"
        name = canonicalize_name(match[1])
        assert name not in entries, f"{name} locked twice"
        entries[name] = Locked(name, match[2], hashes, line)
    return entries


LOCKED = _locked()


def test_every_runtime_dependency_is_locked_at_the_version_pyproject_pins() -> None:
    for dependency in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(dependency)
        locked = LOCKED.get(canonicalize_name(requirement.name))
        assert locked, f"{requirement.name} is a dependency but not in requirements.lock: {REGENERATE}"
        assert requirement.specifier.contains(locked.version, prereleases=True), (
            f"pyproject wants {dependency}, requirements.lock has {locked.version}: {REGENERATE}"
        )


def test_every_locked_distribution_is_pinned_with_sha256_hashes() -> None:
    assert LOCKED
    for locked in LOCKED.values():
        assert locked.hashes, f"{locked.name} has no hash: pip --require-hashes would refuse the whole file"
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in locked.hashes), locked.name


def test_the_lock_names_no_index_or_local_source() -> None:
    # An option line (--find-links, --index-url, --extra-index-url) would make the image build depend
    # on where the lock was generated; the hashes alone say what may be installed.
    options = [line for line in _logical_lines(LOCK_TEXT) if line.startswith("-")]
    assert not options, options


def test_the_build_backend_is_locked_so_the_project_builds_without_a_download() -> None:
    for dependency in PYPROJECT["build-system"]["requires"]:
        requirement = Requirement(dependency)
        locked = LOCKED.get(canonicalize_name(requirement.name))
        assert locked, f"build requirement {requirement.name} not locked: {REGENERATE}"
        assert requirement.specifier.contains(locked.version), f"{dependency} vs locked {locked.version}"


def test_nothing_of_the_lab_or_dev_extras_is_locked() -> None:
    runtime = {canonicalize_name(Requirement(d).name) for d in PYPROJECT["project"]["dependencies"]}
    project = canonicalize_name(PYPROJECT["project"]["name"])
    for extra, dependencies in PYPROJECT["project"]["optional-dependencies"].items():
        for dependency in dependencies:
            name = canonicalize_name(Requirement(dependency).name)
            if name != project and name not in runtime:
                assert name not in LOCKED, f"{name} of the [{extra}] extra is in the production lock"


def test_the_lock_is_closed_under_the_dependencies_of_what_it_locks() -> None:
    """Each locked distribution's own requirements are locked too (read from the venv, where it is the same version)."""
    checked = 0
    for locked in LOCKED.values():
        try:
            installed = metadata.distribution(locked.name)
        except metadata.PackageNotFoundError:
            continue
        if installed.version != locked.version:
            continue  # the venv resolved another version: its metadata says nothing about the locked one
        checked += 1
        for dependency in installed.requires or []:
            requirement = Requirement(dependency)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            assert canonicalize_name(requirement.name) in LOCKED, (
                f"{locked.name} {locked.version} requires {dependency}, which is not locked: {REGENERATE}"
            )
    if not checked:
        pytest.skip("no locked distribution is installed at its locked version in this environment")
