"""freetier.github.record with the real PyGithub against the fake GitHub: only what the
workflow's App wrote is read back, across every page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from github.Auth import Token
from github.MainClass import Github

from freetier.github.client import RetryPolicy
from freetier.github.record import ReviewRecord, read_review_record
from tests.fakes.github_server import FakeGitHub, Pull

TOKEN = "ghs_record_canary_token_0123456789"
OTHER_APP = "ghs_another_apps_installation_token"
REPO = "octo/infra"
MARKER = "<!-- freetier:plan -->"
PR = 4
RETRY = RetryPolicy(max_attempts=1, seconds_between_requests=0, seconds_between_writes=0)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub(TOKEN)
    fake.add_repo(REPO)
    fake.add_token(OTHER_APP, "plan-bot[bot]")
    with fake.serve():
        yield fake


@pytest.fixture
def pull(github: FakeGitHub) -> Pull:
    return github.add_pull(REPO, PR)


def check_run(github: FakeGitHub, token: str, name: str, sha: str, text: str) -> None:
    """A check run created through PyGithub by whoever `token` stands for."""
    with Github(
        auth=Token(token),
        base_url=github.url,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    ) as gh:
        gh.get_repo(REPO).create_check_run(
            name=name,
            head_sha=sha,
            conclusion="success",
            output={"title": "t", "summary": "s", "text": text},
        )


def read(github: FakeGitHub) -> ReviewRecord:
    return read_review_record(REPO, PR, MARKER, token=TOKEN, base_url=github.url, retry=RETRY)


def test_only_the_workflows_comment_and_check_runs_are_read(github: FakeGitHub, pull: Pull) -> None:
    older = github.add_comment(REPO, PR, f"{MARKER}\nolder")
    ours = github.add_comment(REPO, PR, f"{MARKER}\nreviewed")
    github.add_comment(REPO, PR, f"{MARKER}\nforged", user="mallory")
    github.add_comment(REPO, PR, f"{MARKER}\nanother app", user="plan-bot[bot]")
    github.add_comment(REPO, PR, "LGTM", user="alice")
    check_run(github, TOKEN, "freetier plan: oci", pull.head_sha, "first")
    check_run(github, TOKEN, "freetier plan: oci", pull.head_sha, "ours")
    check_run(github, OTHER_APP, "freetier plan: oci", pull.head_sha, "theirs")
    check_run(github, TOKEN, "freetier plan: talos", pull.head_sha, "talos")

    record = read(github)

    assert (record.comment_id, record.comment) == (ours.id, f"{MARKER}\nreviewed")
    assert record.comment_id != older.id
    assert record.ignored == ("mallory", "plan-bot[bot]")
    assert record.checks == {"freetier plan: oci": "ours", "freetier plan: talos": "talos"}
    assert (record.pr, record.head_sha, record.author) == (PR, pull.head_sha, "github-actions[bot]")


def test_check_runs_of_other_commits_and_past_the_first_page_count_as_github_has_them(
    github: FakeGitHub, pull: Pull
) -> None:
    other = github.add_pull(REPO, PR + 1)
    for i in range(120):
        check_run(github, TOKEN, f"check {i}", pull.head_sha, f"text {i}")
    check_run(github, TOKEN, "freetier plan: oci", other.head_sha, "another commit")

    record = read(github)

    assert record.checks == {f"check {i}": f"text {i}" for i in range(120)}
    assert record.comment_id is None and record.comment == "" and record.ignored == ()
    pages = github.seen("GET", f"/repos/{REPO}/commits/{pull.head_sha}/check-runs")
    assert [r.query.get("page", ["1"]) for r in pages] == [["1"], ["2"]]
    assert all(r.query["filter"] == ["all"] for r in pages)
