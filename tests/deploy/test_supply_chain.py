"""The image workflow builds once, scans the pushed digest, signs and SBOM-attests it; Kyverno admits that signer."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import PLATFORM, REPO

WORKFLOW_PATH = ".github/workflows/image.yaml"
WORKFLOW = REPO / WORKFLOW_PATH
POLICY = PLATFORM / "policies" / "kyverno-verify-images.yaml"
REPOSITORY = "illMadeCoder/k8s-ai-cloud-testbed"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


@pytest.fixture(scope="module")
def job_steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    (job,) = workflow["jobs"].values()
    return list(job["steps"])


def _keyless_entries(policy: dict[str, Any]) -> list[dict[str, Any]]:
    entries = []
    for rule in policy["spec"]["rules"]:
        for verify in rule["verifyImages"]:
            attestors = list(verify["attestors"]) + [
                a for att in verify.get("attestations", []) for a in att["attestors"]
            ]
            entries += [entry["keyless"] for attestor in attestors for entry in attestor["entries"]]
    return entries


def test_actions_are_pinned_by_commit_sha_with_the_release_in_a_comment(job_steps: list[dict[str, Any]]) -> None:
    # A tag can be moved to another commit (as trivy-action's were in March 2026); a commit SHA cannot.
    uses = [line.strip() for line in WORKFLOW.read_text().splitlines() if line.strip().startswith(("uses:", "- uses:"))]
    assert len(uses) == len([step for step in job_steps if "uses" in step])
    for line in uses:
        assert re.fullmatch(r"(- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v?\d+\.\d+\.\d+", line), line


def test_only_the_image_job_may_mint_an_oidc_token(workflow: dict[Any, Any]) -> None:
    assert workflow["permissions"] == {"contents": "read"}
    (job,) = workflow["jobs"].values()
    assert job["permissions"]["id-token"] == "write"
    assert job["permissions"]["packages"] == "write"


def test_one_build_is_pushed_by_digest_then_scanned_signed_attested_and_only_then_tagged(
    job_steps: list[dict[str, Any]],
) -> None:
    text = [yaml.safe_dump(step) for step in job_steps]

    def index(pattern: str) -> int:
        found = [i for i, step in enumerate(text) if re.search(pattern, step)]
        assert found, f"no step matches {pattern}"
        return found[0]

    builds = [i for i, step in enumerate(job_steps) if "docker/build-push-action" in step.get("uses", "")]
    assert len(builds) == 1, "the image that is scanned and signed must be the one image that is built"
    (build,) = builds
    assert "push-by-digest=true" in job_steps[build]["with"]["outputs"], "no tag may name an unscanned image"
    digest = f"steps.{job_steps[build]['id']}.outputs.digest"
    scan = index(r"aquasecurity/trivy-action")
    assert job_steps[scan]["with"]["exit-code"] == "1", "a finding must fail the build"
    assert digest in job_steps[scan]["with"]["image-ref"], "the scan must read the pushed digest"
    sign = index(r"cosign sign --yes")
    sbom = index(r"anchore/sbom-action")
    attest = index(r"cosign attest --yes --type spdxjson")
    verify = index(r"cosign verify ")
    tag = index(r"imagetools create")
    assert build < scan < sign < verify < tag and sbom < attest < verify
    for step in (sign, attest, verify, tag):
        assert job_steps[step]["env"]["DIGEST"] == "${{ " + digest + " }}"
    assert digest in job_steps[sbom]["with"]["image"]
    # Keyless: no key material anywhere, the digest (not a tag) is what gets signed.
    assert not re.search(r"--key\b|COSIGN_PRIVATE_KEY", WORKFLOW.read_text())
    assert "@${DIGEST}" in job_steps[sign]["run"]


def test_signing_runs_on_exactly_the_refs_kyverno_admits(workflow: dict[Any, Any]) -> None:
    # PyYAML reads the key `on` as True.
    triggers = workflow.get("on") or workflow[True]
    refs = [f"refs/heads/{b}" for b in triggers["push"]["branches"]]
    refs += [f"refs/tags/{t.replace('*', '1.2.3')}" for t in triggers["push"]["tags"]]
    policy = yaml.safe_load(POLICY.read_text())
    entries = _keyless_entries(policy)
    assert entries
    for keyless in entries:
        assert keyless["issuer"] == GITHUB_ISSUER == workflow["env"]["OIDC_ISSUER"]
        assert keyless["rekor"]["url"] == "https://rekor.sigstore.dev"
        assert keyless["subjectRegExp"] == workflow["env"]["SIGNER_IDENTITY_REGEXP"]
        subject = re.compile(keyless["subjectRegExp"])
        for ref in refs:
            assert subject.fullmatch(f"https://github.com/{REPOSITORY}/{WORKFLOW_PATH}@{ref}"), ref
        for foreign in (
            f"https://github.com/{REPOSITORY}/{WORKFLOW_PATH}@refs/heads/feature",
            f"https://github.com/{REPOSITORY}/.github/workflows/other.yaml@refs/heads/main",
            f"https://github.com/someone/k8s-ai-cloud-testbed/{WORKFLOW_PATH}@refs/heads/main",
        ):
            assert not subject.fullmatch(foreign), foreign


def test_policy_covers_the_image_the_workflow_pushes(workflow: dict[Any, Any]) -> None:
    image = workflow["env"]["IMAGE"]
    policy = yaml.safe_load(POLICY.read_text())
    references = [ref for rule in policy["spec"]["rules"] for v in rule["verifyImages"] for ref in v["imageReferences"]]
    assert any(ref.rstrip("*") == image for ref in references)
    deployed = {
        line.split("image:")[1].strip().split(":")[0]
        for line in (REPO / "deploy" / "base" / "gateway.yaml").read_text().splitlines()
        if "image:" in line
    }
    assert deployed == {image}


def test_workflow_passes_actionlint() -> None:
    actionlint = os.environ.get("ACTIONLINT") or shutil.which("actionlint")
    if not actionlint:
        pytest.skip("actionlint not installed (go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.7)")
    result = subprocess.run([actionlint, str(WORKFLOW)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
