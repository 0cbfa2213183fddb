"""The rules for the GitHub names a user types (freetier.github.names). Pure."""

from __future__ import annotations

import pytest

from freetier.errors import ConfigError
from freetier.github.names import pull_problem, repo_problem, require, sha_problem


@pytest.mark.parametrize(
    "repo", ["octo/infra", "Octo-Org/infra.tf", "a/b", "user_corp/.github", "octo/_x-y.z"]
)
def test_repository_names_github_allows_pass(repo: str) -> None:
    assert repo_problem(repo) is None


@pytest.mark.parametrize(
    "repo", ["infra", "/infra", "octo/", "octo/in fra", "-octo/infra", "octo.io/infra", "o/."]
)
def test_other_repository_names_are_refused(repo: str) -> None:
    assert repo_problem(repo) == f"--repo {repo!r}: not a repository name of the form owner/name"


@pytest.mark.parametrize("sha", ["0123456789abcdef" * 2 + "01234567", "0123456789abcdef" * 4])
def test_full_sha1_and_sha256_commits_pass(sha: str) -> None:
    assert sha_problem(sha) is None


@pytest.mark.parametrize(
    "sha", ["", "abc1234", "a" * 39, "a" * 50, "a" * 65, "A" * 40, " " + "a" * 40]
)
def test_abbreviated_or_malformed_commits_are_refused(sha: str) -> None:
    assert (sha_problem(sha, "--base-sha") or "").startswith(f"--base-sha {sha!r}: not a full")


@pytest.mark.parametrize(("number", "ok"), [("1", True), ("42", True), ("0", False), ("", False)])
def test_pull_request_numbers_start_at_1(number: str, ok: bool) -> None:
    assert (pull_problem(number) is None) is ok


def test_require_names_every_problem_and_ignores_none() -> None:
    require(None, None)
    with pytest.raises(ConfigError) as caught:
        require("one", None, "two")
    assert caught.value.problems == ("one", "two")
