"""What the GitHub names a user types must look like: a repository, a commit, a pull request.

Pure, and the one place for these rules. The CLI checks every such argument before it
reads, plans, posts or applies anything, so bad input is one line per problem and exit 2,
never a traceback or a step done half-way; the adapters check again before any request.
"""

from __future__ import annotations

import re

from freetier.errors import ConfigError

# An owner is a user or organisation login (letters, digits, hyphens; `_` in managed
# enterprise logins), never `.`; a repository name is letters, digits, `.`, `-`, `_`.
_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
# A full commit SHA: 40 hex digits (SHA-1), or 64 in a repository that uses SHA-256.
FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def repo_problem(repo: str, flag: str = "--repo") -> str | None:
    """Why `repo` is not `owner/name`, or None."""
    owner, slash, name = repo.partition("/")
    if slash and _OWNER.fullmatch(owner) and _NAME.fullmatch(name) and name not in (".", ".."):
        return None
    return f"{flag} {repo!r}: not a repository name of the form owner/name"


def sha_problem(sha: str, flag: str = "--sha") -> str | None:
    """Why `sha` is not a full commit SHA, or None. An abbreviated SHA is refused: it could
    name another commit tomorrow, and check runs and plans are pinned to one commit."""
    if FULL_SHA.fullmatch(sha):
        return None
    return (
        f"{flag} {sha!r}: not a full commit SHA (40 hexadecimal digits, or 64 in a SHA-256 "
        "repository, lower case, as `git rev-parse HEAD` prints it)"
    )


def pull_problem(number: str, flag: str = "--pr") -> str | None:
    """Why `number` is not a pull request number (a positive whole number), or None."""
    if number.isascii() and number.isdigit() and int(number) > 0:
        return None
    return f"{flag} {number!r}: not a pull request number (a whole number from 1)"


def require(*problems: str | None) -> None:
    """Raise one ConfigError naming every problem found (None means no problem)."""
    found = [p for p in problems if p is not None]
    if found:
        raise ConfigError(found)


def check_repo_name(repo: str) -> None:
    require(repo_problem(repo))
