"""GitHub publishing (PyGithub): results branch, ``site/data/<exp>.json``, PR, squash-merge or close.

Every step is idempotent, because Temporal retries activities: an existing branch is reused (the
original failed the whole publish, seed §3.7), an unchanged file is not re-committed, an open PR for
the branch is found and its body refreshed instead of a second one being opened. After a merge or
close, deleting the branch is best effort: the PR outcome is what the review asked for, and the
original's "merged but branch delete failed → MergeFailed forever" loop (bug 17) is gone.

Blocking calls; the activities run them in a thread while heartbeating. Rate limits are honoured, as
GitHub asks (no request before ``Retry-After`` has passed, else the integration may be banned): PyGithub's
``GithubRetry`` waits out a short one inside the call (``Retry-After``, a secondary limit's minute, or
until ``x-ratelimit-reset``); a longer wait becomes a retryable error whose ``next_retry_delay`` is that
wait, so Temporal sleeps durably instead of a worker thread. Server errors propagate as ordinary
exceptions (Temporal retries them); refusals (bad token, missing repo, conflicts) become the named
permanent errors.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Any

from github import Auth, Github, GithubException, GithubRetry
from github.GithubException import RateLimitExceededExceedsMaxWait
from github.PullRequest import PullRequest
from github.Repository import Repository
from temporalio.exceptions import ApplicationError
from urllib3.response import BaseHTTPResponse

from activities.errors import PublishFailed, ReviewActionFailed
from activities.publish.contracts import PublishedResults
from activities.results.html_report import key_numbers
from activities.settings import ResultsSettings
from api import names

log = logging.getLogger(__name__)
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class RateLimitRetry(GithubRetry):
    """``GithubRetry`` for rate limits only, which also refuses to sleep a ``Retry-After`` beyond its cap.

    Connection errors and 5xx are not retried here (Temporal owns those retries: PyGithub's own would hide
    a flapping server inside one attempt). urllib3 would shorten a long ``Retry-After`` to its cap and
    retry too early; this raises instead, and the activity hands the wait to Temporal.
    """

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        seconds = super().get_retry_after(response)
        if seconds is not None and self.max_rate_limit_wait is not None and seconds > self.max_rate_limit_wait:
            raise RateLimitExceededExceedsMaxWait(response.status, None, dict(response.headers), wait=seconds)
        return seconds


def github_client(settings: ResultsSettings) -> Github:
    token = settings.github_token.get_secret_value()
    retry = RateLimitRetry(
        total=settings.github_rate_limit_retries,
        connect=0,
        read=0,
        other=0,
        status_forcelist=[],  # GithubRetry adds 403 (rate limits); 429 is retried when it has Retry-After
        allowed_methods=frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"}),  # a limited request did nothing
        raise_on_status=False,  # the last answer becomes a GithubException, not a urllib3 MaxRetryError
        secondary_rate_wait=settings.github_secondary_rate_wait_seconds,
        max_rate_limit_wait=settings.github_max_rate_limit_wait_seconds,
    )
    return Github(
        base_url=settings.github_api_url.rstrip("/"),
        auth=Auth.Token(token) if token else None,
        retry=retry,
        timeout=int(settings.github_timeout_seconds),
        seconds_between_requests=settings.github_seconds_between_requests,
        seconds_between_writes=settings.github_seconds_between_writes,
    )


def rate_limit_wait(err: GithubException) -> float | None:
    """Seconds GitHub asks us to wait before the next request, or None when ``err`` is no rate limit."""
    if isinstance(err, RateLimitExceededExceedsMaxWait) and err.wait is not None:
        return err.wait
    if err.status not in (403, 429):
        return None
    headers = {k.lower(): v for k, v in (err.headers or {}).items()}
    if headers.get("retry-after", "").strip().isdigit():
        return float(headers["retry-after"])
    if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset", "").isdigit():
        return max(1.0, int(headers["x-ratelimit-reset"]) - time.time() + 1)
    if "rate limit" in str(err.data).lower():
        return 60.0  # a secondary limit without Retry-After: GitHub asks for at least a minute
    return None


def _permanent(err: GithubException) -> bool:
    return err.status not in RETRYABLE_STATUSES and rate_limit_wait(err) is None


def _retry_later(err: GithubException, what: str) -> Exception:
    """A rate limit becomes a retryable error that makes Temporal wait as long as GitHub asked; else ``err``."""
    wait = rate_limit_wait(err)
    if wait is None:
        return err
    return ApplicationError(
        f"GitHub rate limit while {what}: retrying in {wait:.0f} s ({err.status} {err.data})",
        type="GitHubRateLimited",
        next_retry_delay=timedelta(seconds=wait),
    )


def results_path(settings: ResultsSettings, experiment: str) -> str:
    return f"{settings.github_results_path.strip('/')}/{experiment}.json"


def _ensure_branch(repo: Repository, branch: str, base: str) -> None:
    try:
        repo.get_git_ref(f"heads/{branch}").object  # noqa: B018 (forces the GET)
        return
    except GithubException as err:
        if err.status != 404:
            raise
    sha = repo.get_git_ref(f"heads/{base}").object.sha
    try:
        repo.create_git_ref(f"refs/heads/{branch}", sha)
    except GithubException as err:
        if err.status != 422:
            raise
        # "Reference already exists" (a concurrent attempt won) is fine; any other 422, e.g. "Object does
        # not exist" for a base commit GitHub no longer knows, left no branch: read the base again later.
        try:
            repo.get_git_ref(f"heads/{branch}").object  # noqa: B018 (forces the GET)
        except GithubException as missing:
            if missing.status != 404:
                raise
            raise ApplicationError(
                f"GitHub did not create branch {branch} from {base} at {sha[:12]}: {err.status} {err.data}",
                type="GitHubBranchNotCreated",
            ) from err


def put_results_file(repo: Repository, path: str, branch: str, text: str, experiment: str, what: str = "") -> bool:
    """Create or update the file on the branch; False when it already has this content."""
    try:
        existing = repo.get_contents(path, ref=branch)
    except GithubException as err:
        if err.status != 404:
            raise
        repo.create_file(path, f"data: Add {experiment} experiment results{what}", text, branch=branch)
        return True
    assert not isinstance(existing, list), f"{path} is a directory"
    if existing.decoded_content.decode() == text:
        return False
    repo.update_file(path, f"data: Update {experiment} experiment results{what}", text, existing.sha, branch=branch)
    return True


def _open_pr(repo: Repository, branch: str, base: str) -> PullRequest | None:
    owner = repo.owner.login
    return next(iter(repo.get_pulls(state="open", head=f"{owner}:{branch}", base=base)), None)


def pr_body(summary: dict[str, Any], path: str, report_url: str | None) -> str:
    """What a reviewer needs to approve or reject without opening anything else."""
    hypothesis = summary.get("hypothesis") or {}
    verdict = hypothesis.get("machineVerdict") or "no machine verdict (no success criteria)"
    lines = [
        f"## {summary.get('title') or summary['name']}",
        "",
        f"**Verdict:** {verdict}",
    ]
    if hypothesis.get("claim"):
        lines.append(f"**Claim:** {hypothesis['claim']}")
    criteria = hypothesis.get("successCriteria") or []
    if criteria:
        lines += ["", "| Criterion | Actual | Threshold | Outcome |", "|---|---|---|---|"]
        lines += [
            f"| `{c['metric']}` | {c.get('actualValue', '—')} | {c['operator']} {c['value']} | {c.get('outcome', '')} |"
            for c in criteria
        ]
    numbers = key_numbers(summary)
    if numbers:
        lines += ["", "**Key numbers**", *[f"- {n}" for n in numbers]]
    cost = summary.get("costEstimate") or {}
    if cost:
        lines.append(f"- estimated cost: ${cost.get('totalUSD', 0):.4f} over {cost.get('durationHours', 0):.2f} h")
    lines += ["", f"Data file: `{path}`"]
    if report_url:
        lines.append(f"Report: {report_url}")
    lines += [
        "",
        "Preview locally: check out this branch, then `labctl site build --from-dir site/data --out /tmp/site`.",
    ]
    return "\n".join(lines)


def publish(settings: ResultsSettings, summary: dict[str, Any], title: str | None) -> PublishedResults:
    if not settings.github_enabled:
        raise PublishFailed("GitHub publishing is disabled: GITHUB_TOKEN is not set")
    experiment = summary["name"]
    branch, base = names.publish_branch(experiment), settings.github_branch
    path = results_path(settings, experiment)
    try:
        repo = github_client(settings).get_repo(settings.github_repo)
        _ensure_branch(repo, branch, base)
        put_results_file(repo, path, branch, json.dumps(summary, indent=2, ensure_ascii=False), experiment)
        body = pr_body(summary, path, summary.get("reportURL"))
        pr = _open_pr(repo, branch, base)
        if pr is None:
            pr_title = f"data: {title}" if title else f"data: Add {experiment} experiment results"
            try:
                pr = repo.create_pull(base=base, head=branch, title=pr_title, body=body)
            except GithubException as err:
                pr = _open_pr(repo, branch, base) if err.status == 422 else None
                if pr is None:
                    raise
        if pr.body != body:
            pr.edit(body=body)
        return PublishedResults(branch=branch, pr_number=pr.number, pr_url=pr.html_url)
    except GithubException as err:
        if _permanent(err):
            raise PublishFailed(
                f"GitHub refused publishing to {settings.github_repo}: {err.status} {err.data}"
            ) from err
        raise _retry_later(err, f"publishing to {settings.github_repo}") from err


def merge(settings: ResultsSettings, pr_number: int, branch: str) -> None:
    try:
        repo = github_client(settings).get_repo(settings.github_repo)
        pr = repo.get_pull(pr_number)
        if not pr.merged:
            if pr.state == "closed":
                raise ReviewActionFailed(f"PR #{pr_number} was closed without merging; reopen it to approve")
            status = pr.merge(merge_method="squash", commit_title=f"{pr.title} (#{pr_number})")
            if not status.merged:
                raise ReviewActionFailed(f"PR #{pr_number} not merged: {status.message}")
    except GithubException as err:
        if _permanent(err):
            raise ReviewActionFailed(f"merging PR #{pr_number} failed: {err.status} {err.data}") from err
        raise _retry_later(err, f"merging PR #{pr_number}") from err
    delete_branch(repo, branch)


def close(settings: ResultsSettings, pr_number: int, branch: str) -> None:
    try:
        repo = github_client(settings).get_repo(settings.github_repo)
        pr = repo.get_pull(pr_number)
        if pr.state == "open":
            pr.edit(state="closed")
    except GithubException as err:
        if _permanent(err) and err.status != 404:
            raise ReviewActionFailed(f"closing PR #{pr_number} failed: {err.status} {err.data}") from err
        if not _permanent(err):
            raise _retry_later(err, f"closing PR #{pr_number}") from err
        return
    delete_branch(repo, branch)


def delete_branch(repo: Repository, branch: str) -> bool:
    """Best effort: a branch left behind is logged, never turned into a failed review."""
    try:
        ref = repo.get_git_ref(f"heads/{branch}")
        ref.object  # noqa: B018 (completes the lazy ref so delete() uses the API's own URL)
        ref.delete()
        return True
    except GithubException as err:
        if err.status not in (404, 422):
            log.warning("could not delete branch %s: %s %s", branch, err.status, err.data)
        return False


def update_published_file(settings: ResultsSettings, summary: dict[str, Any]) -> bool:
    """After analysis: refresh ``site/data/<exp>.json`` on the results branch if it exists (best effort)."""
    if not settings.github_enabled:
        return False
    experiment = summary["name"]
    branch = names.publish_branch(experiment)
    try:
        repo = github_client(settings).get_repo(settings.github_repo)
        repo.get_git_ref(f"heads/{branch}").object  # noqa: B018
        text = json.dumps(summary, indent=2, ensure_ascii=False)
        return put_results_file(repo, results_path(settings, experiment), branch, text, experiment, " with analysis")
    except GithubException as err:
        log.warning("results branch %s not updated with the analysis: %s %s", branch, err.status, err.data)
        return False
