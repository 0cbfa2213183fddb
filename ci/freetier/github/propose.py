"""Propose the published image OCIDs as a pull request: the file `images publish` wrote goes
into git through review, where it gets the plan comment like any other change.

One branch (`freetier/images` by default) belongs to freetier. A proposal is one commit on top
of the base branch's head that changes only the file, built with the git data API (blob, tree,
commit) and then pointed at by the branch in a single ref update. Resetting the branch to the
base first, as the contents API would need, leaves an open pull request with no commits for a
moment, and GitHub closes it. A branch that already holds the file as it is gets no new commit;
the open pull request from the branch is reused and its body brought up to date.
"""

from __future__ import annotations

import base64
import re
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from github.GithubException import GithubException
from github.GitRef import GitRef
from github.InputGitTreeElement import InputGitTreeElement
from github.PullRequest import PullRequest
from github.Repository import Repository

from freetier.errors import ConfigError, RemoteError
from freetier.github.client import (
    DEFAULT_RETRY,
    RetryPolicy,
    connect,
    open_repository,
    remote_errors,
    require_token,
)
from freetier.github.names import check_repo_name
from freetier.image_ocids import DEFAULT_BASE, DEFAULT_BRANCH, parse_tfvars

TITLE = "images: new image OCIDs"
COMMIT_MESSAGE = "images: new image OCIDs\n\nWritten by `freetier images publish`."
FILE_MODE = "100644"

Action = Literal["unchanged", "opened", "updated"]


@dataclass(frozen=True)
class OcidChange:
    """One architecture's image: its OCID on the base branch and in the proposal."""

    arch: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class Proposed:
    """What `propose` did, or with `dry_run` would do."""

    action: Action  # unchanged: the base already has the file; nothing is written
    branch: str
    pr: int | None = None  # None: unchanged, or a pull request a dry run would open
    url: str | None = None
    commit: str | None = None  # the commit made (None in a dry run)
    new_commit: bool = False  # False: the branch already holds the file as proposed
    changes: tuple[OcidChange, ...] = ()
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["changes"] = [asdict(c) for c in self.changes]
        return body


def read_ocids(content: bytes, where: str) -> dict[str, str]:
    """`image_ocids` of a tfvars file as `images publish` writes it; ConfigError otherwise."""
    ocids: dict[str, str] = parse_tfvars(content, where).get("image_ocids", {})
    return ocids


def ocid_changes(old: bytes | None, new: bytes) -> tuple[OcidChange, ...]:
    """The architectures whose OCID differs between `old` (the base's file, None when it has
    none; unreadable counts as empty) and `new`, in name order."""
    try:
        before = read_ocids(old, "base") if old is not None else {}
    except ConfigError:
        before = {}
    after = read_ocids(new, "proposal")
    return tuple(
        OcidChange(arch, before.get(arch), after.get(arch))
        for arch in sorted(before.keys() | after.keys())
        if before.get(arch) != after.get(arch)
    )


def render_body(path: str, base: str, branch: str, changes: tuple[OcidChange, ...]) -> str:
    """The pull request's body: what changed, and whose branch this is."""

    def show(ocid: str | None) -> str:
        return f"`{ocid}`" if ocid else "(none)"

    lines = [
        "## New image OCIDs",
        "",
        f"`freetier images publish` imported new images. This updates `{path}` so the next "
        f"plan uses them; merging into `{base}` deploys them.",
        "",
    ]
    if changes:
        lines += [f"- `{_code(c.arch)}`: {show(c.old)} -> {show(c.new)}" for c in changes]
    else:
        lines.append("No OCID changed; only the file's other contents or formatting did.")
    lines += [
        "",
        f"Opened by `freetier images propose`. Each run replaces the commits on `{branch}`: "
        "push nothing there that you want to keep.",
    ]
    return "\n".join(lines) + "\n"


