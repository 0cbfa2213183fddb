"""A small stateful fake of the GitHub REST and GraphQL API that freetier's publisher uses.

It speaks what PyGithub sends and expects, so PyGithub runs unchanged against it (point
`base_url` at `FakeGitHub.url`): real paths and JSON field names (`id`, `node_id`, `url`,
`html_url`, `user.login`, `created_at`...), absolute `url`s the client follows, pagination by
`per_page` (default 30, at most 100) and `page` with a `Link` header whose URLs use the
`/repositories/{id}/...` form as GitHub's do, and GitHub's errors: 401 "Bad credentials",
404 "Not Found", 422 "Validation Failed" with an `errors` list (a comment over 65,536
characters, a label that already exists, a check run on an unknown commit...).

It also holds git objects (blobs, trees, commits, branch refs) behind the endpoints a change
proposal uses: contents GET, the git data API (refs get/create/update, blobs, trees, commits)
and pulls list/create/update, with GitHub's rules: a ref update that is not a fast forward
needs `force`; `base_tree` must be a tree, not a commit; one open pull request per head and
base; none without commits between them; the `head` filter without its `owner:` is silently
ignored; an open pull request whose branch moves onto its base's history is closed (and one
whose base takes in its head is merged). Seed history with `push`, read it with `files_at`.

Every request must carry `Authorization: token <t>` or `Bearer <t>` with a known token. The
seeded token acts as `login` (by default the Actions bot, `github-actions[bot]`); `add_token`
adds others, a person's or another App's, and what a request creates is written by the
account its token stands for (`github_apps`: Bot users, `GET /user`, check runs).
With `prefix="/api/v3"` it serves like GitHub Enterprise: REST under /api/v3, GraphQL at
/api/graphql. Tests seed state with the `add_*` methods, inject faults with `inject`, and
read `requests` (no header is recorded, so no token either).

The fake is split by concern: this module serves, dispatches and keeps the pull request,
comment and label rules; `github_git` the git object store and its endpoints,
`github_apps` the accounts and check runs and `github_actions` the deployment environments
and Actions secrets, sealed to per-repository and per-environment keys, `github_issues` the
issues (all four mixed into `FakeGitHub`); `github_state` the
records they work on; `github_wire` GitHub's error and pagination conventions. The names tests
use are all importable from here.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from tests.fakes.github_actions import ActionsSecrets, Status
from tests.fakes.github_apps import Identities
from tests.fakes.github_git import GitStore
from tests.fakes.github_issues import Issue, Issues
from tests.fakes.github_state import CheckRunRecord, Comment, GitCommit, Label, Pull, Repo
from tests.fakes.github_wire import ApiError, Json, Page, invalid, iso, not_found, query_last
from tests.fakes.serving import LocalServer

__all__ = [
    "PRIMARY_RATE_LIMIT",
    "SECONDARY_RATE_LIMIT",
    "ApiError",
    "CheckRunRecord",
    "Comment",
    "FakeGitHub",
    "Fault",
    "GitCommit",
    "Label",
    "Pull",
    "Repo",
    "SeenRequest",
]

COMMENT_LIMIT = 65_536
BOT_LOGIN = "github-actions[bot]"
EPOCH = datetime(2026, 6, 1, tzinfo=UTC)
CLASSIFIERS = frozenset({"SPAM", "ABUSE", "OFF_TOPIC", "OUTDATED", "DUPLICATE", "RESOLVED"})
SECONDARY_RATE_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
PRIMARY_RATE_LIMIT = "API rate limit exceeded for installation ID 1."


@dataclass
class Fault:
    """Answer matching requests with `status`, `times` times (None: for ever); when
    `applied`, only after carrying the request out (a gateway failing after the write)."""

    path_prefix: str
    status: int
    message: str
    method: str | None
    headers: dict[str, str]
    times: int | None
    applied: bool = False
    hits: int = 0

    def error(self) -> ApiError:
        return ApiError(self.status, self.message, headers=self.headers)

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        return path.startswith(self.path_prefix) and self.method in (None, method)


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str  # without the Enterprise prefix, /repositories/{id} spelled /repos/{owner}/{name}
    query: dict[str, list[str]]
    status: int
    body: Any = None


Handler = Callable[["FakeGitHub", Repo, dict[str, str], dict[str, list[str]], Any], Any]
_REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"


class FakeGitHub(GitStore, Identities, ActionsSecrets, Issues, LocalServer):
    """The state and the rules; `serve()` runs it on 127.0.0.1."""

    def __init__(
        self,
        token: str = "ghs_faketoken",  # noqa: S107 - the fake's own test token
        *,
        login: str = BOT_LOGIN,
        prefix: str = "",
    ) -> None:
        self.token = token
        self.login = login
        self.tokens = {token: login}
        self.caller = login  # who the request being answered comes from (set under the lock)
        self.prefix = prefix.rstrip("/")
        self.repos: dict[str, Repo] = {}
        self.faults: list[Fault] = []
        self.requests: list[SeenRequest] = []
        self.lock = threading.Lock()
        self._ids = itertools.count(1001)
        self._clock = itertools.count(1)
        self._actions_state()
        self.issues: dict[tuple[str, int], Issue] = {}  # (repo full name, number)

    # --- seeding ---------------------------------------------------------------------------

    def _id(self) -> int:
        return next(self._ids)

    def now(self) -> datetime:
        """A clock that moves one second per event, so `created_at` orders every object."""
        return EPOCH + timedelta(seconds=next(self._clock))

    def add_repo(self, full_name: str = "octo/infra") -> Repo:
        owner, name = full_name.split("/")
        repo_id = self._id()
        repo = Repo(repo_id, f"R_fake{repo_id}", owner, name)
        self.repos[full_name.lower()] = repo
        return repo

    def repo(self, full_name: str) -> Repo:
        return self.repos[full_name.lower()]

    def add_pull(
        self,
        full_name: str,
        number: int | None = None,
        *,
        head_sha: str | None = None,
        title: str = "Change the stack",
        merged: bool = False,
        closed: bool = False,
        labels: tuple[str, ...] = (),
        head_ref: str | None = None,
        body: str = "",
    ) -> Pull:
        """A pull request; with `head_ref` naming a pushed branch, its head is that branch's."""
        repo = self.repo(full_name)
        number = number or max(repo.pulls, default=0) + 1
        if head_ref is not None and head_sha is None:
            head_sha = repo.refs.get(f"refs/heads/{head_ref}")
        head_sha = head_sha or uuid.uuid4().hex + uuid.uuid4().hex[:8]
        pull_id = self._id()
        pull = Pull(
            pull_id,
            f"PR_fake{pull_id}",
            number,
            title,
            head_sha,
            head_ref or f"change-{number}",
            repo.default_branch,
            "octocat",
            self.now(),
            merged_at=self.now() if merged else None,
            body=body,
            closed_at=self.now() if closed else None,
        )
        repo.pulls[number] = pull
        repo.commits.setdefault(head_sha, []).append(number)
        for name in labels:
            pull.labels.append(self._label_for(repo, name).name)
        return pull

    def add_commit(self, full_name: str, sha: str, pulls: tuple[int, ...] = ()) -> None:
        self.repo(full_name).commits.setdefault(sha, []).extend(pulls)

    def add_comment(self, full_name: str, number: int, body: str, *, user: str = "") -> Comment:
        pull = self.repo(full_name).pulls[number]
        comment_id = self._id()
        now = self.now()
        comment = Comment(comment_id, f"IC_fake{comment_id}", body, user or self.login, now, now)
        pull.comments.append(comment)
        return comment

    def add_label(self, full_name: str, name: str, color: str = "ededed") -> Label:
        return self._label_for(self.repo(full_name), name, color)

    def _label_for(self, repo: Repo, name: str, color: str = "ededed") -> Label:
        label = repo.labels.get(name.lower())
        if label is None:
            label_id = self._id()
            label = Label(label_id, f"LA_fake{label_id}", name, color)
            repo.labels[name.lower()] = label
        return label

    def inject(
        self,
        path_prefix: str,
        status: int,
        message: str = "Server Error",
        *,
        method: str | None = None,
        times: int | None = 1,
        headers: dict[str, str] | None = None,
        applied: bool = False,
    ) -> Fault:
        """Fail the next `times` requests (None: every one) whose path (without the
        Enterprise prefix) starts with `path_prefix`, of `method` if given; with `applied`,
        the request takes effect before the failure is answered."""
        fault = Fault(path_prefix, status, message, method, dict(headers or {}), times, applied)
        with self.lock:
            self.faults.append(fault)
        return fault

    def seen(self, method: str | None = None, path_prefix: str = "") -> list[SeenRequest]:
        with self.lock:
            return [
                r
                for r in self.requests
                if r.path.startswith(path_prefix) and method in (None, r.method)
            ]

    # --- serving ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The REST base URL: what `base_url` / GITHUB_API_URL should be."""
        return self.root + self.prefix

    @property
    def graphql_path(self) -> str:
        return self.prefix.removesuffix("/v3") + "/graphql"

    # --- the rules -------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request: (status, JSON body, extra headers)."""
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        path = parts.path
        body: Any = None
        with self.lock:
            try:
                self.caller = self._authenticate(headers)
                path = self._strip_prefix(path)
                body = self._parse(raw)
                fault = self._fault(method, path)
                status, payload, extra = self._route(method, path, query, body)
                if fault is not None:
                    raise fault.error()
            except ApiError as exc:
                status, payload, extra = exc.status, exc.body(), exc.headers
            self.requests.append(SeenRequest(method, unquote(path), query, status, body))
            remaining = max(5000 - len(self.requests), 0)
        limits = {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-used": str(5000 - remaining),
            "x-ratelimit-reset": str(int(time.time()) + 3600),
            "x-ratelimit-resource": "graphql" if path == "/graphql" else "core",
        }
        return status, payload, {**limits, **extra}

    def _authenticate(self, headers: dict[str, str]) -> str:
        """The login the request's token stands for."""
        scheme, _, credential = headers.get("authorization", "").partition(" ")
        login = self.tokens.get(credential.strip())
        if scheme.lower() not in ("token", "bearer") or login is None:
            raise ApiError(401, "Bad credentials")
        return login

    def _strip_prefix(self, path: str) -> str:
        if path == self.graphql_path:
            return "/graphql"
        if not path.startswith(self.prefix + "/"):
            raise not_found()
        path = path[len(self.prefix) :]
        match = re.match(r"/repositories/(\d+)(?=/|$)", path)
        if match:
            repo = next((r for r in self.repos.values() if r.id == int(match.group(1))), None)
            if repo is None:
                raise not_found()
            path = f"/repos/{repo.owner}/{repo.name}{path[match.end() :]}"
        return path

    @staticmethod
    def _parse(raw: bytes) -> Any:
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "Problems parsing JSON") from None

    def _fault(self, method: str, path: str) -> Fault | None:
        fault = next((f for f in self.faults if f.matches(method, path)), None)
        if fault is None:
            return None
        fault.hits += 1
        if not fault.applied:
            raise fault.error()
        return fault

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if (method, path) == ("POST", "/graphql"):
            return 200, self._graphql(body), {}
        if (method, path) == ("GET", "/user"):
            return 200, self.authenticated_user(), {}
        for verb, pattern, handler, status in ROUTES:
            match = pattern.fullmatch(path)
            if verb != method or match is None:
                continue
            params = {k: unquote(v) for k, v in match.groupdict().items()}
            repo = self.repos.get(f"{params['owner']}/{params['repo']}".lower())
            if repo is None:
                raise not_found()
            result = handler(self, repo, params, query, body)
            if isinstance(result, Status):
                return result.status, None, {}
            if isinstance(result, Page):
                link_url = f"{self.url}/repositories/{repo.id}{path[match.end('repo') :]}"
                return 200, result.body(), result.link_header(link_url, query)
            return status, result, {}
        raise not_found()

    # --- JSON ------------------------------------------------------------------------------

    def _repo_json(self, repo: Repo) -> Json:
        api = f"{self.url}/repos/{repo.full_name}"
        return {
            "id": repo.id,
            "node_id": repo.node_id,
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": {**self._user(repo.owner), "type": "Organization"},
            "private": False,
            "html_url": f"{self.root}/{repo.full_name}",
            "url": api,
            "issues_url": api + "/issues{/number}",
            "pulls_url": api + "/pulls{/number}",
            "labels_url": api + "/labels{/name}",
            "default_branch": repo.default_branch,
            "permissions": {"admin": False, "push": True, "pull": True},
        }

    def _label_json(self, repo: Repo, label: Label) -> Json:
        return {
            "id": label.id,
            "node_id": label.node_id,
            "url": f"{self.url}/repos/{repo.full_name}/labels/{quote(label.name, safe='')}",
            "name": label.name,
            "color": label.color,
            "description": label.description,
            "default": False,
        }

    def _pull_json(self, repo: Repo, pull: Pull) -> Json:
        api = f"{self.url}/repos/{repo.full_name}"
        return {
            "id": pull.id,
            "node_id": pull.node_id,
            "number": pull.number,
            "state": "open" if pull.open else "closed",
            "title": pull.title,
            "user": self._user(pull.user),
            "body": pull.body,
            "labels": [self._label_json(repo, repo.labels[n.lower()]) for n in pull.labels],
            "head": {
                "ref": pull.head_ref,
                "sha": pull.head_sha,
                "label": f"{repo.owner}:{pull.head_ref}",
            },
            "base": {
                "ref": pull.base_ref,
                "sha": repo.refs.get(f"refs/heads/{pull.base_ref}", "0" * 40),
                "label": f"{repo.owner}:{pull.base_ref}",
            },
            "merged": pull.merged_at is not None,
            "merged_at": iso(pull.merged_at),
            "closed_at": iso(pull.merged_at or pull.closed_at),
            "created_at": iso(pull.created_at),
            "updated_at": iso(pull.created_at),
            "draft": False,
            "url": f"{api}/pulls/{pull.number}",
            "html_url": f"{self.root}/{repo.full_name}/pull/{pull.number}",
            "issue_url": f"{api}/issues/{pull.number}",
            "comments_url": f"{api}/issues/{pull.number}/comments",
            "commits_url": f"{api}/pulls/{pull.number}/commits",
            "statuses_url": f"{api}/statuses/{pull.head_sha}",
            "comments": len(pull.comments),
        }

    def _comment_json(self, repo: Repo, pull: Pull, comment: Comment) -> Json:
        api = f"{self.url}/repos/{repo.full_name}"
        return {
            "id": comment.id,
            "node_id": comment.node_id,
            "url": f"{api}/issues/comments/{comment.id}",
            "html_url": (
                f"{self.root}/{repo.full_name}/pull/{pull.number}#issuecomment-{comment.id}"
            ),
            "issue_url": f"{api}/issues/{pull.number}",
            "body": comment.body,
            "user": self._user(comment.user),
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "author_association": "NONE",
            "performed_via_github_app": self._performed_via(comment.user),
        }

    # --- REST handlers ---------------------------------------------------------------------

    def _pull(self, repo: Repo, params: dict[str, str]) -> Pull:
        pull = repo.pulls.get(int(params["number"]))
        if pull is None:
            raise not_found()
        return pull

    def _comment(self, repo: Repo, comment_id: int) -> tuple[Pull, Comment]:
        for pull in repo.pulls.values():
            for comment in pull.comments:
                if comment.id == comment_id:
                    return pull, comment
        raise not_found()

    def get_repo(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        return self._repo_json(repo)

    def get_pull(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        return self._pull_json(repo, self._pull(repo, params))

    def _commented(self, repo: Repo, params: dict[str, str]) -> Any:
        """The pull request or issue a comment URL numbers (one counter for both)."""
        pull = repo.pulls.get(int(params["number"]))
        return pull if pull is not None else self._issue(repo, params)

    def list_comments(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Page:
        pull = self._commented(repo, params)
        items = [self._comment_json(repo, pull, c) for c in pull.comments]
        return Page.of(items, query)

    def create_comment(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        pull = self._commented(repo, params)
        text = _comment_body(body)
        comment_id = self._id()
        now = self.now()
        comment = Comment(comment_id, f"IC_fake{comment_id}", text, self.caller, now, now)
        pull.comments.append(comment)
        return self._comment_json(repo, pull, comment)

    def get_comment(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        pull, comment = self._comment(repo, int(params["id"]))
        return self._comment_json(repo, pull, comment)

    def edit_comment(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        pull, comment = self._comment(repo, int(params["id"]))
        comment.body = _comment_body(body)
        comment.updated_at = self.now()
        return self._comment_json(repo, pull, comment)

    def get_label(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        label = repo.labels.get(params["name"].lower())
        if label is None:
            raise not_found()
        return self._label_json(repo, label)

    def create_label(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        body = body if isinstance(body, dict) else {}
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid("Label", "missing_field", "name")
        color = str(body.get("color") or "ededed").removeprefix("#")
        if not re.fullmatch(r"[0-9a-fA-F]{6}", color):
            raise invalid("Label", "invalid", "color")
        if name.lower() in repo.labels:
            raise invalid("Label", "already_exists", "name")
        label = self._label_for(repo, name, color.lower())
        label.description = body.get("description")
        return self._label_json(repo, label)

    def add_labels(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> list[Json]:
        pull = self._pull(repo, params)
        names = body.get("labels") if isinstance(body, dict) else body
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise invalid("Label", "invalid", "labels")
        for name in names:
            label = self._label_for(repo, name)  # GitHub creates unknown labels on the fly
            if label.name not in pull.labels:
                pull.labels.append(label.name)
        return self._pull_json(repo, pull)["labels"]  # type: ignore[no-any-return]

    def remove_label(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> list[Json]:
        pull = self._pull(repo, params)
        name = next((n for n in pull.labels if n.lower() == params["name"].lower()), None)
        if name is None:
            raise ApiError(404, "Label does not exist")
        pull.labels.remove(name)
        return self._pull_json(repo, pull)["labels"]  # type: ignore[no-any-return]

    def _commit_sha(self, repo: Repo, ref: str) -> str:
        found = [sha for sha in repo.commits if sha.startswith(ref)] if len(ref) >= 7 else []
        if len(found) != 1:
            raise ApiError(422, f"No commit found for SHA: {ref}")
        return found[0]

    def get_commit(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        sha = self._commit_sha(repo, params["sha"])
        api = f"{self.url}/repos/{repo.full_name}"
        return {
            "sha": sha,
            "node_id": f"C_fake{sha[:12]}",
            "url": f"{api}/commits/{sha}",
            "html_url": f"{self.root}/{repo.full_name}/commit/{sha}",
            "commit": {"message": "A change", "url": f"{api}/git/commits/{sha}"},
            "parents": [],
            "files": [],
        }

    def commit_pulls(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Page:
        sha = self._commit_sha(repo, params["sha"])
        numbers = sorted(set(repo.commits[sha]))
        return Page.of([self._pull_json(repo, repo.pulls[n]) for n in numbers], query)

    def list_pulls(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Page:
        state = query_last(query, "state") or "open"
        if state not in ("open", "closed", "all"):
            raise invalid("PullRequest", "invalid", "state")
        pulls = sorted(repo.pulls.values(), key=lambda p: p.number, reverse=True)
        if state != "all":
            pulls = [p for p in pulls if p.open == (state == "open")]
        head, base = query_last(query, "head"), query_last(query, "base")
        if head and ":" in head:  # GitHub silently ignores a head without its "owner:"
            owner, _, branch = head.partition(":")
            mine = owner.lower() == repo.owner.lower()
            pulls = [p for p in pulls if mine and p.head_ref == branch]
        if base:
            pulls = [p for p in pulls if p.base_ref == base]
        return Page.of([self._pull_json(repo, p) for p in pulls], query)

    def create_pull(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        body = body if isinstance(body, dict) else {}
        for name in ("title", "head", "base"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise invalid("PullRequest", "missing_field", name)
        owner, _, branch = body["head"].rpartition(":")
        base = body["base"]
        head_sha = repo.refs.get(f"refs/heads/{branch}")
        if head_sha is None or owner.lower() not in ("", repo.owner.lower()):
            raise invalid("PullRequest", "invalid", "head")
        base_sha = repo.refs.get(f"refs/heads/{base}")
        if base_sha is None:
            raise invalid("PullRequest", "invalid", "base")
        text = _pull_body(body.get("body"))
        pulls = repo.pulls.values()
        if any(p.open and (p.head_ref, p.base_ref) == (branch, base) for p in pulls):
            exists = f"A pull request already exists for {repo.owner}:{branch}."
            raise _custom("PullRequest", exists)
        if head_sha in repo.history(base_sha):
            raise _custom("PullRequest", f"No commits between {base} and {branch}")
        number = max(repo.pulls, default=0) + 1
        pull_id = self._id()
        pull = Pull(
            pull_id, f"PR_fake{pull_id}", number, body["title"], head_sha, branch, base,
            self.caller, self.now(), body=text,
        )  # fmt: skip
        repo.pulls[number] = pull
        return self._pull_json(repo, pull)

    def update_pull(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        pull = self._pull(repo, params)
        body = body if isinstance(body, dict) else {}
        if "title" in body:
            if not isinstance(body["title"], str) or not body["title"]:
                raise invalid("PullRequest", "missing_field", "title")
            pull.title = body["title"]
        if "body" in body:
            pull.body = _pull_body(body["body"])
        if "base" in body:
            if f"refs/heads/{body['base']}" not in repo.refs:
                raise invalid("PullRequest", "invalid", "base")
            pull.base_ref = body["base"]
        state = body.get("state")
        if state not in (None, "open", "closed") or (state == "open" and pull.merged_at):
            raise invalid("PullRequest", "invalid", "state")
        if state is not None:
            pull.closed_at = None if state == "open" else pull.closed_at or self.now()
        return self._pull_json(repo, pull)

    # --- GraphQL ---------------------------------------------------------------------------

    def _graphql(self, body: Any) -> Json:
        """`minimizeComment` and `unminimizeComment`, as PyGithub's `graphql_named_mutation`
        sends them: `mutation Mutation($input: XInput!) { x(input: $input) { ... } }`."""
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _graphql_error("A query attribute must be specified and must be a string.")
        match = re.fullmatch(
            r"\s*mutation\s+\w*\s*\(\$input:\s*(\w+)!\)\s*\{\s*(\w+)\(input:\s*\$input\)"
            r"\s*\{\s*(\w+)\s*\{([^{}]*)\}\s*\}\s*\}\s*",
            body["query"],
        )
        mutations = {"minimizeComment": "MinimizeCommentInput"}
        mutations["unminimizeComment"] = "UnminimizeCommentInput"
        if match is None or mutations.get(match.group(2)) != match.group(1):
            return _graphql_error("The fake understands only (un)minimizeComment mutations")
        name, selection = match.group(2), match.group(4).split()
        data = (body.get("variables") or {}).get("input") or {}
        classifier = data.get("classifier")
        if name == "minimizeComment" and classifier not in CLASSIFIERS:
            return _graphql_error(
                f"Argument 'classifier' on InputObject 'MinimizeCommentInput' has an invalid "
                f"value ({classifier}). Expected type 'ReportedContentClassifiers!'."
            )
        comment = self._node(str(data.get("subjectId")))
        if comment is None:
            return {
                "data": {name: None},
                "errors": [
                    {
                        "type": "NOT_FOUND",
                        "path": [name],
                        "message": f"Could not resolve to a node with the global id of "
                        f"'{data.get('subjectId')}'",
                    }
                ],
            }
        comment.minimized = name == "minimizeComment"
        comment.minimized_reason = str(classifier).lower() if comment.minimized else None
        fields = {"isMinimized": comment.minimized, "minimizedReason": comment.minimized_reason}
        result = {k: v for k, v in fields.items() if k in selection}
        return {"data": {name: {match.group(3): result}}}

    def _node(self, node_id: str) -> Comment | None:
        for repo in self.repos.values():
            for pull in repo.pulls.values():
                for comment in pull.comments:
                    if comment.node_id == node_id:
                        return comment
        return None


ROUTES: list[tuple[str, re.Pattern[str], Handler, int]] = [
    (verb, re.compile(_REPO + suffix), handler, status)
    for verb, suffix, handler, status in (
        ("GET", "", FakeGitHub.get_repo, 200),
        ("GET", r"/pulls/(?P<number>\d+)", FakeGitHub.get_pull, 200),
        ("GET", "/issues", FakeGitHub.list_issues, 200),
        ("POST", "/issues", FakeGitHub.create_issue, 201),
        ("GET", r"/issues/(?P<number>\d+)", FakeGitHub.get_issue, 200),
        ("PATCH", r"/issues/(?P<number>\d+)", FakeGitHub.edit_issue, 200),
        ("GET", r"/issues/(?P<number>\d+)/comments", FakeGitHub.list_comments, 200),
        ("POST", r"/issues/(?P<number>\d+)/comments", FakeGitHub.create_comment, 201),
        ("GET", r"/issues/comments/(?P<id>\d+)", FakeGitHub.get_comment, 200),
        ("PATCH", r"/issues/comments/(?P<id>\d+)", FakeGitHub.edit_comment, 200),
        ("POST", "/check-runs", FakeGitHub.create_check_run, 201),
        ("GET", r"/labels/(?P<name>[^/]+)", FakeGitHub.get_label, 200),
        ("POST", "/labels", FakeGitHub.create_label, 201),
        ("POST", r"/issues/(?P<number>\d+)/labels", FakeGitHub.add_labels, 200),
        ("DELETE", r"/issues/(?P<number>\d+)/labels/(?P<name>[^/]+)", FakeGitHub.remove_label, 200),
        ("GET", r"/commits/(?P<sha>[^/]+)", FakeGitHub.get_commit, 200),
        ("GET", r"/commits/(?P<sha>[^/]+)/pulls", FakeGitHub.commit_pulls, 200),
        ("GET", r"/commits/(?P<sha>[^/]+)/check-runs", FakeGitHub.list_check_runs, 200),
        ("GET", r"/contents(?P<path>(?:/.*)?)", FakeGitHub.get_contents, 200),
        ("GET", r"/git/ref/(?P<ref>.+)", FakeGitHub.get_ref, 200),
        ("POST", "/git/refs", FakeGitHub.create_ref, 201),
        ("PATCH", r"/git/refs/(?P<ref>.+)", FakeGitHub.update_ref, 200),
        ("GET", r"/git/commits/(?P<sha>[^/]+)", FakeGitHub.get_git_commit, 200),
        ("POST", "/git/commits", FakeGitHub.create_git_commit, 201),
        ("POST", "/git/blobs", FakeGitHub.create_blob, 201),
        ("POST", "/git/trees", FakeGitHub.create_tree, 201),
        ("GET", "/pulls", FakeGitHub.list_pulls, 200),
        ("POST", "/pulls", FakeGitHub.create_pull, 201),
        ("PATCH", r"/pulls/(?P<number>\d+)", FakeGitHub.update_pull, 200),
        ("GET", "/actions/secrets/public-key", FakeGitHub.get_repo_public_key, 200),
        ("GET", "/actions/secrets", FakeGitHub.list_repo_secrets, 200),
        ("GET", r"/actions/secrets/(?P<name>[^/]+)", FakeGitHub.get_repo_secret, 200),
        ("PUT", r"/actions/secrets/(?P<name>[^/]+)", FakeGitHub.put_repo_secret, 201),
        ("GET", "/environments", FakeGitHub.list_environments, 200),
        ("GET", r"/environments/(?P<env>[^/]+)", FakeGitHub.get_environment, 200),
        ("PUT", r"/environments/(?P<env>[^/]+)", FakeGitHub.put_environment, 200),
        (
            "GET",
            r"/environments/(?P<env>[^/]+)/secrets/public-key",
            FakeGitHub.get_environment_public_key,
            200,
        ),
        (
            "GET",
            r"/environments/(?P<env>[^/]+)/secrets",
            FakeGitHub.list_environment_secrets,
            200,
        ),
        (
            "PUT",
            r"/environments/(?P<env>[^/]+)/secrets/(?P<name>[^/]+)",
            FakeGitHub.put_environment_secret,
            201,
        ),
    )
]


def _comment_body(body: Any) -> str:
    text = body.get("body") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text:
        raise invalid("IssueComment", "missing_field", "body")
    if len(text) > COMMENT_LIMIT:
        raise invalid(
            "IssueComment",
            "unprocessable",
            "data",
            f"Body is too long (maximum is {COMMENT_LIMIT} characters)",
        )
    return text


def _custom(resource: str, message: str) -> ApiError:
    return ApiError(
        422, "Validation Failed", [{"resource": resource, "code": "custom", "message": message}]
    )


def _pull_body(text: Any) -> str:
    if text is not None and not isinstance(text, str):
        raise invalid("PullRequest", "invalid", "body")
    if len(text or "") > COMMENT_LIMIT:
        raise _custom("PullRequest", f"Body is too long (maximum is {COMMENT_LIMIT} characters)")
    return text or ""


def _graphql_error(message: str) -> Json:
    return {"errors": [{"message": message}]}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between headers and body

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PATCH(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body, extra = self.fake.handle(self.command, self.path, headers, raw)
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json; charset=utf-8")
        self.send_header("content-length", str(len(payload)))
        self.send_header("x-github-request-id", uuid.uuid4().hex[:20].upper())
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read `FakeGitHub.requests` instead."""


FakeGitHub.handler = _Handler
