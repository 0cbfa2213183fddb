"""The fake GitHub's own rules, driven by the real PyGithub (and by bare HTTP where a test
must see the wire: headers, status codes, pages)."""

from __future__ import annotations

import base64
import hashlib
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
from github.InputGitTreeElement import InputGitTreeElement
from github.MainClass import Github

from tests.fakes.github_server import SECONDARY_RATE_LIMIT, FakeGitHub

TOKEN = "ghs_fakeservertoken"
STRANGER = "ghp_strangers_own_token"
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


def test_a_comment_is_written_by_the_account_its_token_stands_for(github: FakeGitHub) -> None:
    github.add_token(STRANGER, "mallory")
    with client(github) as gh:
        ours = gh.get_repo(REPO).get_pull(1).create_issue_comment("from the workflow")
    with client(github, token=STRANGER) as gh:
        theirs = gh.get_repo(REPO).get_pull(1).create_issue_comment("from a stranger")
    assert (ours.user.login, ours.user.type, ours.user.id) == (
        "github-actions[bot]",
        "Bot",
        41898282,
    )
    app = ours.performed_via_github_app
    assert (app.slug, app.id, app.name, app.owner.login) == (
        "github-actions",
        15368,
        "GitHub Actions",
        "github",
    )
    assert (theirs.user.login, theirs.user.type) == ("mallory", "User")
    assert theirs.performed_via_github_app is None
    assert [c.user for c in github.repo(REPO).pulls[1].comments] == [
        "github-actions[bot]",
        "mallory",
    ]


def test_get_user_refuses_an_installation_token(github: FakeGitHub) -> None:
    github.add_token(STRANGER, "mallory")
    status, _, body = raw(f"{github.url}/user")
    assert (status, body["message"]) == (403, "Resource not accessible by integration")
    with client(github, token=STRANGER) as gh:
        assert gh.get_user().login == "mallory"


def test_only_a_github_app_may_create_a_check_run(github: FakeGitHub) -> None:
    github.add_token(STRANGER, "mallory")
    github.add_token("ghs_otherapp", "other-app[bot]")
    sha = github.repo(REPO).pulls[1].head_sha
    arguments: dict[str, Any] = {"name": "freetier plan: oci", "head_sha": sha}
    with client(github, token=STRANGER) as gh, pytest.raises(GithubException) as refused:
        gh.get_repo(REPO).create_check_run(**arguments, conclusion="success")
    assert (refused.value.status, refused.value.data["message"]) == (
        403,
        "You must authenticate via a GitHub App.",
    )
    with client(github, token="ghs_otherapp") as gh:
        run = gh.get_repo(REPO).create_check_run(**arguments, conclusion="success")
    assert run.app.slug == "other-app"
    assert [r.app for r in github.repo(REPO).check_runs] == ["other-app"]


def test_the_check_runs_of_a_commit_come_in_pages_with_their_app_and_output(
    github: FakeGitHub,
) -> None:
    sha = github.repo(REPO).pulls[1].head_sha
    other = github.add_pull(REPO, 2).head_sha
    with client(github) as gh:
        repo = gh.get_repo(REPO)
        for i in range(35):
            output = {"title": f"run {i}", "summary": "s", "text": f"<!-- {i} -->"}
            repo.create_check_run(
                name=f"check {i % 5}", head_sha=sha, conclusion="success", output=output
            )
        repo.create_check_run(name="check 0", head_sha=other, conclusion="failure")
        every = list(repo.get_commit(sha).get_check_runs(filter="all"))
        latest = list(repo.get_commit(sha).get_check_runs())
        named = repo.get_commit(sha).get_check_runs(check_name="check 3", filter="all")
        assert [r.output.text for r in named] == [
            f"<!-- {i} -->" for i in (33, 28, 23, 18, 13, 8, 3)
        ]
    assert len(every) == 35 and {r.head_sha for r in every} == {sha}
    assert {r.app.slug for r in every} == {"github-actions"}
    # `latest`, GitHub's default, keeps the newest run of each name.
    assert sorted(r.output.title for r in latest) == [f"run {i}" for i in range(30, 35)]
    status, headers, body = raw(f"{github.url}/repos/{REPO}/commits/{sha}/check-runs?filter=all")
    assert (status, body["total_count"], len(body["check_runs"])) == (200, 35, 30)
    assert set(body["check_runs"][0]["output"]) == {
        "title", "summary", "text", "annotations_count", "annotations_url"
    }  # fmt: skip
    assert "page=2" in links(headers["link"])["next"]


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


# --- git data, contents and pull requests --------------------------------------------------


