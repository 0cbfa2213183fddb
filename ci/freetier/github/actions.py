"""Deployment environments and their Actions secrets, through PyGithub: what `freetier init`
sets up so the workflows find their credentials.

PyGithub seals each value to the environment's public key (libsodium sealed box) before it
leaves the process: GitHub, and this module, never see it again. A secret cannot be read
back, so "present" is all anyone can know of one. A 403 is bad input: the token lacks a
permission, named from GitHub's `x-accepted-github-permissions` header when it sends one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from github.GithubException import GithubException
from github.Repository import Repository

from freetier.errors import ConfigError
from freetier.github.client import github_message, one_line, remote_errors

# What a fine-grained token needs for each step (docs.github.com/en/rest/authentication/
# permissions-required-for-fine-grained-personal-access-tokens): listing environments is
# "Actions" read, creating one "Administration" write, an environment's secrets and public key
# "Environments" write. A classic token needs the `repo` scope for all of them.
PERMISSIONS = {
    "list": "actions: read",
    "create": "administration: write",
    "secrets": "environments: write",
}


@contextmanager
def _checked(action: str, step: str, token: str) -> Iterator[None]:
    """A 403 as one line naming the permission; anything else as `remote_errors` has it."""
    with remote_errors(action, token):
        try:
            yield
        except GithubException as exc:
            if exc.status != 403:
                raise
            headers = exc.headers or {}
            accepted = headers.get("x-accepted-github-permissions") or PERMISSIONS[step]
            message = one_line(github_message(exc) or "Forbidden").replace(token, "***")
            raise ConfigError(
                [
                    f"GITHUB_TOKEN: may not {action} (HTTP 403 {message}); "
                    f"give the token {accepted} (classic tokens: the repo scope)"
                ]
            ) from None


def environment_names(repo: Repository, token: str) -> set[str]:
    """The names of the repository's deployment environments."""
    with _checked(f"list the environments of {repo.full_name}", "list", token):
        return {env.name for env in repo.get_environments()}


def create_environment(repo: Repository, name: str, token: str) -> None:
    """Create the environment NAME with no protection rule (those are the owner's choice)."""
    with _checked(f"create the environment {name} in {repo.full_name}", "create", token):
        repo.create_environment(name)


def secret_names(repo: Repository, environment: str, token: str) -> set[str]:
    """The names of the secrets the environment holds (upper case, as GitHub keeps them)."""
    where = f"{repo.full_name} environment {environment}"
    with _checked(f"list the secrets of {where}", "secrets", token):
        return {s.name.upper() for s in repo.get_environment(environment).get_secrets()}


def put_secret(repo: Repository, environment: str, name: str, value: str, token: str) -> None:
    """Seal VALUE to the environment's public key and store it as NAME."""
    where = f"{repo.full_name} environment {environment}"
    with _checked(f"set {name} in {where}", "secrets", token):
        repo.get_environment(environment).create_secret(name, value)
