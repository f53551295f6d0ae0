"""Code snippets named in ``spec.codeSnippets``, fetched from GitHub with their line ranges.

The original declared snippets and never fetched them (seed bug 4); the site and the analyzer want the
code itself. A snippet that cannot be fetched is kept with an ``error`` instead of failing the results:
a missing excerpt must not cost an experiment its data.
"""

from __future__ import annotations

import logging
from typing import Any

from github import GithubException

from activities.publish.github import github_client
from activities.settings import ResultsSettings
from api.experiment import CodeSnippet

log = logging.getLogger(__name__)
MAX_SNIPPET_LINES = 400


def cut_lines(text: str, start: int | None, end: int | None) -> str:
    """1-indexed, inclusive, clamped to the file and to MAX_SNIPPET_LINES."""
    lines = text.splitlines()
    first = max((start or 1) - 1, 0)
    last = min(end or len(lines), len(lines), first + MAX_SNIPPET_LINES)
    return "\n".join(lines[first:last])


def fetch_snippets(settings: ResultsSettings, snippets: dict[str, CodeSnippet]) -> dict[str, dict[str, Any]]:
    gh = github_client(settings)
    out: dict[str, dict[str, Any]] = {}
    for key, snippet in snippets.items():
        entry = snippet.to_wire()
        repo_name = snippet.repo or settings.github_repo
        entry["repo"] = repo_name
        try:
            repo = gh.get_repo(repo_name)
            ref = snippet.ref or repo.default_branch
            found = repo.get_contents(snippet.path, ref=ref)
            if isinstance(found, list):
                raise ValueError(f"{snippet.path} is a directory")
            entry["content"] = cut_lines(
                found.decoded_content.decode(errors="replace"), snippet.start_line, snippet.end_line
            )
            entry["ref"] = ref
            entry["url"] = found.html_url
        except (GithubException, ValueError) as err:
            status = getattr(err, "status", None)
            entry["error"] = f"{status} {getattr(err, 'data', err)}" if status else str(err)
            log.warning("code snippet %s (%s/%s) not fetched: %s", key, repo_name, snippet.path, entry["error"])
        out[key] = entry
    return out
