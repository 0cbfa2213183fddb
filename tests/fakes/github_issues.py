"""Issues in the GitHub fake: list (`state` open|closed|all, `creator`, newest first), create,
get and edit (`title`, `body`, `state` with `state_reason`), and comments on them through the
same comment endpoints as pull requests. Issue and pull request numbers come from one
counter, as on GitHub. Rules as GitHub documents them (docs.github.com/en/rest/issues/issues):
a title is required (422 missing_field), `state` is open or closed (422 invalid)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tests.fakes.github_state import Comment, Repo
from tests.fakes.github_wire import Json, Page, invalid, iso, not_found, query_last

STATES = ("open", "closed")


@dataclass
class Issue:
    id: int
    node_id: str
    number: int
    title: str
    body: str
    user: str
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    state_reason: str | None = None
    closed_at: datetime | None = None
    comments: list[Comment] = field(default_factory=list)


class Issues:
    """`FakeGitHub`'s issues; the fake supplies what is declared below."""

    if TYPE_CHECKING:
        caller: str
        url: str
        root: str

        def _id(self) -> int: ...
        def now(self) -> datetime: ...
        def _user(self, login: str) -> Json: ...

        issues: dict[tuple[str, int], Issue]

    def repo_issues(self, repo: Repo) -> list[Issue]:
        return [i for (name, _), i in sorted(self.issues.items()) if name == repo.full_name]

    def _issue_json(self, repo: Repo, issue: Issue) -> Json:
        api = f"{self.url}/repos/{repo.full_name}"
        return {
            "id": issue.id,
            "node_id": issue.node_id,
            "number": issue.number,
            "url": f"{api}/issues/{issue.number}",
            "html_url": f"{self.root}/{repo.full_name}/issues/{issue.number}",
            "comments_url": f"{api}/issues/{issue.number}/comments",
            "title": issue.title,
            "body": issue.body,
            "state": issue.state,
            "state_reason": issue.state_reason,
            "user": self._user(issue.user),
            "labels": [],
            "comments": len(issue.comments),
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_at": iso(issue.closed_at) if issue.closed_at else None,
        }

    def _issue(self, repo: Repo, params: dict[str, str]) -> Issue:
        issue = self.issues.get((repo.full_name, int(params["number"])))
        if issue is None:
            raise not_found()
        return issue

    def list_issues(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Page:
        state = query_last(query, "state") or "open"
        creator = query_last(query, "creator")
        found = [
            i
            for i in self.repo_issues(repo)
            if (state == "all" or i.state == state) and (creator is None or i.user == creator)
        ]
        found.sort(key=lambda i: i.created_at, reverse=True)
        return Page.of([self._issue_json(repo, i) for i in found], query)

    def create_issue(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        body = body if isinstance(body, dict) else {}
        title = body.get("title")
        if not isinstance(title, str) or not title:
            raise invalid("Issue", "missing_field", "title")
        issues = self.issues
        taken = [n for (name, n) in issues if name == repo.full_name]
        number = max([*taken, *repo.pulls], default=0) + 1
        issue_id, now = self._id(), self.now()
        issue = Issue(
            issue_id, f"I_fake{issue_id}", number, title, str(body.get("body") or ""),
            self.caller, now, now,
        )  # fmt: skip
        issues[(repo.full_name, number)] = issue
        return self._issue_json(repo, issue)

    def get_issue(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        return self._issue_json(repo, self._issue(repo, params))

    def edit_issue(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        issue = self._issue(repo, params)
        body = body if isinstance(body, dict) else {}
        state = body.get("state", issue.state)
        if state not in STATES:
            raise invalid("Issue", "invalid", "state")
        if "title" in body:
            issue.title = str(body["title"])
        if "body" in body:
            issue.body = str(body["body"] or "")
        now = self.now()
        if state != issue.state:
            issue.state = state
            issue.closed_at = now if state == "closed" else None
            issue.state_reason = body.get("state_reason") or (
                "completed" if state == "closed" else "reopened"
            )
        issue.updated_at = now
        return self._issue_json(repo, issue)
