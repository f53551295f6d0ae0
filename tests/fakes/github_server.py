"""A small stateful fake of the GitHub REST endpoints the publisher uses, on 127.0.0.1.

Repos, git refs, contents (create/update with SHA checks), pulls (list/create/get/edit), squash merge and
branch deletion, with GitHub's status codes for the cases the code must survive (422 for an existing
ref or PR, 409 for a stale file SHA, 405 for a PR that cannot be merged). Every ``url`` in a response
points back at this server, which PyGithub requires. ``fail_next`` injects errors (e.g. 502).

Rate limits as GitHub applies them: every answer carries the primary limit's ``x-ratelimit-*`` headers,
and an exhausted limit answers 403 "API rate limit exceeded" until its reset. ``secondary_limit(burst,
window)`` answers a burst of content-creating requests (POST/PUT/PATCH/DELETE) with 403 (or 429) "You
have exceeded a secondary rate limit" and ``Retry-After``; a request sent before that wait is over is
counted in ``early_requests`` (GitHub may ban an integration for those) and refused again.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.http import LoopbackServer, Request, Response

DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"


def _sha(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()


@dataclass
class FakePull:
    number: int
    title: str
    body: str
    head: str
    base: str
    state: str = "open"
    merged: bool = False


@dataclass
class FakeRepo:
    owner: str
    name: str
    default_branch: str = "main"
    refs: dict[str, str] = field(default_factory=dict)  # branch -> commit sha
    files: dict[str, dict[str, str]] = field(default_factory=dict)  # branch -> path -> text
    commits: list[tuple[str, str]] = field(default_factory=list)  # (branch, message)
    trees: dict[str, dict[str, str]] = field(default_factory=dict)
    """Every commit ever made → its files: a branch can be created from any of them, as on GitHub."""
    pulls: dict[int, FakePull] = field(default_factory=dict)


@dataclass
class Fault:
    status: int
    method: str | None
    path_contains: str | None
    remaining: int


WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit and have been temporarily blocked from content creation. "
    "Please retry your request again later."
)


@dataclass
class SecondaryLimit:
    burst: int
    window: float
    block: float
    retry_after_header: bool
    status: int
    writes: list[float] = field(default_factory=list)
    blocked_until: float = 0.0


class FakeGitHub:
    def __init__(self, token: str = "gh-test-token", rate_limit: int = 5000) -> None:
        self.token = token
        self.repos: dict[str, FakeRepo] = {}
        self.faults: list[Fault] = []
        self.rate_limit = rate_limit
        self.used = 0
        self.reset_at = int(time.time()) + 3600
        self.primary_refused = False
        self.secondary: SecondaryLimit | None = None
        self.early_requests: list[str] = []
        self.rate_limited: list[str] = []
        self._limits = threading.Lock()
        self._numbers = itertools.count(1)
        self._server = LoopbackServer(self.handle)
        self.url = self._server.url

    def __enter__(self) -> FakeGitHub:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)

    @property
    def requests(self) -> list[Request]:
        return self._server.requests

    def add_repo(self, full_name: str, files: dict[str, str] | None = None) -> FakeRepo:
        owner, name = full_name.split("/")
        repo = FakeRepo(owner, name)
        repo.files["main"] = dict(files or {})
        repo.refs["main"] = _sha("init", full_name)
        repo.trees[repo.refs["main"]] = dict(repo.files["main"])
        self.repos[full_name] = repo
        return repo

    def fail_next(
        self, status: int, *, method: str | None = None, path_contains: str | None = None, times: int = 1
    ) -> None:
        self.faults.append(Fault(status, method, path_contains, times))

    def secondary_limit(
        self, burst: int, window: float, block: float = 60.0, retry_after_header: bool = True, status: int = 403
    ) -> None:
        """More than ``burst`` content-creating requests within ``window`` s block writes for ``block`` s."""
        self.secondary = SecondaryLimit(burst, window, block, retry_after_header, status)

    # ----------------------------------------------------------------------------- dispatch

    def handle(self, req: Request) -> Response:
        for fault in self.faults:
            if fault.remaining and fault.method in (None, req.method) and (fault.path_contains or "") in req.path:
                fault.remaining -= 1
                return fault.status, {"message": f"injected {fault.status}"}, {}
        if req.headers.get("authorization") != f"token {self.token}":
            return 401, {"message": "Bad credentials"}, {}
        with self._limits:
            limited = self._rate_limit(req)
        if limited:
            self.rate_limited.append(f"{req.method} {req.path}")
            return limited
        status, body, headers = self._route(req)
        return status, body, headers | self._primary_headers()

    def _primary_headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(max(0, self.rate_limit - self.used)),
            "x-ratelimit-reset": str(self.reset_at),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-resource": "core",
        }

    def _rate_limit(self, req: Request) -> Response | None:
        """The refusal GitHub would send for this request, or None (then it counts against the limits)."""
        now = time.time()
        if self.used >= self.rate_limit:
            if now < self.reset_at:
                if self.primary_refused:  # the client was told, and asks again before the reset
                    self.early_requests.append(f"{req.method} {req.path}")
                self.primary_refused = True
                message = {"message": "API rate limit exceeded for user ID 1.", "documentation_url": DOCS}
                return 403, message, self._primary_headers()
            self.used, self.reset_at, self.primary_refused = 0, int(now) + 3600, False
        limit = self.secondary
        if limit and req.method in WRITES:
            if now < limit.blocked_until:
                self.early_requests.append(f"{req.method} {req.path}")
                return self._secondary_refusal(limit, limit.blocked_until - now)
            limit.writes = [t for t in limit.writes if now - t < limit.window] + [now]
            if len(limit.writes) > limit.burst:
                limit.writes = []  # after the block, a new burst is allowed
                limit.blocked_until = now + limit.block
                return self._secondary_refusal(limit, limit.block)
        self.used += 1
        return None

    def _secondary_refusal(self, limit: SecondaryLimit, wait: float) -> Response:
        headers = self._primary_headers()
        if limit.retry_after_header:
            headers["retry-after"] = str(math.ceil(wait))
        return limit.status, {"message": SECONDARY_MESSAGE, "documentation_url": DOCS}, headers

    def _route(self, req: Request) -> Response:
        m = re.match(r"^/repos/([^/]+/[^/]+)(/.*)?$", req.path)
        if not m or m.group(1) not in self.repos:
            return 404, {"message": "Not Found"}, {}
        repo, rest = self.repos[m.group(1)], m.group(2) or ""
        for pattern, method, handler in self._routes():
            found = re.match(pattern, rest)
            if found and req.method == method:
                return handler(repo, req, *found.groups())
        return 404, {"message": f"fake has no route {req.method} {rest}"}, {}

    def _routes(self) -> list[tuple[str, str, Any]]:
        return [
            (r"^$", "GET", lambda repo, req: (200, self._repo_json(repo), {})),
            (r"^/git/refs?/heads/(.+)$", "GET", self._get_ref),
            (r"^/git/refs$", "POST", self._create_ref),
            (r"^/git/refs?/heads/(.+)$", "DELETE", self._delete_ref),
            (r"^/contents/(.+)$", "GET", self._get_contents),
            (r"^/contents/(.+)$", "PUT", self._put_contents),
            (r"^/pulls$", "GET", self._list_pulls),
            (r"^/pulls$", "POST", self._create_pull),
            (r"^/pulls/(\d+)$", "GET", lambda repo, req, n: self._pull_or_404(repo, int(n))),
            (r"^/pulls/(\d+)$", "PATCH", self._edit_pull),
            (r"^/pulls/(\d+)/merge$", "PUT", self._merge_pull),
        ]

    # ------------------------------------------------------------------------------- JSON

    def _base(self, repo: FakeRepo) -> str:
        return f"{self.url}/repos/{repo.owner}/{repo.name}"

    def _repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        return {
            "id": 1,
            "name": repo.name,
            "full_name": f"{repo.owner}/{repo.name}",
            "owner": {"login": repo.owner, "url": f"{self.url}/users/{repo.owner}"},
            "default_branch": repo.default_branch,
            "url": self._base(repo),
            "html_url": f"{self.url}/{repo.owner}/{repo.name}",
        }

    def _ref_json(self, repo: FakeRepo, branch: str) -> dict[str, Any]:
        return {
            "ref": f"refs/heads/{branch}",
            "url": f"{self._base(repo)}/git/refs/heads/{branch}",
            "object": {"sha": repo.refs[branch], "type": "commit", "url": f"{self._base(repo)}/git/commits/x"},
        }

    def _content_json(self, repo: FakeRepo, branch: str, path: str) -> dict[str, Any]:
        text = repo.files[branch][path]
        return {
            "type": "file",
            "encoding": "base64",
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": _sha("blob", text),
            "size": len(text),
            "content": base64.b64encode(text.encode()).decode(),
            "url": f"{self._base(repo)}/contents/{path}?ref={branch}",
            "html_url": f"{self.url}/{repo.owner}/{repo.name}/blob/{branch}/{path}",
        }

    def _pull_json(self, repo: FakeRepo, pr: FakePull) -> dict[str, Any]:
        return {
            "number": pr.number,
            "id": pr.number,
            "title": pr.title,
            "body": pr.body,
            "state": pr.state,
            "merged": pr.merged,
            "url": f"{self._base(repo)}/pulls/{pr.number}",
            "html_url": f"{self.url}/{repo.owner}/{repo.name}/pull/{pr.number}",
            "issue_url": f"{self._base(repo)}/issues/{pr.number}",
            "head": {"ref": pr.head, "label": f"{repo.owner}:{pr.head}", "sha": repo.refs.get(pr.head, "")},
            "base": {"ref": pr.base, "label": f"{repo.owner}:{pr.base}", "sha": repo.refs.get(pr.base, "")},
        }

    # ---------------------------------------------------------------------------- handlers

    def _get_ref(self, repo: FakeRepo, req: Request, branch: str) -> Response:
        if branch not in repo.refs:
            return 404, {"message": "Not Found"}, {}
        return 200, self._ref_json(repo, branch), {}

    def _create_ref(self, repo: FakeRepo, req: Request) -> Response:
        body = req.json()
        branch = body["ref"].removeprefix("refs/heads/")
        if branch in repo.refs:
            return 422, {"message": "Reference already exists"}, {}
        heads = {sha: repo.files[b] for b, sha in repo.refs.items()}  # a test may have set a branch by hand
        tree = repo.trees.get(body["sha"], heads.get(body["sha"]))
        if tree is None:
            return 422, {"message": "Object does not exist"}, {}
        repo.refs[branch] = body["sha"]
        repo.files[branch] = dict(tree)
        return 201, self._ref_json(repo, branch), {}

    def _delete_ref(self, repo: FakeRepo, req: Request, branch: str) -> Response:
        if branch not in repo.refs:
            return 422, {"message": "Reference does not exist"}, {}
        del repo.refs[branch]
        del repo.files[branch]
        return 204, None, {}

    def _get_contents(self, repo: FakeRepo, req: Request, path: str) -> Response:
        branch = req.query.get("ref", repo.default_branch)
        if path not in repo.files.get(branch, {}):
            return 404, {"message": "Not Found"}, {}
        return 200, self._content_json(repo, branch, path), {}

    def _put_contents(self, repo: FakeRepo, req: Request, path: str) -> Response:
        body = req.json()
        branch = body.get("branch", repo.default_branch)
        if branch not in repo.refs:
            return 404, {"message": "Branch not found"}, {}
        existing = repo.files[branch].get(path)
        if existing is not None and body.get("sha") != _sha("blob", existing):
            return 409, {"message": f"{path} does not match {body.get('sha')}"}, {}
        if existing is None and body.get("sha"):
            return 422, {"message": "sha given for a new file"}, {}
        repo.files[branch][path] = base64.b64decode(body["content"]).decode()
        repo.refs[branch] = _sha(repo.refs[branch], path, repo.files[branch][path])
        repo.trees[repo.refs[branch]] = dict(repo.files[branch])
        repo.commits.append((branch, body["message"]))
        commit = {"sha": repo.refs[branch], "url": f"{self._base(repo)}/git/commits/{repo.refs[branch]}"}
        return (
            201 if existing is None else 200,
            {"content": self._content_json(repo, branch, path), "commit": commit},
            {},
        )

    def _list_pulls(self, repo: FakeRepo, req: Request) -> Response:
        state, head, base = req.query.get("state", "open"), req.query.get("head"), req.query.get("base")
        pulls = [
            self._pull_json(repo, p)
            for p in repo.pulls.values()
            if state in ("all", p.state)
            and (head is None or head == f"{repo.owner}:{p.head}")
            and (base is None or base == p.base)
        ]
        return 200, pulls, {}

    def _create_pull(self, repo: FakeRepo, req: Request) -> Response:
        body = req.json()
        if body["head"] not in repo.refs:
            return 422, {"message": "Validation Failed", "errors": [{"field": "head", "code": "invalid"}]}, {}
        if any(p.head == body["head"] and p.state == "open" for p in repo.pulls.values()):
            return 422, {"message": f"A pull request already exists for {repo.owner}:{body['head']}."}, {}
        pr = FakePull(next(self._numbers), body["title"], body.get("body") or "", body["head"], body["base"])
        repo.pulls[pr.number] = pr
        return 201, self._pull_json(repo, pr), {}

    def _pull_or_404(self, repo: FakeRepo, number: int) -> Response:
        pr = repo.pulls.get(number)
        return (200, self._pull_json(repo, pr), {}) if pr else (404, {"message": "Not Found"}, {})

    def _edit_pull(self, repo: FakeRepo, req: Request, number: str) -> Response:
        pr = repo.pulls.get(int(number))
        if pr is None:
            return 404, {"message": "Not Found"}, {}
        body = req.json()
        pr.title = body.get("title", pr.title)
        pr.body = body.get("body", pr.body)
        if body.get("state") in ("open", "closed") and not pr.merged:
            pr.state = body["state"]
        return 200, self._pull_json(repo, pr), {}

    def _merge_pull(self, repo: FakeRepo, req: Request, number: str) -> Response:
        pr = repo.pulls.get(int(number))
        if pr is None:
            return 404, {"message": "Not Found"}, {}
        if pr.state != "open" or pr.head not in repo.refs:
            return 405, {"message": "Pull Request is not mergeable"}, {}
        if req.json().get("merge_method") != "squash":
            return 405, {"message": "only squash merges are allowed in this repo"}, {}
        repo.files[pr.base] = dict(repo.files[pr.head])
        repo.refs[pr.base] = _sha("squash", repo.refs[pr.head])
        repo.trees[repo.refs[pr.base]] = dict(repo.files[pr.base])
        repo.commits.append((pr.base, req.json().get("commit_title", pr.title)))
        pr.state, pr.merged = "closed", True
        return 200, {"sha": repo.refs[pr.base], "merged": True, "message": "Pull Request successfully merged"}, {}
