"""freetier.github.authors: a record is the workflow's only when everything GitHub says of
its author fits the Actions App. The objects are PyGithub's own, built from what the fake
GitHub served (`create_from_raw_data`), with one field at a time changed to what an author
other than the workflow would show."""

from __future__ import annotations

import copy
import operator
from collections.abc import Iterator
from functools import reduce
from typing import Any

import pytest
from github.Auth import Token
from github.CheckRun import CheckRun
from github.IssueComment import IssueComment
from github.MainClass import Github

from freetier.github.authors import GITHUB_ACTIONS, is_marked
from tests.fakes.github_server import FakeGitHub

TOKEN = "ghs_authors_canary_token_012345"
REPO = "octo/infra"


@pytest.fixture
def served() -> Iterator[tuple[Github, dict[str, Any], dict[str, Any]]]:
    """PyGithub, and a comment and a check run exactly as the workflow's token gets them."""
    fake = FakeGitHub(TOKEN)
    fake.add_repo(REPO)
    pull = fake.add_pull(REPO, 1)
    unpaced = {"seconds_between_requests": None, "seconds_between_writes": None}
    with fake.serve(), Github(auth=Token(TOKEN), base_url=fake.url, retry=None, **unpaced) as gh:
        repo = gh.get_repo(REPO)
        comment = repo.get_pull(1).create_issue_comment("<!-- freetier:plan -->")
        run = repo.create_check_run(name="freetier plan: oci", head_sha=pull.head_sha)
        yield gh, comment.raw_data, run.raw_data


def test_the_workflows_own_records_are_recognised(served: Any) -> None:
    gh, comment, run = served
    assert GITHUB_ACTIONS.login == "github-actions[bot]"
    assert GITHUB_ACTIONS.wrote(gh.create_from_raw_data(IssueComment, comment))
    assert GITHUB_ACTIONS.ran(gh.create_from_raw_data(CheckRun, run))


ANOTHER_APP = {"id": 7, "slug": "plan-bot", "name": "plan-bot"}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("user", "login"), "mallory"),
        (("user", "login"), "github-actions"),
        (("user", "type"), "User"),
        (("user",), None),  # a deleted account
        (("performed_via_github_app",), None),
        (("performed_via_github_app",), ANOTHER_APP),
        (("performed_via_github_app", "slug"), "github-actions-fork"),
    ],
    ids=["person", "login-no-bot", "not-a-Bot", "ghost", "no-App", "another-App", "App-slug"],
)
def test_a_comment_is_not_ours_when_any_part_of_its_author_differs(
    served: Any, path: tuple[str, ...], value: Any
) -> None:
    gh, comment, _ = served
    changed = copy.deepcopy(comment)
    *parents, last = path
    reduce(operator.getitem, parents, changed)[last] = value
    assert not GITHUB_ACTIONS.wrote(gh.create_from_raw_data(IssueComment, changed))


@pytest.mark.parametrize("app", [None, ANOTHER_APP])
def test_a_check_run_of_another_app_is_not_ours(served: Any, app: Any) -> None:
    gh, _, run = served
    assert not GITHUB_ACTIONS.ran(gh.create_from_raw_data(CheckRun, {**run, "app": app}))


@pytest.mark.parametrize(
    ("body", "marked"),
    [
        ("<!-- freetier:plan -->\n## plan", True),
        ("  <!-- freetier:plan --> trailing", True),
        ("> <!-- freetier:plan -->", False),
        ("## plan\n<!-- freetier:plan -->", False),
        (None, False),
    ],
)
def test_the_marker_counts_on_the_first_line_only(body: str | None, marked: bool) -> None:
    assert is_marked(body, "<!-- freetier:plan -->") is marked
    assert not is_marked(body, "")