def test_commits_are_built_from_blob_tree_and_parent(github: FakeGitHub) -> None:
    main = github.push(REPO, "main", {"README.md": "hello\n", "tofu/oci/a.json": "{}\n"})
    with client(github) as gh:
        repo = gh.get_repo(REPO)
        ref = repo.get_git_ref("heads/main")
        assert (ref.ref, ref.object.sha) == ("refs/heads/main", main)
        parent = repo.get_git_commit(main)
        blob = repo.create_git_blob(base64.b64encode(b"\x00new\n").decode(), "base64")
        # git's own blob id, so the contents API's `sha` of the same bytes matches it
        assert blob.sha == hashlib.sha1(b"blob 5\x00\x00new\n", usedforsecurity=False).hexdigest()
        element = InputGitTreeElement("tofu/oci/a.json", "100644", "blob", sha=blob.sha)
        tree = repo.create_git_tree([element], base_tree=parent.tree)
        commit = repo.create_git_commit("change a", tree, [parent])
        assert [p.sha for p in commit.parents] == [main]
        assert commit.tree.sha == tree.sha
    assert github.files_at(REPO, commit.sha) == {
        "README.md": b"hello\n",
        "tofu/oci/a.json": b"\x00new\n",
    }
    assert github.repo(REPO).refs == {"refs/heads/main": main}  # a commit alone moves no branch
    git = f"{github.url}/repos/{REPO}/git"
    entry = {"path": "a", "mode": "100644", "type": "blob", "content": "x"}
    refusals: list[tuple[str, dict[str, Any], str]] = [
        ("trees", {"base_tree": main, "tree": [entry]}, "base_tree is not a valid tree oid"),
        ("trees", {"tree": [{**entry, "sha": blob.sha}]}, "Must supply either tree.sha"),
        ("trees", {"tree": [{**entry, "path": "a//b"}]}, "tree.path 'a//b' is not a valid"),
        ("commits", {"message": "m", "tree": main}, "Tree SHA does not exist"),
        ("commits", {"message": "m", "tree": tree.sha, "parents": [tree.sha]}, "Parent SHA"),
        ("commits", {"tree": tree.sha}, 'Invalid request.\n\n"message" wasn\'t supplied.'),
        ("blobs", {"content": "%%%", "encoding": "base64"}, "content is not valid Base64"),
    ]
    for kind, body, message in refusals:
        status, _, answer = raw(f"{git}/{kind}", method="POST", body=body)
        assert (status, answer["message"][: len(message)]) == (422, message), body


def test_refs_are_created_once_and_moved_forward_unless_forced(github: FakeGitHub) -> None:
    first = github.push(REPO, "main", {"a": "1"})
    second = github.push(REPO, "main", {"a": "2"})
    with client(github) as gh:
        repo = gh.get_repo(REPO)
        with pytest.raises(UnknownObjectException):
            _ = repo.get_git_ref("heads/side").object
        side = repo.create_git_ref("refs/heads/side", first)
        assert side.url == f"{github.url}/repos/{REPO}/git/refs/heads/side"
        failures: list[tuple[str, str]] = [
            ("refs/heads/side", first),  # exists
            ("heads/other", first),  # not under refs/
            ("refs/heads/a..b", first),  # git refuses the name
            ("refs/heads/other", "f" * 40),  # no such object
        ]
        for name, sha in failures:
            with pytest.raises(GithubException) as refused:
                repo.create_git_ref(name, sha)
            assert refused.value.status == 422, name
        side.edit(second)  # a fast forward
        with pytest.raises(GithubException) as backwards:
            side.edit(first)
        assert backwards.value.data["message"] == "Update is not a fast forward"
        side.edit(first, force=True)
        assert side.object.sha == first
    assert github.repo(REPO).refs["refs/heads/side"] == first
    patches = github.seen("PATCH", f"/repos/{REPO}/git/refs/heads/side")
    assert [(r.status, r.body.get("force")) for r in patches] == [
        (200, None),
        (422, None),
        (200, True),
    ]


def test_contents_are_read_at_a_branch_or_a_commit(github: FakeGitHub) -> None:
    old = github.push(
        REPO, "main", {"tofu/oci/a.json": "old\n", "tofu/b": "b", "big": "x" * 2_000_000}
    )
    github.push(REPO, "main", {"tofu/oci/a.json": "new\n"})
    with client(github) as gh:
        repo = gh.get_repo(REPO)
        latest = repo.get_contents("tofu/oci/a.json")
        assert not isinstance(latest, list)
        assert (latest.decoded_content, latest.path, latest.name) == (
            b"new\n",
            "tofu/oci/a.json",
            "a.json",
        )
        at_old = repo.get_contents("tofu/oci/a.json", ref=old[:7])
        assert not isinstance(at_old, list) and at_old.decoded_content == b"old\n"
        assert at_old.sha == hashlib.sha1(b"blob 4\x00old\n", usedforsecurity=False).hexdigest()
        listing = repo.get_contents("tofu", ref="main")
        assert isinstance(listing, list)
        assert [(c.type, c.path) for c in listing] == [("file", "tofu/b"), ("dir", "tofu/oci")]
        big = repo.get_contents("big")
        assert not isinstance(big, list) and (big.encoding, big.size) == ("none", 2_000_000)
        with pytest.raises(UnknownObjectException):
            repo.get_contents("tofu/none.json")
        with pytest.raises(GithubException) as no_ref:
            repo.get_contents("tofu/oci/a.json", ref="nope")
        assert (no_ref.value.status, no_ref.value.data["message"]) == (
            404,
            "No commit found for the ref nope",
        )


