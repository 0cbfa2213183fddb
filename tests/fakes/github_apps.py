"""Who a token is, and the check runs only a GitHub App may write: the identity half of the
GitHub fake, mixed into `FakeGitHub` as `Identities`.

A token stands for one account. A login ending in `[bot]` is a GitHub App's bot user (an
installation token such as the Actions `GITHUB_TOKEN`, login `github-actions[bot]`): type
"Bot", and whatever it writes carries `performed_via_github_app`. Any other login is a
person (a personal access token), type "User". GitHub's rules about the two that matter to
freetier: `GET /user` refuses an installation token (403 "Resource not accessible by
integration"); only a GitHub App may create a check run (403 "You must authenticate via a
GitHub App."), and each check run names its app; the check runs of a commit are listed by
`GET /repos/{o}/{r}/commits/{ref}/check-runs` as `{"total_count", "check_runs"}`, newest
first, paginated, filtered by `check_name` and `filter` (`latest`, the default, keeps the newest
run per app and name; `all` keeps every run).
"""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tests.fakes.github_state import CheckRunRecord, Repo
from tests.fakes.github_wire import ApiError, Json, Page, invalid, iso, query_last

SUMMARY_LIMIT = 65_535
CONCLUSIONS = frozenset(
    {"action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out"}
)
STATUSES = ("queued", "in_progress", "completed")
# The Actions app as github.com serves it (its bot user is github-actions[bot], 41898282).
KNOWN_APPS = {"github-actions": (15368, "MDM6QXBwMTUzNjg=", "GitHub Actions")}
KNOWN_USERS = {"github-actions[bot]": 41898282, "github": 9919}


def app_of(login: str) -> str | None:
    """The slug of the GitHub App whose bot user `login` is, or None for a person."""
    return login.removesuffix("[bot]") if login.endswith("[bot]") else None


class Identities:
    """`FakeGitHub`'s accounts and check runs; the fake supplies what is declared below."""

    if TYPE_CHECKING:
        tokens: dict[str, str]
        caller: str

        @property
        def url(self) -> str: ...

        @property
        def root(self) -> str: ...

        def _id(self) -> int: ...

        def now(self) -> datetime: ...

        def _commit_sha(self, repo: Repo, ref: str) -> str: ...

    def add_token(self, token: str, login: str) -> None:
        """Let `token` act as `login` (a person, or an App's bot user `slug[bot]`)."""
        self.tokens[token] = login

    # --- JSON ------------------------------------------------------------------------------

    def _user(self, login: str) -> Json:
        return {
            "login": login,
            "id": KNOWN_USERS.get(login, zlib.crc32(login.encode())),
            "node_id": f"U_fake{login}",
            "type": "Bot" if app_of(login) else "User",
            "url": f"{self.url}/users/{quote(login)}",
            "html_url": f"{self.root}/{quote(login)}",
            "site_admin": False,
        }

    def _app_json(self, slug: str) -> Json:
        app_id, node_id, name = KNOWN_APPS.get(
            slug, (zlib.crc32(slug.encode()), f"A_fake{slug}", slug)
        )
        owner = "github" if slug in KNOWN_APPS else "octo"
        return {
            "id": app_id,
            "slug": slug,
            "node_id": node_id,
            "name": name,
            "owner": {**self._user(owner), "type": "Organization"},
            "description": "",
            "external_url": f"{self.root}/apps/{slug}",
            "html_url": f"{self.root}/apps/{slug}",
            "created_at": "2018-07-30T09:30:17Z",
            "updated_at": "2024-04-10T20:33:16Z",
            "permissions": {"checks": "write", "issues": "write", "pull_requests": "write"},
            "events": [],
        }

    def _performed_via(self, login: str) -> Json | None:
        slug = app_of(login)
        return None if slug is None else self._app_json(slug)

    def _check_run_json(self, repo: Repo, run: CheckRunRecord) -> Json:
        api = f"{self.url}/repos/{repo.full_name}"
        return {
            "id": run.id,
            "node_id": run.node_id,
            "name": run.name,
            "head_sha": run.head_sha,
            "external_id": "",
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": iso(run.created_at),
            "completed_at": iso(run.created_at) if run.status == "completed" else None,
            "output": {
                "title": run.output.get("title"),
                "summary": run.output.get("summary"),
                "text": run.output.get("text"),
                "annotations_count": 0,
                "annotations_url": f"{api}/check-runs/{run.id}/annotations",
            },
            "app": self._app_json(run.app),
            "check_suite": {"id": zlib.crc32(f"{run.app}/{run.head_sha}".encode())},
            "url": f"{api}/check-runs/{run.id}",
            "html_url": f"{self.root}/{repo.full_name}/runs/{run.id}",
            "details_url": f"{self.root}/{repo.full_name}/runs/{run.id}",
            "pull_requests": [],
        }

    # --- handlers --------------------------------------------------------------------------

    def authenticated_user(self) -> Json:
        """`GET /user`: the person behind the token; an installation token has none."""
        if app_of(self.caller):
            raise ApiError(403, "Resource not accessible by integration")
        return self._user(self.caller)

    def create_check_run(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        app = app_of(self.caller)
        if app is None:
            raise ApiError(403, "You must authenticate via a GitHub App.")
        body = body if isinstance(body, dict) else {}
        for name in ("name", "head_sha"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise invalid("CheckRun", "missing_field", name)
        if not any(sha.startswith(body["head_sha"]) for sha in repo.commits):
            raise ApiError(422, f"No commit found for SHA: {body['head_sha']}")
        conclusion = body.get("conclusion")
        status = "completed" if conclusion else body.get("status", "queued")
        if status not in STATUSES:
            raise invalid("CheckRun", "invalid", "status")
        if status == "completed" and conclusion not in CONCLUSIONS:
            raise invalid("CheckRun", "invalid", "conclusion")
        output = body.get("output") or {}
        if output and not (output.get("title") and output.get("summary")):
            raise invalid("CheckRun", "missing_field", "output")
        for field in ("summary", "text"):
            if len(output.get(field) or "") > SUMMARY_LIMIT:
                message = f"{field} is too long (maximum is {SUMMARY_LIMIT})"
                raise invalid("CheckRun", "custom", field, message)
        run_id = self._id()
        run = CheckRunRecord(
            run_id, f"CR_fake{run_id}", body["name"], body["head_sha"], status, conclusion,
            dict(output), self.now(), app,
        )  # fmt: skip
        repo.check_runs.append(run)
        return self._check_run_json(repo, run)

    def list_check_runs(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Page:
        sha = self._commit_sha(repo, params["sha"])
        runs = [r for r in reversed(repo.check_runs) if r.head_sha == sha]  # newest first
        chosen = query_last(query, "filter") or "latest"
        if chosen not in ("latest", "all"):
            raise invalid("CheckRun", "invalid", "filter")
        if chosen == "latest":
            newest: dict[tuple[str, str], CheckRunRecord] = {}
            for run in runs:
                newest.setdefault((run.app, run.name), run)
            runs = list(newest.values())
        name = query_last(query, "check_name")
        runs = [r for r in runs if name in (None, r.name)]
        items = [self._check_run_json(repo, r) for r in runs]
        return Page.of(items, query, wrap="check_runs")
