"""`freetier validate --report-issue`: one issue open while validation fails, created once,
edited on each failing run, closed with a comment when a run passes; PyGithub against the
fake GitHub."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from freetier.cli import main
from tests.fakes.github_issues import Issue
from tests.fakes.github_server import FakeGitHub
from tests.validate.conftest import Deployed

TOKEN = "ghs_validatetoken"  # the fake GitHub's test token
REPO = "octo/infra"
TITLE = "freetier validate: failing"


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(TOKEN)
    fake.add_repo(REPO)
    with fake.serve():
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
        monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
        monkeypatch.setenv("GITHUB_RUN_ID", "4242")
        yield fake


def _run(deployed: Deployed, capsys) -> tuple[int, str]:
    argv = ["validate", "--stack", str(deployed.stack), "--check", "images"]
    code = main([*argv, "--report-issue", REPO, "--format", "json"])
    out, err = capsys.readouterr()
    json.loads(out)  # the report is printed whatever happens to the issue
    return code, err.strip().splitlines()[-1]


def _issues(github: FakeGitHub) -> list[Issue]:
    return github.repo_issues(github.repos[REPO])


def _break_images(deployed: Deployed, state: str) -> None:
    fake = deployed.tenancy.fake
    with fake.lock:
        image = next(i for i in fake.state["images"] if i["id"] == deployed.images["arm64"])
        image["lifecycleState"] = state


def test_the_failing_issue_is_opened_once_edited_then_closed(
    deployed: Deployed, github: FakeGitHub, capsys
) -> None:
    # Someone's own issue with the same title is never touched.
    theirs = github.create_issue(github.repos[REPO], {}, {}, {"title": TITLE, "body": "mine"})

    assert _run(deployed, capsys) == (0, f"validate: {REPO}: no failing issue open, none needed")
    assert len(_issues(github)) == 1

    _break_images(deployed, "DISABLED")
    code, said = _run(deployed, capsys)
    assert (code, said) == (1, f"validate: {REPO}#2: opened the failing issue")
    [_, issue] = _issues(github)
    assert (issue.title, issue.state) == (TITLE, "open")
    assert "is DISABLED, not AVAILABLE" in issue.body
    assert "Run: https://github.com/octo/infra/actions/runs/4242" in issue.body

    _break_images(deployed, "EXPORTING")
    assert _run(deployed, capsys) == (1, f"validate: {REPO}#2: edited the failing issue")
    [_, issue] = _issues(github)
    assert "is EXPORTING, not AVAILABLE" in issue.body
    assert "DISABLED" not in issue.body

    _break_images(deployed, "AVAILABLE")
    assert _run(deployed, capsys) == (0, f"validate: {REPO}#2: closed the failing issue")
    [mine, issue] = _issues(github)
    assert (issue.state, issue.state_reason) == ("closed", "completed")
    assert [c.body.splitlines()[0] for c in issue.comments] == [
        "freetier validate passes again: closing."
    ]
    assert (mine.number, mine.state, mine.body) == (theirs["number"], "open", "mine")

    # Failing again later opens a new one: the closed one is history.
    _break_images(deployed, "DISABLED")
    assert _run(deployed, capsys) == (1, f"validate: {REPO}#3: opened the failing issue")


def test_report_issue_without_a_token_is_bad_input_before_any_check(
    deployed: Deployed, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    code = main(["validate", "--stack", str(deployed.stack), "--report-issue", REPO])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [
        "freetier: error: GITHUB_TOKEN: not set; --report-issue needs a token with issues: write"
    ]
    assert deployed.tenancy.fake.seen() == []