def test_pull_requests_are_opened_once_per_head_and_base(github: FakeGitHub) -> None:
    main = github.push(REPO, "main", {"a": "1"})
    github.repo(REPO).refs["refs/heads/same"] = main  # no commit of its own
    github.push(REPO, "feature", {"a": "2"})
    with client(github) as gh:
        repo = gh.get_repo(REPO)
        refusals: list[tuple[dict[str, str], dict[str, str]]] = [
            ({"head": "same"}, {"code": "custom", "message": "No commits between main and same"}),
            ({"head": "gone"}, {"code": "invalid", "field": "head"}),
            ({"head": "mallory:feature"}, {"code": "invalid", "field": "head"}),
            ({"base": "gone"}, {"code": "invalid", "field": "base"}),
            ({"title": ""}, {"code": "missing_field", "field": "title"}),
        ]
        for change, error in refusals:
            arguments = {"base": "main", "head": "feature", "title": "A change", **change}
            with pytest.raises(GithubException) as refused:
                repo.create_pull(arguments["base"], arguments["head"], title=arguments["title"])
            assert refused.value.status == 422, change
            assert error.items() <= refused.value.data["errors"][0].items(), change
        pull = repo.create_pull("main", "octo:feature", title="A change", body="why")
        assert (pull.head.ref, pull.head.label, pull.base.ref, pull.body) == (
            "feature",
            "octo:feature",
            "main",
            "why",
        )
        with pytest.raises(GithubException) as twice:
            repo.create_pull("main", "feature", title="Again")
        assert twice.value.data["errors"][0]["message"] == (
            "A pull request already exists for octo:feature."
        )
        pull.edit(body="because", title="The change")
        assert (pull.body, pull.title) == ("because", "The change")
        with pytest.raises(GithubException):
            pull.edit(body="x" * 65_537)
        pull.edit(state="closed")
        assert repo.create_pull("main", "feature", title="Anew").number == pull.number + 1


def test_the_head_filter_needs_its_owner(github: FakeGitHub) -> None:
    github.push(REPO, "main", {"a": "1"})
    github.push(REPO, "feature", {"a": "2"})
    github.push(REPO, "other", {"a": "3"})
    ours = github.add_pull(REPO, 2, head_ref="feature")
    github.add_pull(REPO, 3, head_ref="other")
    github.add_pull(REPO, 4, head_ref="feature", closed=True)
    with client(github) as gh:
        repo = gh.get_repo(REPO)

        def numbers(**filters: str) -> list[int]:
            return [p.number for p in repo.get_pulls(**filters)]

        assert numbers(head="octo:feature") == [ours.number]
        assert numbers(head="feature") == [3, 2, 1]  # GitHub ignores it: every open one
        assert numbers(head="mallory:feature") == []
        assert numbers(head="octo:feature", state="all") == [4, 2]
        assert numbers(head="octo:feature", base="develop") == []
    assert github.seen("GET", f"/repos/{REPO}/pulls")[0].query["head"] == ["octo:feature"]


def test_a_branch_moved_onto_its_base_closes_its_pull_and_a_merged_head_merges_it(
    github: FakeGitHub,
) -> None:
    main = github.push(REPO, "main", {"a": "1"})
    github.push(REPO, "reset", {"a": "2"})
    feature = github.push(REPO, "feature", {"a": "3"})
    reset = github.add_pull(REPO, 2, head_ref="reset")
    merged = github.add_pull(REPO, 3, head_ref="feature")
    with client(github) as gh:
        repo = gh.get_repo(REPO)
        repo.get_git_ref("heads/reset").edit(main, force=True)  # no commits left
        ref = repo.get_git_ref("heads/main")
        _ = ref.object
        ref.edit(feature)  # main takes the feature in
        states = {p.number: (p.state, p.merged) for p in repo.get_pulls(state="all")}
    assert states == {1: ("open", False), 2: ("closed", False), 3: ("closed", True)}
    assert reset.head_sha == main and merged.merged_at is not None
