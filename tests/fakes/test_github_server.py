"""The fake GitHub's own rules, driven by the real PyGithub (and by bare HTTP where a test
must see the wire: headers, status codes, pages)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from github.Auth import Token
from github.GithubException import (
    BadCredentialsException,
    GithubException,
    UnknownObjectException,
)
from github.MainClass import Github

from tests.fakes.github_server import SECONDARY_RATE_LIMIT, FakeGitHub

TOKEN = "ghs_fakeservertoken"
REPO = "octo/infra"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub(TOKEN)
    fake.add_repo(REPO)
    fake.add_pull(REPO, 1)
    with fake.serve():
        yield fake


def client(fake: FakeGitHub, *, token: str = TOKEN, per_page: int = 30) -> Github:
    """PyGithub as it comes, without retries or pacing."""
    return Github(
        auth=Token(token),
        base_url=fake.url,
        per_page=per_page,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def raw(
    url: str, *, method: str = "GET", body: Any = None, auth: str | None = f"token {TOKEN}"
) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - 127.0.0.1
    if auth:
        request.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            payload = response.read()
            status, headers = response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        payload, status, headers = exc.read(), exc.code, dict(exc.headers)
    return status, {k.lower(): v for k, v in headers.items()}, json.loads(payload or b"null")


def links(header: str) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', header)}


def test_comments_come_in_pages_of_30_with_link_headers(github: FakeGitHub) -> None:
    for i in range(75):
        github.add_comment(REPO, 1, f"comment {i}", user="alice")
    url = f"{github.url}/repos/{REPO}/issues/1/comments"

    status, headers, first = raw(url)
    assert status == 200 and len(first) == 30
    first_links = links(headers["link"])
    assert set(first_links) == {"next", "last"}
    repo_id = github.repo(REPO).id
    assert first_links["next"] == f"{github.url}/repositories/{repo_id}/issues/1/comments?page=2"
    assert first_links["last"].endswith("?page=3")

    _, headers, second = raw(first_links["next"])
    assert [c["body"] for c in second] == [f"comment {i}" for i in range(30, 60)]
    assert set(links(headers["link"])) == {"prev", "next", "last", "first"}
    _, headers, last = raw(links(headers["link"])["last"])
    assert len(last) == 15
    assert set(links(headers["link"])) == {"prev", "first"}


def test_per_page_is_kept_in_links_and_capped_at_100(github: FakeGitHub) -> None:
    for i in range(150):
        github.add_comment(REPO, 1, f"comment {i}", user="alice")
    url = f"{github.url}/repos/{REPO}/issues/1/comments"
    _, headers, page = raw(f"{url}?per_page=500")
    assert len(page) == 100
    assert links(headers["link"])["next"].endswith("?per_page=500&page=2")
    _, headers, page = raw(f"{url}?per_page=7&page=22")
    assert [c["body"] for c in page] == ["comment 147", "comment 148", "comment 149"]
    assert "link" in headers and "next" not in links(headers["link"])


def test_pygithub_walks_every_page(github: FakeGitHub) -> None:
    for i in range(95):
        github.add_comment(REPO, 1, f"comment {i}", user="alice")
    with client(github) as gh:
        comments = list(gh.get_repo(REPO).get_pull(1).get_issue_comments())
    assert [c.body for c in comments] == [f"comment {i}" for i in range(95)]
    assert comments[0].user.login == "alice"
    assert comments[0].created_at < comments[-1].created_at
    assert len(github.seen("GET", f"/repos/{REPO}/issues/1/comments")) == 4


@pytest.mark.parametrize(
    "auth", [None, "token wrong", f"Basic {TOKEN}", "token", f"token {TOKEN}x"]
)
def test_requests_without_the_token_get_401(github: FakeGitHub, auth: str | None) -> None:
    status, _, body = raw(f"{github.url}/repos/{REPO}", auth=auth)
    assert (status, body["message"]) == (401, "Bad credentials")


def test_bearer_and_token_schemes_are_accepted(github: FakeGitHub) -> None:
    for auth in (f"Bearer {TOKEN}", f"token {TOKEN}"):
        assert raw(f"{github.url}/repos/{REPO}", auth=auth)[0] == 200
    with pytest.raises(BadCredentialsException), client(github, token="nope") as gh:
        gh.get_repo(REPO)


def test_the_request_log_holds_no_credentials(github: FakeGitHub) -> None:
    raw(f"{github.url}/repos/{REPO}")
    assert TOKEN not in repr(github.requests)
    assert github.requests[0].path == f"/repos/{REPO}"


def test_unknown_repositories_pulls_and_routes_are_404(github: FakeGitHub) -> None:
    with client(github) as gh:
        with pytest.raises(UnknownObjectException):
            gh.get_repo("octo/none")
        with pytest.raises(UnknownObjectException):
            gh.get_repo(REPO).get_pull(2)
    assert raw(f"{github.url}/repos/{REPO}/nothing")[0] == 404


def test_comments_over_65536_characters_are_refused_with_422(github: FakeGitHub) -> None:
    with client(github) as gh:
        pull = gh.get_repo(REPO).get_pull(1)
        with pytest.raises(GithubException) as caught:
            pull.create_issue_comment("x" * 65_537)
        assert caught.value.status == 422
        assert caught.value.data["errors"][0]["message"].startswith("Body is too long")
        created = pull.create_issue_comment("x" * 65_536)
        with pytest.raises(GithubException) as edit:
            created.edit("y" * 65_537)
        assert edit.value.status == 422
        with pytest.raises(GithubException) as empty:
            created.edit("")
        assert empty.value.status == 422
    assert [len(c.body) for c in github.repo(REPO).pulls[1].comments] == [65_536]


def test_created_and_edited_comments_carry_the_real_fields(github: FakeGitHub) -> None:
    with client(github) as gh:
        pull = gh.get_repo(REPO).get_pull(1)
        comment = pull.create_issue_comment("hello")
        comment.edit("hello again")
        assert comment.body == "hello again"
        assert comment.user.login == "github-actions[bot]"
        assert comment.node_id.startswith("IC_")
        assert comment.html_url.endswith(f"/{REPO}/pull/1#issuecomment-{comment.id}")
        assert comment.updated_at > comment.created_at
    statuses = [(r.method, r.status) for r in github.seen(path_prefix=f"/repos/{REPO}/issues")]
    assert statuses == [("POST", 201), ("PATCH", 200)]


def test_minimize_comment_through_graphql(github: FakeGitHub) -> None:
    seeded = github.add_comment(REPO, 1, "old")
    with client(github) as gh:
        comment = gh.get_repo(REPO).get_pull(1).get_issue_comments()[0]
        assert comment.minimize("OUTDATED") is True
        assert (seeded.minimized, seeded.minimized_reason) == (True, "outdated")
        assert comment.unminimize() is True
        assert not seeded.minimized
        with pytest.raises(GithubException) as bad:
            comment.minimize("BORING")
        assert "invalid value (BORING)" in str(bad.value.data)
    request = github.seen("POST", "/graphql")[0]
    assert request.body["query"].startswith("mutation Mutation($input: MinimizeCommentInput!)")


def test_minimizing_an_unknown_node_is_not_found(github: FakeGitHub) -> None:
    status, _, body = raw(
        github.root + github.graphql_path,
        method="POST",
        body={
            "query": "mutation M($input: MinimizeCommentInput!) "
            "{ minimizeComment(input: $input) { minimizedComment { isMinimized } } }",
            "variables": {"input": {"subjectId": "IC_nope", "classifier": "OUTDATED"}},
        },
    )
    assert status == 200
    assert body["errors"][0]["type"] == "NOT_FOUND"


def test_check_runs_follow_githubs_rules(github: FakeGitHub) -> None:
    sha = github.repo(REPO).pulls[1].head_sha
    with client(github) as gh:
        repo = gh.get_repo(REPO)
        run = repo.create_check_run(
            name="freetier plan: oci",
            head_sha=sha,
            status="completed",
            conclusion="failure",
            output={"title": "over", "summary": "A1: 3 of 2 OCPU"},
        )
        assert (run.name, run.conclusion, run.head_sha) == ("freetier plan: oci", "failure", sha)
        assert run.output.title == "over"
        bad: list[dict[str, Any]] = [
            {"head_sha": "f" * 40},  # no such commit
            {"conclusion": "great"},
            {"output": {"title": "t", "summary": "s" * 65_536}},
            {"output": {"summary": "no title"}},
        ]
        for change in bad:
            arguments: dict[str, Any] = {
                "name": "x",
                "head_sha": sha,
                "status": "completed",
                "conclusion": "success",
            }
            with pytest.raises(GithubException) as caught:
                repo.create_check_run(**{**arguments, **change})
            assert caught.value.status == 422, change
    assert len(github.repo(REPO).check_runs) == 1


def test_labels_are_created_once_added_and_removed(github: FakeGitHub) -> None:
    with client(github) as gh:
        repo = gh.get_repo(REPO)
        label = repo.create_label("plan:destroy", "d93f0b", "Managed by freetier")
        assert (label.name, label.color) == ("plan:destroy", "d93f0b")
        assert repo.get_label("plan:destroy").description == "Managed by freetier"
        with pytest.raises(GithubException) as duplicate:
            repo.create_label("Plan:Destroy", "000000")
        assert duplicate.value.data["errors"][0]["code"] == "already_exists"
        with pytest.raises(UnknownObjectException):
            repo.get_label("plan:nothing")
        pull = repo.get_pull(1)
        pull.add_to_labels("plan:destroy", "brand-new")  # GitHub creates unknown labels
        assert [x.name for x in repo.get_pull(1).labels] == ["plan:destroy", "brand-new"]
        pull.remove_from_labels("plan:destroy")
        with pytest.raises(GithubException) as gone:
            pull.remove_from_labels("plan:destroy")
        assert (gone.value.status, gone.value.data["message"]) == (404, "Label does not exist")
    assert github.repo(REPO).pulls[1].labels == ["brand-new"]
    assert "brand-new" in github.repo(REPO).labels
    add = github.seen("POST", f"/repos/{REPO}/issues/1/labels")[0]
    assert (add.status, add.body) == (200, ["plan:destroy", "brand-new"])


def test_commit_pulls_list_the_associated_pull_requests(github: FakeGitHub) -> None:
    merged = github.add_pull(REPO, 2, merged=True)
    with client(github) as gh:
        commit = gh.get_repo(REPO).get_commit(merged.head_sha)
        pulls = list(commit.get_pulls())
        assert [(p.number, p.merged_at is not None) for p in pulls] == [(2, True)]
        with pytest.raises(GithubException) as unknown:
            gh.get_repo(REPO).get_commit("0" * 40)
        assert unknown.value.status == 422


def test_faults_fire_the_given_number_of_times(github: FakeGitHub) -> None:
    url = f"{github.url}/repos/{REPO}"
    github.inject(f"/repos/{REPO}", 502, times=2)
    assert [raw(url)[0] for _ in range(3)] == [502, 502, 200]
    github.inject(f"/repos/{REPO}", 500, times=None, method="POST")
    assert raw(url)[0] == 200  # other methods pass
    github.inject(f"/repos/{REPO}", 403, SECONDARY_RATE_LIMIT, headers={"retry-after": "1"})
    status, headers, body = raw(url)
    assert (status, headers["retry-after"], body["message"]) == (403, "1", SECONDARY_RATE_LIMIT)
    assert raw(url)[0] == 200


def test_an_applied_fault_fails_after_the_write(github: FakeGitHub) -> None:
    url = f"{github.url}/repos/{REPO}/issues/1/comments"
    github.inject(f"/repos/{REPO}/issues/1/comments", 504, "Gateway Timeout", applied=True)
    assert raw(url, method="POST", body={"body": "hi"})[0] == 504
    assert [c.body for c in github.repo(REPO).pulls[1].comments] == ["hi"]


def test_rate_limit_headers_are_sent(github: FakeGitHub) -> None:
    _, headers, _ = raw(f"{github.url}/repos/{REPO}")
    assert headers["x-ratelimit-limit"] == "5000"
    assert int(headers["x-ratelimit-remaining"]) < 5000
    assert headers["content-type"].startswith("application/json")


def test_enterprise_prefix_serves_rest_and_graphql() -> None:
    fake = FakeGitHub(TOKEN, prefix="/api/v3")
    fake.add_repo(REPO)
    fake.add_pull(REPO, 1)
    seeded = fake.add_comment(REPO, 1, "old")
    with fake.serve(), client(fake) as gh:
        assert raw(f"{fake.root}/repos/{REPO}")[0] == 404  # not under the prefix
        comment = gh.get_repo(REPO).get_pull(1).get_issue_comments()[0]
        assert comment.url.startswith(f"{fake.root}/api/v3/repos/")
        assert comment.minimize()
    assert seeded.minimized
    assert fake.seen("POST", "/graphql")
