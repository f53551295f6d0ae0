"""GitHub publishing against a local stateful fake: PR lifecycle, idempotency, failures, code snippets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from github import GithubException
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError

from activities.errors import PublishFailed, ReviewActionFailed
from activities.publish import github
from activities.publish.contracts import PublishResultsInput, ResultsPullRequest
from activities.results.code_snippets import fetch_snippets
from activities.results.pipeline import ResultsActivities
from activities.results.s3_store import ResultsStore
from activities.settings import ResultsSettings
from api.experiment import CodeSnippet
from tests.fakes.github_server import FakeGitHub, FakeRepo
from tests.results.conftest import experiment_ref, make_settings
from tests.results.test_store_results import activity_env

REPO = "illMadeCoder/k8s-ai-cloud-testbed"
CODE = "\n".join(f"line {i}" for i in range(1, 21))


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.add_repo(REPO, {"site/data/older.json": "{}", "db/engine.go": CODE})
        yield fake


@pytest.fixture
def gh_settings(fake_github: FakeGitHub) -> ResultsSettings:
    return make_settings(github_token=fake_github.token, github_api_url=fake_github.url)


def summary(name: str = "gw-abc12") -> dict[str, Any]:
    return {
        "name": name,
        "title": "Gateway comparison",
        "hypothesis": {
            "claim": "fast",
            "machineVerdict": "validated",
            "successCriteria": [
                {
                    "metric": "request_rate",
                    "operator": "gte",
                    "value": "100",
                    "actualValue": "105.0",
                    "outcome": "passed",
                }
            ],
        },
        "metricStatistics": {"request_rate": {"app": {"mean": 120.0, "min": 1, "max": 2, "last": 1, "count": 1}}},
        "costEstimate": {"totalUSD": 0.03, "durationHours": 0.2},
        "reportURL": "http://s3.local/experiment-results/gw-abc12/report.html",
    }


def repo_of(fake: FakeGitHub) -> FakeRepo:
    return fake.repos[REPO]


def test_publish_opens_a_pr_with_the_data_file_and_a_useful_body(
    fake_github: FakeGitHub, gh_settings: ResultsSettings
) -> None:
    pr = github.publish(gh_settings, summary(), "Gateway comparison")
    repo = repo_of(fake_github)
    assert pr.branch == "experiment/gw-abc12" and pr.pr_number == 1
    assert pr.pr_url.endswith("/pull/1")
    assert json.loads(repo.files["experiment/gw-abc12"]["site/data/gw-abc12.json"])["name"] == "gw-abc12"
    assert "site/data/gw-abc12.json" not in repo.files["main"]
    opened = repo.pulls[1]
    assert opened.title == "data: Gateway comparison" and opened.base == "main"
    for expected in (
        "**Verdict:** validated",
        "`request_rate` | 105.0 | gte 100 | passed",
        "request_rate (app)",
        "report.html",
    ):
        assert expected in opened.body
    assert repo.commits == [("experiment/gw-abc12", "data: Add gw-abc12 experiment results")]


def test_publishing_again_reuses_branch_file_and_pr(fake_github: FakeGitHub, gh_settings: ResultsSettings) -> None:
    first = github.publish(gh_settings, summary(), None)
    again = github.publish(gh_settings, summary(), None)
    repo = repo_of(fake_github)
    assert again == first and len(repo.pulls) == 1 and len(repo.commits) == 1
    changed = summary() | {"description": "rerun"}
    github.publish(gh_settings, changed, None)
    assert repo.commits[-1] == ("experiment/gw-abc12", "data: Update gw-abc12 experiment results")


def test_publish_succeeds_when_the_branch_already_exists(fake_github: FakeGitHub, gh_settings: ResultsSettings) -> None:
    repo = repo_of(fake_github)
    repo.refs["experiment/gw-abc12"] = repo.refs["main"]
    repo.files["experiment/gw-abc12"] = dict(repo.files["main"])
    assert github.publish(gh_settings, summary(), None).pr_number == 1


def test_a_branch_github_did_not_create_is_retried_not_taken_for_an_existing_one(
    fake_github: FakeGitHub, gh_settings: ResultsSettings
) -> None:
    """Creating the branch answered 422 without the branch existing (GitHub's "Object does not exist" for
    a base commit it no longer has): before, any 422 counted as "already exists" and the next write
    failed for good with 404 "Branch not found" (seen in the soak, docs/resilience.md)."""
    fake_github.fail_next(422, method="POST", path_contains="/git/refs")
    with pytest.raises(ApplicationError, match="did not create branch experiment/gw-abc12") as err:
        github.publish(gh_settings, summary(), None)
    assert not err.value.non_retryable and not isinstance(err.value, PublishFailed)
    assert github.publish(gh_settings, summary(), None).pr_number == 1  # the retry reads the base again


def test_a_branch_is_created_from_a_base_commit_a_merge_has_moved_past(
    fake_github: FakeGitHub, gh_settings: ResultsSettings
) -> None:
    """As on GitHub (the fake keeps every commit): two experiments publishing while a third's PR merges."""
    repo = github.github_client(gh_settings).get_repo(REPO)
    before = repo.get_git_ref("heads/main").object.sha
    pr = github.publish(gh_settings, summary("merged-first"), None)
    github.merge(gh_settings, pr.pr_number, pr.branch)
    assert repo.get_git_ref("heads/main").object.sha != before
    repo.create_git_ref("refs/heads/experiment/late", before)
    assert "site/data/merged-first.json" not in repo_of(fake_github).files["experiment/late"]


