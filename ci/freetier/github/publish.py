"""Publish a pull request's plans: one sticky comment, a check run per layer, managed labels.

The sticky comment is found by `marker` on its first line, across every page of the pull
request's comments, among the comments the workflow itself wrote (github/authors.py): a
comment by anyone else that copies the marker is never edited nor minimized. The newest copy
of ours is edited in place and older copies (left by a race or a retried create) are
minimized as OUTDATED, so the thread never fills with duplicates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from github.GithubException import GithubException
from github.PullRequest import PullRequest
from github.Repository import Repository

from freetier.errors import ConfigError
from freetier.github.authors import is_marked, marked_comments
from freetier.github.client import (
    DEFAULT_RETRY,
    RetryPolicy,
    connect,
    open_pull,
    open_repository,
    remote_errors,
    require_token,
    scrub,
)
from freetier.github.names import FULL_SHA, check_repo_name

COMMENT_LIMIT = 65_536  # characters GitHub accepts in an issue comment
SUMMARY_LIMIT = 65_535  # characters GitHub accepts in a check run's output.summary
DEFAULT_LABEL_COLOUR = "ededed"
LABEL_COLOURS = {
    "plan:destroy": "d93f0b",
    "plan:no-changes": "0e8a16",
    "cost:over-free-tier": "b60205",
}
LABEL_DESCRIPTION = "Managed by freetier"

Conclusion = Literal["success", "neutral", "failure"]


@dataclass(frozen=True)
class CheckRun:
    """One layer's check run on the pull request's head commit."""

    name: str  # e.g. "freetier plan: oci"
    conclusion: Conclusion
    title: str
    summary: str  # markdown; cut to SUMMARY_LIMIT with a visible notice when longer
    text: str = ""  # output.text: what a reader of the check run needs whole (a fingerprint)


@dataclass(frozen=True)
class Publication:
    """Everything one `publish` puts on a pull request."""

    body: str  # the comment; starts with `marker` on its first line
    marker: str  # e.g. "<!-- freetier:plan -->"
    head_sha: str  # the commit the check runs attach to
    checks: tuple[CheckRun, ...] = ()
    labels_add: frozenset[str] = frozenset()
    labels_remove: frozenset[str] = frozenset()  # managed labels that no longer apply


@dataclass(frozen=True)
class Published:
    """What `publish` did: the sticky comment, the copies it hid, check runs, final labels."""

    comment_id: int
    created: bool
    minimized: tuple[int, ...]
    check_run_ids: tuple[int, ...]
    labels: tuple[str, ...]


_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def check_comment_length(body: str) -> None:
    if len(body) > COMMENT_LIMIT:
        raise ValueError(
            f"comment body is {len(body):,} characters; GitHub accepts at most {COMMENT_LIMIT:,}"
        )


def check_publication(publication: Publication) -> None:
    """Refuse, before any request, a publication GitHub would reject or we could not find
    again next time (ValueError: a bug in the caller, not bad user input)."""
    if not publication.marker.strip():
        raise ValueError("publication marker is empty")
    if not is_marked(publication.body, publication.marker):
        raise ValueError(f"comment body must start with {publication.marker!r} on its first line")
    check_comment_length(publication.body)
    if not FULL_SHA.fullmatch(publication.head_sha):
        raise ValueError(f"head_sha {publication.head_sha!r}: not a full commit SHA")
    both = publication.labels_add & publication.labels_remove
    if both:
        raise ValueError(f"labels both added and removed: {', '.join(sorted(both))}")
    for check in publication.checks:
        if not check.name.strip() or not check.title.strip():
            raise ValueError(f"check run {check.name!r}: name and title must not be empty")
        if len(check.text) > SUMMARY_LIMIT:
            raise ValueError(f"check run {check.name!r}: text is over {SUMMARY_LIMIT:,} characters")


def _open_fence(text: str) -> str | None:
    """The code fence still open at the end of `text`, if any."""
    fence: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if match is None:
            continue
        run = match.group(1)
        if fence is None:
            fence = run
        elif run[0] == fence[0] and len(run) >= len(fence) and line.strip() == run:
            fence = None
    return fence


def fit_summary(summary: str, limit: int = SUMMARY_LIMIT) -> str:
    """`summary` if it fits in `limit` characters; else its head, cut at a line end, any open
    code fence closed, and a notice saying so."""
    if len(summary) <= limit:
        return summary
    notice = (
        f"\n\n> **Cut here:** this summary is {len(summary):,} characters and GitHub shows at "
        f"most {limit:,}. The full report is in the workflow run's artifacts.\n"
    )
    room = limit - len(notice)
    if room <= 0:
        return notice.strip()[:limit]
    cut = room
    while True:
        newline = summary.rfind("\n", 0, cut)
        end = newline if newline > max(cut - 2_000, 0) else cut
        kept = summary[:end]
        fence = _open_fence(kept)
        closer = f"\n{fence}" if fence else ""
        if len(kept) + len(closer) <= room:
            return kept + closer + notice
        cut = max(end - len(closer), 0)


def _redact(publication: Publication, token: str) -> Publication:
    """The token must never reach a comment or a check run, whatever the renderer did."""
    checks = tuple(
        replace(
            c,
            title=scrub(c.title, token),
            summary=scrub(c.summary, token),
            text=scrub(c.text, token),
        )
        for c in publication.checks
    )
    return replace(publication, body=scrub(publication.body, token), checks=checks)


def publish(
    repo: str,
    pr: int,
    publication: Publication,
    *,
    token: str,
    base_url: str | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> Published:
    """Put `publication` on pull request `pr` of `repo` ("owner/name")."""
    token = require_token(token)
    publication = _redact(publication, token)
    check_publication(publication)
    check_repo_name(repo)
    with connect(token, base_url=base_url, retry=retry) as gh:
        repository, pull = open_pull(gh, repo, pr, token)
        comment_id, created, minimized = _sticky_comment(pull, publication, token)
        check_run_ids = _create_check_runs(repository, publication, token)
        labels = _update_labels(repository, pull, publication, token)
    return Published(comment_id, created, minimized, check_run_ids, labels)


def comment_on_pull(
    repo: str,
    pr: int,
    body: str,
    *,
    token: str,
    base_url: str | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> int:
    """Post a plain new comment (not sticky) and return its id."""
    token = require_token(token)
    body = scrub(body, token)
    check_comment_length(body)
    check_repo_name(repo)
    with connect(token, base_url=base_url, retry=retry) as gh:
        _, pull = open_pull(gh, repo, pr, token)
        with remote_errors(f"commenting on pull request #{pr} of {repo}", token):
            return pull.create_issue_comment(body).id


def pulls_for_commit(
    repo: str,
    sha: str,
    *,
    token: str,
    base_url: str | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> list[int]:
    """The numbers of the merged pull requests that brought `sha` in, lowest first."""
    token = require_token(token)
    check_repo_name(repo)
    with connect(token, base_url=base_url, retry=retry) as gh:
        repository = open_repository(gh, repo, token)
        with remote_errors(f"listing the pull requests of commit {sha} in {repo}", token):
            try:
                commit = repository.get_commit(sha)
            except GithubException as exc:
                if exc.status in (404, 422):
                    raise ConfigError([f"{sha}: no such commit in {repo}"]) from None
                raise
            return sorted(p.number for p in commit.get_pulls() if p.merged_at is not None)


def _sticky_comment(
    pull: PullRequest, publication: Publication, token: str
) -> tuple[int, bool, tuple[int, ...]]:
    """Edit the newest comment of ours (create one if there is none); minimize older ones.
    Comments by anyone else are left as they are, whatever their first line."""
    where = f"pull request #{pull.number}"
    ours, _ = marked_comments(pull, publication.marker, token)
    if not ours:
        with remote_errors(f"commenting on {where}", token):
            return pull.create_issue_comment(publication.body).id, True, ()
    newest, older = ours[-1], ours[:-1]
    if newest.body != publication.body:
        with remote_errors(f"editing comment {newest.id} on {where}", token):
            newest.edit(publication.body)
    for comment in older:
        with remote_errors(f"minimizing outdated comment {comment.id} on {where}", token):
            comment.minimize("OUTDATED")
    return newest.id, False, tuple(c.id for c in older)


def _create_check_runs(
    repository: Repository, publication: Publication, token: str
) -> tuple[int, ...]:
    ids: list[int] = []
    for check in publication.checks:
        with remote_errors(f"creating check run {check.name!r}", token):
            run = repository.create_check_run(
                name=check.name,
                head_sha=publication.head_sha,
                status="completed",
                conclusion=check.conclusion,
                output=_output(check),
            )
        ids.append(run.id)
    return tuple(ids)


def _output(check: CheckRun) -> dict[str, str | list[dict[str, str | int]]]:
    """The check run's `output`; `text` only when there is one (GitHub keeps it as given)."""
    output: dict[str, str | list[dict[str, str | int]]] = {
        "title": check.title,
        "summary": fit_summary(check.summary),
    }
    if check.text:
        output["text"] = check.text
    return output


