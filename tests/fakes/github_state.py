"""What the GitHub fake remembers of each repository: pull requests with their comments and
labels, check runs, and the git objects. Plain records, in a module of their own so that the
server (`github_server`) and the git store (`github_git`) work on the same objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tests.fakes.github_wire import Json


@dataclass
class Comment:
    id: int
    node_id: str
    body: str
    user: str
    created_at: datetime
    updated_at: datetime
    minimized: bool = False
    minimized_reason: str | None = None


@dataclass
class Label:
    id: int
    node_id: str
    name: str
    color: str
    description: str | None = None


@dataclass
class Pull:
    id: int
    node_id: str
    number: int
    title: str
    head_sha: str
    head_ref: str
    base_ref: str
    user: str
    created_at: datetime
    merged_at: datetime | None = None
    labels: list[str] = field(default_factory=list)  # names, in the order they were added
    comments: list[Comment] = field(default_factory=list)
    body: str = ""
    closed_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.merged_at is None and self.closed_at is None


@dataclass
class CheckRunRecord:
    id: int
    node_id: str
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    output: Json
    created_at: datetime
    app: str  # the slug of the GitHub App that created it


@dataclass
class Repo:
    id: int
    node_id: str
    owner: str
    name: str
    default_branch: str = "main"
    pulls: dict[int, Pull] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)  # by lower-case name
    check_runs: list[CheckRunRecord] = field(default_factory=list)
    commits: dict[str, list[int]] = field(default_factory=dict)  # sha -> associated PRs
    blobs: dict[str, bytes] = field(default_factory=dict)
    trees: dict[str, dict[str, str]] = field(default_factory=dict)  # sha -> {full path: blob}
    git_commits: dict[str, GitCommit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # "refs/heads/main" -> commit sha

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def resolve(self, ref: str) -> str | None:
        """The commit a branch, tag, full ref or (abbreviated) commit SHA names."""
        for name in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
            if name in self.refs:
                return self.refs[name]
        found = [s for s in self.git_commits if s.startswith(ref)] if len(ref) >= 7 else []
        return found[0] if len(found) == 1 else None

    def history(self, sha: str) -> set[str]:
        """`sha` and every commit it descends from."""
        seen: set[str] = set()
        todo = [sha]
        while todo:
            current = todo.pop()
            if current not in seen and current in self.git_commits:
                seen.add(current)
                todo.extend(self.git_commits[current].parents)
        return seen


@dataclass(frozen=True)
class GitCommit:
    sha: str
    tree: str
    parents: tuple[str, ...]
    message: str
    created_at: datetime
