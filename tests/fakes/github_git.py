"""The git half of the GitHub fake: blobs, trees, commits and branch refs, the endpoints a
change proposal drives (contents, the git data API) and the `push` / `files_at` seeding that
stands in for a real clone. Mixed into `FakeGitHub` as `GitStore`, a module apart because it is
a store of its own, with git's rules (content-addressed objects, fast-forward-only ref moves),
beside the issue and pull request endpoints."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tests.fakes.github_state import GitCommit, Repo
from tests.fakes.github_wire import ApiError, Json, iso, not_found, query_last

CONTENTS_LIMIT = 1_048_576  # bytes the contents API sends inline; a bigger file comes empty
FILE_MODES = frozenset({"100644", "100755", "120000"})


class GitStore:
    """`FakeGitHub`'s git objects and their endpoints; the fake supplies what is declared below."""

    if TYPE_CHECKING:
        login: str

        @property
        def url(self) -> str: ...

        @property
        def root(self) -> str: ...

        def _id(self) -> int: ...

        def now(self) -> datetime: ...

        def repo(self, full_name: str) -> Repo: ...

    # --- seeding ---------------------------------------------------------------------------

    def push(
        self,
        full_name: str,
        branch: str,
        files: Mapping[str, bytes | str | None],
        message: str = "A change",
    ) -> str:
        """Commit `files` (None deletes one) on top of `branch` and move the branch there; the
        new commit's SHA. A new branch starts from the default branch (a root commit when the
        repository has none yet)."""
        repo = self.repo(full_name)
        parent = repo.refs.get(f"refs/heads/{branch}") or repo.refs.get(
            f"refs/heads/{repo.default_branch}"
        )
        tree = dict(repo.trees[repo.git_commits[parent].tree]) if parent else {}
        for path, data in files.items():
            if data is None:
                tree.pop(path, None)
            else:
                tree[path] = self._blob(repo, data.encode() if isinstance(data, str) else data)
        commit = self._commit(repo, self._tree(repo, tree), (parent,) if parent else (), message)
        self._move_ref(repo, f"refs/heads/{branch}", commit.sha)
        return commit.sha

    def files_at(self, full_name: str, ref: str) -> dict[str, bytes]:
        """Every file of the commit `ref` (a branch or a SHA) names, by full path."""
        repo = self.repo(full_name)
        sha = repo.resolve(ref)
        if sha is None:
            raise KeyError(ref)
        tree = repo.trees[repo.git_commits[sha].tree]
        return {path: repo.blobs[blob] for path, blob in tree.items()}

    # --- git objects -----------------------------------------------------------------------

    @staticmethod
    def _blob(repo: Repo, data: bytes) -> str:
        sha = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
        repo.blobs[sha] = data
        return sha

    @staticmethod
    def _tree(repo: Repo, files: dict[str, str]) -> str:
        listing = "".join(f"{path}\0{blob}\n" for path, blob in sorted(files.items()))
        sha = hashlib.sha1(b"tree " + listing.encode(), usedforsecurity=False).hexdigest()
        repo.trees[sha] = dict(files)
        return sha

    def _commit(self, repo: Repo, tree: str, parents: tuple[str, ...], message: str) -> GitCommit:
        now = self.now()
        seed = json.dumps([tree, parents, message, iso(now), self._id()])
        sha = hashlib.sha1(b"commit " + seed.encode(), usedforsecurity=False).hexdigest()
        commit = GitCommit(sha, tree, parents, message, now)
        repo.git_commits[commit.sha] = commit
        repo.commits.setdefault(commit.sha, [])  # check runs may attach to it
        return commit

    def _move_ref(self, repo: Repo, name: str, sha: str) -> None:
        """Point `name` at `sha`, then settle the open pull requests as GitHub does: one whose
        branch moved into its base's history has no commits left and is closed; one whose
        base took its head in is merged."""
        repo.refs[name] = sha
        branch = name.removeprefix("refs/heads/")
        for pull in repo.pulls.values():
            base = repo.refs.get(f"refs/heads/{pull.base_ref}")
            if not pull.open or base is None:
                continue
            if pull.head_ref == branch:
                pull.head_sha = sha
                if sha in repo.history(base):
                    pull.closed_at = self.now()
            elif pull.base_ref == branch and pull.head_sha in repo.history(sha):
                pull.merged_at = self.now()

    # --- REST handlers ---------------------------------------------------------------------

    def get_contents(
        self, repo: Repo, params: dict[str, str], query: Any, body: Any
    ) -> Json | list[Json]:
        ref = query_last(query, "ref") or repo.default_branch
        sha = repo.resolve(ref)
        if sha is None:
            raise ApiError(404, f"No commit found for the ref {ref}")
        path = params["path"].strip("/")
        files = repo.trees[repo.git_commits[sha].tree]
        if path in files:
            return self._content_json(repo, path, files[path], ref)
        prefix = f"{path}/" if path else ""
        listing: dict[str, Json] = {}
        for full in sorted(p for p in files if p.startswith(prefix)):
            name, _, rest = full[len(prefix) :].partition("/")
            if not rest:
                listing[name] = self._content_json(repo, full, files[full], ref, listed=True)
            elif name not in listing:
                inner = f"{prefix}{name}/"
                sub = {p[len(inner) :]: b for p, b in files.items() if p.startswith(inner)}
                listing[name] = self._content_json(
                    repo, prefix + name, self._tree(repo, sub), ref, kind="dir", listed=True
                )
        if not listing:
            raise not_found()
        return list(listing.values())

    def get_ref(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        name = f"refs/{params['ref']}"
        if name not in repo.refs:
            raise not_found()
        return self._ref_json(repo, name)

    def create_ref(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        name, sha = _required(body, "ref", "sha")
        if not name.startswith("refs/") or name.count("/") < 2:
            raise ApiError(422, "Reference name must start with 'refs/' and have two slashes")
        if not _valid_ref_name(name):
            raise ApiError(422, f"{name} is not a valid ref name.")
        if sha not in repo.git_commits:
            raise ApiError(422, "Object does not exist")
        if name in repo.refs:
            raise ApiError(422, "Reference already exists")
        self._move_ref(repo, name, sha)
        return self._ref_json(repo, name)

    def update_ref(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        name = f"refs/{params['ref']}"
        (sha,) = _required(body, "sha")
        if name not in repo.refs:
            raise ApiError(422, "Reference does not exist")
        if sha not in repo.git_commits:
            raise ApiError(422, "Object does not exist")
        if body.get("force") is not True and repo.refs[name] not in repo.history(sha):
            raise ApiError(422, "Update is not a fast forward")
        self._move_ref(repo, name, sha)
        return self._ref_json(repo, name)

    def get_git_commit(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        commit = repo.git_commits.get(params["sha"])
        if commit is None:
            raise not_found()
        return self._git_commit_json(repo, commit)

    def create_blob(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        (content,) = _required(body, "content")
        encoding = body.get("encoding", "utf-8")
        if encoding == "base64":
            try:
                data = base64.b64decode("".join(content.split()), validate=True)
            except ValueError:
                raise ApiError(422, "content is not valid Base64") from None
        elif encoding in ("utf-8", "utf8"):
            data = content.encode()
        else:
            raise ApiError(422, f"encoding {encoding!r} is not supported")
        sha = self._blob(repo, data)
        return {"sha": sha, "url": f"{self.url}/repos/{repo.full_name}/git/blobs/{sha}"}

    def create_tree(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        body = body if isinstance(body, dict) else {}
        entries, base = body.get("tree"), body.get("base_tree")
        if not isinstance(entries, list):
            raise ApiError(422, 'Invalid request.\n\n"tree" wasn\'t supplied.')
        if base is not None and base not in repo.trees:  # a commit's SHA is no tree either
            raise ApiError(422, "base_tree is not a valid tree oid")
        files = dict(repo.trees[base]) if base else {}
        for entry in entries:
            path, blob = self._tree_entry(repo, entry)
            if blob is None:
                files.pop(path, None)
            else:
                files[path] = blob
        return self._tree_json(repo, self._tree(repo, files))

    def _tree_entry(self, repo: Repo, entry: Any) -> tuple[str, str | None]:
        """One entry of a new tree: its path and blob (None: delete the path)."""
        entry = entry if isinstance(entry, dict) else {}
        path = entry.get("path")
        if not isinstance(path, str) or not all(path.split("/")):
            raise ApiError(422, f"tree.path {path!r} is not a valid path")
        if entry.get("type") != "blob" or entry.get("mode") not in FILE_MODES:
            raise ApiError(422, "tree entries of this fake are files: type blob, mode 100644")
        if "sha" in entry and "content" in entry:
            raise ApiError(422, "Must supply either tree.sha or tree.content, not both")
        if isinstance(entry.get("content"), str):
            return path, self._blob(repo, entry["content"].encode())
        if "sha" in entry and entry["sha"] is None:
            return path, None
        if entry.get("sha") not in repo.blobs:
            raise ApiError(422, f"tree.sha {entry.get('sha')} is not a valid blob")
        return path, entry["sha"]

    def create_git_commit(self, repo: Repo, params: dict[str, str], query: Any, body: Any) -> Json:
        message, tree = _required(body, "message", "tree")
        parents = body.get("parents", [])
        if tree not in repo.trees:
            raise ApiError(422, "Tree SHA does not exist")
        if not isinstance(parents, list) or any(p not in repo.git_commits for p in parents):
            raise ApiError(422, "Parent SHA does not exist or is not a commit object")
        return self._git_commit_json(repo, self._commit(repo, tree, tuple(parents), message))

    # --- JSON ------------------------------------------------------------------------------

    def _ref_json(self, repo: Repo, name: str) -> Json:
        api = f"{self.url}/repos/{repo.full_name}"
        sha = repo.refs[name]
        return {
            "ref": name,
            "node_id": f"REF_fake{zlib.crc32(name.encode())}",
            "url": f"{api}/git/{quote(name)}",
            "object": {"sha": sha, "type": "commit", "url": f"{api}/git/commits/{sha}"},
        }

    def _git_commit_json(self, repo: Repo, commit: GitCommit) -> Json:
        api = f"{self.url}/repos/{repo.full_name}"
        html = f"{self.root}/{repo.full_name}/commit"
        person = {
            "name": self.login,
            "email": f"{zlib.crc32(self.login.encode())}+{self.login}@users.noreply.github.com",
            "date": iso(commit.created_at),
        }
        return {
            "sha": commit.sha,
            "node_id": f"C_fake{commit.sha[:12]}",
            "url": f"{api}/git/commits/{commit.sha}",
            "html_url": f"{html}/{commit.sha}",
            "author": person,
            "committer": person,
            "message": commit.message,
            "tree": {"sha": commit.tree, "url": f"{api}/git/trees/{commit.tree}"},
            "parents": [
                {"sha": p, "url": f"{api}/git/commits/{p}", "html_url": f"{html}/{p}"}
                for p in commit.parents
            ],
            "verification": {"verified": False, "reason": "unsigned", "signature": None},
        }

    def _tree_json(self, repo: Repo, sha: str) -> Json:
        """Every file by its full path, as `?recursive=1` lists them (without the folders)."""
        api = f"{self.url}/repos/{repo.full_name}"
        entries = [
            {"path": path, "mode": "100644", "type": "blob", "sha": blob,
             "size": len(repo.blobs[blob]), "url": f"{api}/git/blobs/{blob}"}
            for path, blob in sorted(repo.trees[sha].items())
        ]  # fmt: skip
        return {"sha": sha, "url": f"{api}/git/trees/{sha}", "tree": entries, "truncated": False}

    def _content_json(
        self, repo: Repo, path: str, sha: str, ref: str, *, kind: str = "file", listed: bool = False
    ) -> Json:
        api = f"{self.url}/repos/{repo.full_name}"
        url = f"{api}/contents/{quote(path)}?ref={quote(ref, safe='')}"
        git_url = f"{api}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}"
        html_url = f"{self.root}/{repo.full_name}/{'blob' if kind == 'file' else 'tree'}"
        html_url += f"/{quote(ref)}/{quote(path)}"
        data = repo.blobs.get(sha, b"")
        body: Json = {
            "type": kind,
            "size": len(data),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "url": url,
            "git_url": git_url,
            "html_url": html_url,
            "download_url": f"{self.root}/{repo.full_name}/raw/{quote(ref)}/{quote(path)}"
            if kind == "file"
            else None,
            "_links": {"self": url, "git": git_url, "html": html_url},
        }
        if kind == "file" and not listed:
            inline = len(data) <= CONTENTS_LIMIT
            encoded = base64.b64encode(data).decode() if inline else ""
            lines = [encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60)]
            body.update(encoding="base64" if inline else "none", content="".join(lines))
        return body


def _required(body: Any, *names: str) -> list[str]:
    """The string fields `names` of a JSON body, as GitHub's schema check demands them."""
    body = body if isinstance(body, dict) else {}
    for name in names:
        if not isinstance(body.get(name), str) or not body[name]:
            raise ApiError(422, f'Invalid request.\n\n"{name}" wasn\'t supplied.')
    return [body[name] for name in names]


def _valid_ref_name(name: str) -> bool:
    """git check-ref-format's rules, the ones a branch name can break."""
    parts = name.split("/")
    return not (
        re.search(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{", name)
        or name.endswith((".", ".lock"))
        or any(not part or part.startswith(".") for part in parts)
    )