def check_branch_name(name: str, option: str) -> None:
    """A branch name git accepts (check-ref-format's rules a name can break)."""
    bad = (
        not name
        or re.search(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//", name)
        or name.startswith(("/", "-"))
        or name.endswith(("/", ".", ".lock"))
        or any(part.startswith(".") for part in name.split("/"))
    )
    if bad:
        raise ConfigError([f"{option} {name!r}: not a valid branch name"])


def check_branches(base: str, branch: str) -> None:
    check_branch_name(base, "--base")
    check_branch_name(branch, "--branch")
    if base == branch:
        raise ConfigError([f"--branch {branch}: must differ from --base"])


def propose(
    repo: str,
    content: bytes,
    *,
    path: str,
    token: str,
    base: str = DEFAULT_BASE,
    branch: str = DEFAULT_BRANCH,
    dry_run: bool = False,
    base_url: str | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> Proposed:
    """Propose `content` as `path` of `repo` ("owner/name"): see `propose_in`."""
    token = require_token(token)
    check_repo_name(repo)
    check_branches(base, branch)
    read_ocids(content, path)
    with connect(token, base_url=base_url, retry=retry) as gh:
        repository = open_repository(gh, repo, token)
        return propose_in(
            repository, content, path=path, base=base, branch=branch, dry_run=dry_run, token=token
        )


def propose_in(
    repository: Repository,
    content: bytes,
    *,
    path: str,
    base: str = DEFAULT_BASE,
    branch: str = DEFAULT_BRANCH,
    dry_run: bool = False,
    token: str = "",
) -> Proposed:
    """Put `content` at `path` on `branch`, one commit on top of `base`, and open or update
    the pull request base <- branch. Nothing is written when `base` already has `content`;
    no commit is made when `branch` already holds it. `token` only masks error messages."""
    check_branches(base, branch)
    read_ocids(content, path)
    name = repository.full_name
    base_ref = _ref(repository, base, token)
    if base_ref is None:
        raise ConfigError([f"--base {base}: no such branch in {name}"])
    base_sha = base_ref.object.sha
    old = _read(repository, path, base_sha, token)
    if old == content:
        return Proposed("unchanged", branch, dry_run=dry_run)
    changes = ocid_changes(old, content)
    body = render_body(path, base, branch, changes)
    branch_ref = _ref(repository, branch, token)
    held = None if branch_ref is None else _read(repository, path, branch_ref.object.sha, token)
    pull = _open_pull(repository, base, branch, token)
    result = Proposed(
        "opened" if pull is None else "updated",
        branch,
        new_commit=held != content,
        changes=changes,
        dry_run=dry_run,
    )
    if not dry_run:
        commit = None
        if result.new_commit:
            commit = _commit(repository, path, content, base_sha, branch, branch_ref, token)
        pull, action = _open_or_update(repository, base, branch, pull, body, token)
        result = replace(result, action=action, commit=commit)
    if pull is not None:
        result = replace(result, pr=pull.number, url=pull.html_url)
    return result


def _code(text: str) -> str:
    return text.replace("`", "'")


def _ref(repository: Repository, branch: str, token: str) -> GitRef | None:
    """The branch's ref, read (so it carries its SHA and its /git/refs URL), or None."""
    with remote_errors(f"reading branch {branch} of {repository.full_name}", token):
        try:
            ref = repository.get_git_ref(f"heads/{branch}")
            _ = ref.object.sha  # read now, whether or not this PyGithub completes lazily
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise
        return ref


def _read(repository: Repository, path: str, sha: str, token: str) -> bytes | None:
    """The file's bytes at commit `sha`, or None when it has no such file."""
    with remote_errors(f"reading {path} at {sha[:12]} in {repository.full_name}", token):
        try:
            found = repository.get_contents(path, ref=sha)
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise
    if isinstance(found, list):
        raise ConfigError([f"{path}: a folder in {repository.full_name}, not a file"])
    if found.encoding != "base64":  # over 1 MB: the contents API sends no content
        raise ConfigError([f"{path}: {found.size:,} bytes in {repository.full_name}; too big"])
    return found.decoded_content


def _open_pull(repository: Repository, base: str, branch: str, token: str) -> PullRequest | None:
    """The open pull request base <- branch. `head` needs its "owner:": without it GitHub
    ignores the filter and lists every open pull request."""
    owner = repository.full_name.split("/")[0]
    with remote_errors(f"listing the open pull requests from {branch}", token):
        pulls = repository.get_pulls(state="open", head=f"{owner}:{branch}", base=base)
        return next(iter(pulls), None)


def _commit(
    repository: Repository,
    path: str,
    content: bytes,
    base_sha: str,
    branch: str,
    branch_ref: GitRef | None,
    token: str,
) -> str:
    """One commit on top of `base_sha` that changes only `path`; `branch` then points at it,
    created or moved there in one step (force: the branch's earlier commits are replaced)."""
    with remote_errors(f"committing {path} to branch {branch}", token):
        parent = repository.get_git_commit(base_sha)
        blob = repository.create_git_blob(base64.b64encode(content).decode("ascii"), "base64")
        element = InputGitTreeElement(path, FILE_MODE, "blob", sha=blob.sha)
        tree = repository.create_git_tree([element], base_tree=parent.tree)
        commit = repository.create_git_commit(COMMIT_MESSAGE, tree, [parent])
        if branch_ref is None:
            repository.create_git_ref(f"refs/heads/{branch}", commit.sha)
        else:
            branch_ref.edit(commit.sha, force=True)
    return commit.sha


def _open_or_update(
    repository: Repository,
    base: str,
    branch: str,
    pull: PullRequest | None,
    body: str,
    token: str,
) -> tuple[PullRequest, Action]:
    """Open the pull request, or bring the open one's body up to date."""
    if pull is None:
        with remote_errors(f"opening a pull request {base} <- {branch}", token):
            try:
                return repository.create_pull(base, branch, title=TITLE, body=body), "opened"
            except GithubException as exc:
                if not _already_open(exc):
                    raise
        # A concurrent run (or a create retried after GitHub had applied it) opened it.
        pull = _open_pull(repository, base, branch, token)
        if pull is None:
            raise RemoteError(f"GitHub: {branch}: a pull request is open, yet none is listed")
    if pull.body != body:
        with remote_errors(f"updating pull request #{pull.number}", token):
            pull.edit(body=body)
    return pull, "updated"


def _already_open(exc: GithubException) -> bool:
    errors = exc.data.get("errors") if isinstance(exc.data, dict) else None
    return exc.status == 422 and any(
        isinstance(e, dict) and "already exists" in str(e.get("message", "")) for e in errors or ()
    )
