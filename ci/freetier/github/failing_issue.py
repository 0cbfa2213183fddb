"""The one issue `freetier validate --report-issue` keeps open while validation fails: opened
once, its body replaced on every failing run, closed with a comment when a run passes again.

It is found by its title among the repository's open issues and by a hidden marker in its
body, so an issue someone else opened with the same title is never edited or closed."""

from __future__ import annotations

from typing import Literal

from github.Repository import Repository

from freetier.github.client import remote_errors

TITLE = "freetier validate: failing"
MARKER = "<!-- freetier:validate-failing -->"
PASSED_COMMENT = "freetier validate passes again: closing."

Action = Literal["opened", "edited", "closed", "none"]


def issue_body(markdown: str) -> str:
    return f"{MARKER}\n{markdown}"


def sync_failing_issue(
    repository: Repository, failing: bool, markdown: str, token: str
) -> tuple[Action, int | None]:
    """What was done to the failing issue, and its number (None when there is none)."""
    with remote_errors(f"reading the open issues of {repository.full_name}", token):
        found = next(
            (
                issue
                for issue in repository.get_issues(state="open")
                if issue.pull_request is None
                and issue.title == TITLE
                and (issue.body or "").startswith(MARKER)
            ),
            None,
        )
    if failing:
        if found is None:
            with remote_errors(f"opening the issue {TITLE!r}", token):
                created = repository.create_issue(title=TITLE, body=issue_body(markdown))
            return "opened", created.number
        with remote_errors(f"editing issue #{found.number}", token):
            found.edit(body=issue_body(markdown))
        return "edited", found.number
    if found is None:
        return "none", None
    with remote_errors(f"closing issue #{found.number}", token):
        found.create_comment(f"{PASSED_COMMENT}\n\n{markdown}")
        found.edit(state="closed", state_reason="completed")
    return "closed", found.number
