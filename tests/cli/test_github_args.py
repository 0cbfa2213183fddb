"""Every GitHub name a command takes (`--repo`, `--pr`, `--sha`, `--base-sha`) is checked
before anything happens: one `freetier: error:` line per problem, exit 2, no request sent,
nothing planned, posted or applied. The fake GitHub runs, so a request would be seen."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from freetier.cli import main
from tests.fakes.github_server import FakeGitHub

TOKEN = "ghs_args_canary_token_0123456789"
REPO = "octo/infra"
SHA = "a" * 40
PLAN = ["--plan", "oci=good.json"]


@pytest.fixture
def github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    for name in [k for k in os.environ if k.startswith(("TF_", "GITHUB_", "OCI_"))]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.json").write_text('{"format_version": "1.2", "resource_changes": []}')
    fake = FakeGitHub(TOKEN)
    fake.add_repo(REPO)
    fake.add_pull(REPO, 1, head_sha=SHA)
    with fake.serve():
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        yield fake


def post(repo: str = REPO, pr: str = "1", sha: str = SHA) -> list[str]:
    return ["comment", "post", "--repo", repo, "--pr", pr, "--sha", sha, *PLAN]


def deploy(repo: str = REPO, sha: str = SHA) -> list[str]:
    return ["deploy", "--repo", repo, "--sha", sha, "--no-backend"]


def pr(repo: str = REPO, number: str = "1", sha: str = SHA, *more: str) -> list[str]:
    return ["pr", "--no-backend", "--repo", repo, "--pr", number, "--sha", sha, *more]


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (post(sha="abc123"), "--sha 'abc123': not a full commit SHA"),
        (post(sha="g" * 40), f"--sha '{'g' * 40}': not a full commit SHA"),
        (post(sha="A" * 40), f"--sha '{'A' * 40}': not a full commit SHA"),
        (post(sha="a" * 41), f"--sha '{'a' * 41}': not a full commit SHA"),
        (post(pr="0"), "--pr '0': not a pull request number"),
        (post(pr="-3"), "--pr '-3': not a pull request number"),
        (post(pr="seven"), "--pr 'seven': not a pull request number"),
        (post(pr="\u0661"), "--pr '\u0661': not a pull request number"),  # a digit, not 0-9
        (post(repo="infra"), "--repo 'infra': not a repository name of the form owner/name"),
        (post(repo="octo/"), "--repo 'octo/': not a repository name"),
        (post(repo="../infra"), "--repo '../infra': not a repository name"),
        (post(repo="octo/.."), "--repo 'octo/..': not a repository name"),
        (post(repo="octo/infra/x"), "--repo 'octo/infra/x': not a repository name"),
        (deploy(sha="abc123"), "--sha 'abc123': not a full commit SHA"),
        (deploy(repo="infra"), "--repo 'infra': not a repository name"),
        (pr(sha="HEAD"), "--sha 'HEAD': not a full commit SHA"),
        (pr(number="1.5"), "--pr '1.5': not a pull request number"),
        (pr(repo="infra"), "--repo 'infra': not a repository name"),
        (pr(REPO, "1", SHA, "--base-sha", "main"), "--base-sha 'main': not a full commit SHA"),
        (["pr", "--base-sha", "abc"], "--base-sha 'abc': not a full commit SHA"),
    ],
)
def test_a_bad_github_argument_is_one_line_and_exit_2_before_any_request(
    github: FakeGitHub, argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    (only,) = err.splitlines()
    assert only.startswith(f"freetier: error: {line}"), err
    assert out == ""
    assert github.requests == []
    assert not Path("out").exists()  # nothing planned or reported


def test_every_bad_argument_is_named_at_once(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(post(repo="infra", pr="0", sha="abc")) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[2] for line in lines] == ["--repo", "--pr", "--sha"]
    assert github.requests == []
