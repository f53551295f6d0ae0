"""GitHub's rate limits, as the real API applies them: waited out, never hammered, long ones handed to Temporal.

GitHub may ban an integration that sends requests before ``Retry-After`` has passed; the fake counts
every such request in ``early_requests``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError

from activities.errors import PublishFailed
from activities.publish import github
from activities.settings import ResultsSettings
from tests.fakes.github_server import FakeGitHub
from tests.results.conftest import make_settings
from tests.results.test_github import REPO, summary


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.add_repo(REPO)
        yield fake


def settings_for(fake: FakeGitHub, **extra: object) -> ResultsSettings:
    return make_settings(github_token=fake.token, github_api_url=fake.url, **extra)


def test_every_answer_carries_the_primary_rate_limit_headers(fake_github: FakeGitHub) -> None:
    github.publish(settings_for(fake_github), summary(), None)
    client = github.github_client(settings_for(fake_github))
    client.get_repo(REPO)
    remaining, limit = client.rate_limiting  # from the last answer's x-ratelimit-* headers
    assert limit == 5000 and remaining == 5000 - fake_github.used


@pytest.mark.parametrize("status", [403, 429])
def test_a_burst_of_writes_waits_out_the_secondary_limit_s_retry_after(fake_github: FakeGitHub, status: int) -> None:
    fake_github.secondary_limit(burst=1, window=60, block=1, status=status)
    pr = github.publish(settings_for(fake_github), summary(), None)
    assert fake_github.repos[REPO].pulls[pr.pr_number].state == "open"
    assert fake_github.rate_limited, "the burst was never limited: the test proves nothing"
    assert fake_github.early_requests == []


def test_a_secondary_limit_without_retry_after_waits_the_configured_time(fake_github: FakeGitHub) -> None:
    fake_github.secondary_limit(burst=1, window=60, block=1, retry_after_header=False)
    pr = github.publish(settings_for(fake_github, github_secondary_rate_wait_seconds=1.5), summary(), None)
    assert pr.pr_number == 1 and fake_github.rate_limited
    assert fake_github.early_requests == []


def test_a_retry_after_longer_than_the_cap_becomes_temporal_s_retry_delay(fake_github: FakeGitHub) -> None:
    fake_github.secondary_limit(burst=1, window=60, block=600)
    with pytest.raises(ApplicationError) as err:
        github.publish(settings_for(fake_github), summary(), None)
    assert err.value.type == "GitHubRateLimited" and not err.value.non_retryable
    assert err.value.next_retry_delay == timedelta(seconds=600)
    assert fake_github.early_requests == []


def test_an_exhausted_primary_limit_waits_for_its_reset_in_temporal(fake_github: FakeGitHub) -> None:
    fake_github.rate_limit = 2
    with pytest.raises(ApplicationError) as err:
        github.publish(settings_for(fake_github), summary(), None)
    delay = err.value.next_retry_delay
    assert delay is not None and timedelta(minutes=55) < delay <= timedelta(minutes=61)
    assert fake_github.early_requests == []


def test_a_403_that_is_no_rate_limit_is_refused_for_good_without_retrying(fake_github: FakeGitHub) -> None:
    fake_github.fail_next(403, method="POST", path_contains="/git/refs")
    with pytest.raises(PublishFailed, match="403"):
        github.publish(settings_for(fake_github), summary(), None)
    assert [r.method for r in fake_github.requests].count("POST") == 1