def _ensure_label(repository: Repository, name: str, token: str) -> None:
    """Create `name` in the repository (with its colour) unless it exists."""
    with remote_errors(f"creating label {name!r}", token):
        try:
            repository.get_label(name)
            return
        except GithubException as exc:
            if exc.status != 404:
                raise
        try:
            colour = LABEL_COLOURS.get(name, DEFAULT_LABEL_COLOUR)
            repository.create_label(name, colour, LABEL_DESCRIPTION)
        except GithubException as exc:
            if not _already_exists(exc):  # a concurrent run created it first
                raise


def _already_exists(exc: GithubException) -> bool:
    errors = exc.data.get("errors") if isinstance(exc.data, dict) else None
    return exc.status == 422 and any(
        isinstance(e, dict) and e.get("code") == "already_exists" for e in errors or ()
    )


def _update_labels(
    repository: Repository, pull: PullRequest, publication: Publication, token: str
) -> tuple[str, ...]:
    """Add `labels_add` (creating them first), remove the `labels_remove` the PR carries;
    return the PR's labels afterwards."""
    on_pull = {label.name for label in pull.labels}
    to_add = sorted(publication.labels_add - on_pull)
    for name in to_add:
        _ensure_label(repository, name, token)
    if to_add:
        with remote_errors(f"labelling pull request #{pull.number}", token):
            pull.add_to_labels(*to_add)
    to_remove = sorted(publication.labels_remove & on_pull)
    for name in to_remove:
        with remote_errors(f"removing label {name!r} from pull request #{pull.number}", token):
            try:
                pull.remove_from_labels(name)
            except GithubException as exc:
                if exc.status != 404:  # already gone: fine
                    raise
    return tuple(sorted((on_pull | publication.labels_add) - set(to_remove)))