def test_publish_then_approve_squash_merges_and_deletes_the_branch(
    fake_github: FakeGitHub, gh_settings: ResultsSettings
) -> None:
    pr = github.publish(gh_settings, summary(), "Gateway comparison")
    github.merge(gh_settings, pr.pr_number, pr.branch)
    repo = repo_of(fake_github)
    assert repo.pulls[pr.pr_number].merged
    assert "site/data/gw-abc12.json" in repo.files["main"]
    assert pr.branch not in repo.refs
    assert repo.commits[-1] == ("main", "data: Gateway comparison (#1)")
    github.merge(gh_settings, pr.pr_number, pr.branch)  # a retried approve is a no-op


def test_publish_then_reject_closes_and_deletes_the_branch(
    fake_github: FakeGitHub, gh_settings: ResultsSettings
) -> None:
    pr = github.publish(gh_settings, summary(), None)
    github.close(gh_settings, pr.pr_number, pr.branch)
    repo = repo_of(fake_github)
    assert repo.pulls[pr.pr_number].state == "closed" and not repo.pulls[pr.pr_number].merged
    assert pr.branch not in repo.refs and "site/data/gw-abc12.json" not in repo.files["main"]
    github.close(gh_settings, pr.pr_number, pr.branch)  # closing twice (delete after reject) is fine


def test_branch_delete_failure_does_not_fail_the_merge(fake_github: FakeGitHub, gh_settings: ResultsSettings) -> None:
    pr = github.publish(gh_settings, summary(), None)
    fake_github.fail_next(500, method="DELETE", path_contains="/git/ref", times=5)
    github.merge(gh_settings, pr.pr_number, pr.branch)
    assert repo_of(fake_github).pulls[pr.pr_number].merged


def test_approving_a_pr_closed_by_hand_is_a_permanent_failure(
    fake_github: FakeGitHub, gh_settings: ResultsSettings
) -> None:
    pr = github.publish(gh_settings, summary(), None)
    repo_of(fake_github).pulls[pr.pr_number].state = "closed"
    with pytest.raises(ReviewActionFailed, match="closed without merging"):
        github.merge(gh_settings, pr.pr_number, pr.branch)


def test_unmergeable_pr_is_a_permanent_failure(fake_github: FakeGitHub, gh_settings: ResultsSettings) -> None:
    pr = github.publish(gh_settings, summary(), None)
    fake_github.fail_next(405, method="PUT", path_contains="/merge")
    with pytest.raises(ReviewActionFailed, match="405"):
        github.merge(gh_settings, pr.pr_number, pr.branch)


def test_server_errors_are_left_to_temporal_to_retry(fake_github: FakeGitHub, gh_settings: ResultsSettings) -> None:
    fake_github.fail_next(502, method="POST", path_contains="/pulls")
    with pytest.raises(GithubException) as err:
        github.publish(gh_settings, summary(), None)
    assert err.value.status == 502 and not isinstance(err.value, PublishFailed)
    assert github.publish(gh_settings, summary(), None).pr_number == 1  # the retry finishes the job


def test_bad_token_or_missing_token_fails_publishing_for_good(
    fake_github: FakeGitHub, gh_settings: ResultsSettings
) -> None:
    with pytest.raises(PublishFailed, match="401"):
        github.publish(make_settings(github_token="wrong", github_api_url=fake_github.url), summary(), None)
    unset = make_settings(github_api_url=fake_github.url)
    with pytest.raises(PublishFailed, match="GITHUB_TOKEN"):
        github.publish(unset, summary(), None)


def test_code_snippets_are_fetched_with_their_line_ranges(
    fake_github: FakeGitHub, gh_settings: ResultsSettings
) -> None:
    snippets = {
        "engine": CodeSnippet(name="engine", language="go", path="db/engine.go", start_line=3, end_line=5),
        "missing": CodeSnippet(name="gone", language="go", repo="someone/else", path="x.go"),
    }
    fetched = fetch_snippets(gh_settings, snippets)
    assert fetched["engine"]["content"] == "line 3\nline 4\nline 5"
    assert fetched["engine"]["ref"] == "main" and fetched["engine"]["repo"] == REPO
    assert "404" in fetched["missing"]["error"] and "content" not in fetched["missing"]


@pytest.mark.asyncio(loop_scope="session")
async def test_publish_activity_reads_the_summary_from_s3(
    fake_github: FakeGitHub, s3_settings: ResultsSettings
) -> None:
    settings = s3_settings.model_copy(
        update={"github_token": SecretStr(fake_github.token), "github_api_url": fake_github.url}
    )
    ResultsStore.from_settings(settings).put_json("gw-abc12/summary.json", summary())
    acts = ResultsActivities(settings)
    exp = experiment_ref("gw-abc12")
    published = await activity_env().run(
        acts.publish_results, PublishResultsInput(experiment=exp, summary_key="gw-abc12/summary.json", title="T")
    )
    assert published.pr_number == 1
    await activity_env().run(
        acts.merge_results_pr,
        ResultsPullRequest(experiment=exp, pr_number=published.pr_number, branch=published.branch),
    )
    assert repo_of(fake_github).pulls[1].merged
