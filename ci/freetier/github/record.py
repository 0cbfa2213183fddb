"""What the workflow recorded on a pull request when it planned it, read back for deploy.

Two records, both written by the workflow's own App (github/authors.py) and by nobody else:
the newest comment carrying the plan marker, which is what reviewers read, and the check runs
on the pull request's head commit, which only a GitHub App can create and which belong to
that one commit. Comments with the marker by anyone else are counted, never read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from github.CheckRun import CheckRun

from freetier.github.authors import GITHUB_ACTIONS, marked_comments
from freetier.github.client import (
    DEFAULT_RETRY,
    RetryPolicy,
    connect,
    open_pull,
    remote_errors,
    require_token,
)
from freetier.github.names import check_repo_name


@dataclass(frozen=True)
class ReviewRecord:
    """A pull request's review, as the workflow's App wrote it."""

    pr: int
    head_sha: str
    author: str  # the App's bot user every record here was checked against
    comment_id: int | None = None  # the newest marker comment by `author`, if any
    comment: str = ""
    ignored: tuple[str, ...] = ()  # authors of marker comments that are not `author`'s
    checks: dict[str, str] = field(default_factory=dict)  # check run name -> output.text


def read_review_record(
    repo: str,
    pr: int,
    marker: str,
    *,
    token: str,
    base_url: str | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> ReviewRecord:
    """The workflow's newest marker comment on pull request `pr` and, by check run name, the
    text of its newest check run on the pull request's head commit (every page read)."""
    token = require_token(token)
    check_repo_name(repo)
    with connect(token, base_url=base_url, retry=retry) as gh:
        repository, pull = open_pull(gh, repo, pr, token)
        ours, others = marked_comments(pull, marker, token)
        head = pull.head.sha
        with remote_errors(f"listing the check runs of {head} in {repo}", token):
            runs = repository.get_commit(head).get_check_runs(filter="all")
            checks = _newest_texts(r for r in runs if GITHUB_ACTIONS.ran(r))
    newest = ours[-1] if ours else None
    return ReviewRecord(
        pr=pr,
        head_sha=head,
        author=GITHUB_ACTIONS.login,
        comment_id=newest.id if newest else None,
        comment=(newest.body or "") if newest else "",
        ignored=tuple(sorted({c.user.login if c.user else "(deleted user)" for c in others})),
        checks=checks,
    )


def _newest_texts(runs: Iterable[CheckRun]) -> dict[str, str]:
    """Check run name -> `output.text` of the newest run of that name (ids grow with time)."""
    newest: dict[str, CheckRun] = {}
    for run in runs:
        kept = newest.get(run.name)
        if kept is None or run.id > kept.id:
            newest[run.name] = run
    return {name: (run.output.text or "") for name, run in newest.items()}
