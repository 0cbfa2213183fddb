"""Whose record is it: the workflow's own comments and check runs, told apart from anyone
else's by what GitHub says about their author, never by their text.

freetier trusts only what its workflow wrote with the job's `GITHUB_TOKEN`. That token is an
installation token of the GitHub App `github-actions`, so GitHub records the App as the author:

- a comment's `user` is the App's bot user, login `github-actions[bot]`, type "Bot", and its
  `performed_via_github_app` is the App. A person cannot take a login ending in `[bot]`: those
  belong to Apps. Anyone who may comment can copy our marker, but not this author.
- a check run names the App as its `app`. Only a GitHub App can create a check run (a
  person's token is refused), and only the App that created one can change it.

`GET /user` cannot tell a workflow who it is (GitHub refuses it to installation tokens), so
the identity is fixed here rather than asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from github.CheckRun import CheckRun
from github.IssueComment import IssueComment
from github.PullRequest import PullRequest

from freetier.github.client import remote_errors


@dataclass(frozen=True)
class WorkflowApp:
    """The GitHub App whose installation token the workflow holds."""

    slug: str

    @property
    def login(self) -> str:
        """Its bot user: GitHub names an App's bot user `<slug>[bot]`."""
        return f"{self.slug}[bot]"

    def wrote(self, comment: IssueComment) -> bool:
        """Whether `comment` was written through this App (all three must hold)."""
        user: Any = comment.user
        via: Any = comment.performed_via_github_app
        return (
            user is not None
            and user.login == self.login
            and user.type == "Bot"
            and via is not None
            and via.slug == self.slug
        )

    def ran(self, run: CheckRun) -> bool:
        """Whether `run` was created by this App."""
        app: Any = run.app
        return app is not None and app.slug == self.slug


# The Actions App: the author of everything the job's GITHUB_TOKEN writes.
GITHUB_ACTIONS = WorkflowApp("github-actions")


def is_marked(body: str | None, marker: str) -> bool:
    """Whether a comment body carries `marker` on its first line (says nothing of its author)."""
    first_line = (body or "").split("\n", 1)[0].strip()
    return bool(marker) and first_line.startswith(marker)


def marked_comments(
    pull: PullRequest, marker: str, token: str
) -> tuple[list[IssueComment], list[IssueComment]]:
    """The comments carrying `marker`, oldest first, split into the workflow's own and
    everyone else's. Iterating the PaginatedList follows the Link header through every page:
    a pull request with hundreds of comments still finds ours."""
    with remote_errors(f"listing the comments of pull request #{pull.number}", token):
        marked = [c for c in pull.get_issue_comments() if is_marked(c.body, marker)]
        marked.sort(key=lambda c: (c.created_at, c.id))
        ours: list[IssueComment] = []
        others: list[IssueComment] = []
        for comment in marked:
            (ours if GITHUB_ACTIONS.wrote(comment) else others).append(comment)
    return ours, others
