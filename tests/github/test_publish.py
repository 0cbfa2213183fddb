"""freetier.github.publish with the real PyGithub against the fake GitHub on 127.0.0.1."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from github.GithubException import GithubException

from freetier.errors import ConfigError, RemoteError
from freetier.github.client import RetryPolicy, connect
from freetier.github.publish import (
    COMMENT_LIMIT,
    SUMMARY_LIMIT,
    CheckRun,
    Publication,
    Published,
    comment_on_pull,
    fit_summary,
    publish,
    pulls_for_commit,
)
from tests.fakes.github_server import (
    PRIMARY_RATE_LIMIT,
    SECONDARY_RATE_LIMIT,
    FakeGitHub,
    Pull,
)

TOKEN = "ghs_0123456789abcdefCANARY"
REPO = "octo/infra"
MARKER = "<!-- freetier:plan -->"
PR = 7


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub(TOKEN)
    fake.add_repo(REPO)
    with fake.serve():
        yield fake


@pytest.fixture
def pull(github: FakeGitHub) -> Pull:
    return github.add_pull(REPO, PR)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def retry(sleeps: list[float]) -> RetryPolicy:
    """Real retry rules; waits are recorded instead of slept, and no pacing."""
    return RetryPolicy(
        max_attempts=3,
        base_sleep_seconds=0.01,
        seconds_between_requests=0,
        seconds_between_writes=0,
        sleep=sleeps.append,
    )


def body(text: str = "plan: 1 to add") -> str:
    return f"{MARKER}\n## freetier plan\n\n{text}\n"


def publication(pull: Pull, text: str = "plan: 1 to add", **changes: Any) -> Publication:
    return replace(Publication(body(text), MARKER, pull.head_sha), **changes)


def ours(github: FakeGitHub, number: int = PR) -> list[str]:
    return [c.body for c in github.repo(REPO).pulls[number].comments if c.body.startswith(MARKER)]


def run(github: FakeGitHub, pub: Publication, retry: RetryPolicy, pr: int = PR) -> Published:
    return publish(REPO, pr, pub, token=TOKEN, base_url=github.url, retry=retry)


# --- the sticky comment --------------------------------------------------------------------


def test_our_comment_on_page_four_of_150_is_edited_in_place(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    for i in range(150):
        text = body("old plan") if i == 100 else f"review comment {i}"
        github.add_comment(REPO, PR, text, user="github-actions[bot]" if i == 100 else "alice")
    old = pull.comments[100]

    published = publish(
        REPO, PR, publication(pull, "new plan"), token=TOKEN, base_url=github.url, retry=retry
    )

    assert published.comment_id == old.id
    assert not published.created
    assert published.minimized == ()
    assert old.body == body("new plan")
    assert len(pull.comments) == 150
    assert github.seen("POST", f"/repos/{REPO}/issues/{PR}/comments") == []
    listed = github.seen("GET", f"/repos/{REPO}/issues/{PR}/comments")
    # Every page was read, the second through the Link header's /repositories/{id} URL.
    assert [r.query.get("page", ["1"]) for r in listed] == [["1"], ["2"]]
    assert [r.method for r in github.seen("PATCH")] == ["PATCH"]


def test_a_second_publish_edits_again_and_never_duplicates(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    github.add_comment(REPO, PR, "LGTM", user="alice")
    first = run(github, publication(pull, "first"), retry)
    second = run(github, publication(pull, "second"), retry)
    third = run(github, publication(pull, "third"), retry)

    assert first.created and not second.created and not third.created
    assert first.comment_id == second.comment_id == third.comment_id
    assert ours(github) == [body("third")]
    assert len(github.seen("POST", f"/repos/{REPO}/issues/{PR}/comments")) == 1
    assert len(github.seen("PATCH")) == 2


def test_an_unchanged_body_is_not_rewritten(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    run(github, publication(pull), retry)
    run(github, publication(pull), retry)
    assert github.seen("PATCH") == []
    assert ours(github) == [body()]


def test_the_newest_copy_is_edited_and_older_copies_are_minimized(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    oldest = github.add_comment(REPO, PR, body("one"))
    github.add_comment(REPO, PR, "a review", user="alice")
    older = github.add_comment(REPO, PR, body("two"))
    newest = github.add_comment(REPO, PR, body("three"))
    quoted = github.add_comment(REPO, PR, f"> {MARKER}\n> quoted", user="alice")

    published = run(github, publication(pull, "four"), retry)

    assert published.comment_id == newest.id
    assert published.minimized == (oldest.id, older.id)
    assert newest.body == body("four") and not newest.minimized
    assert oldest.minimized and older.minimized
    assert oldest.minimized_reason == older.minimized_reason == "outdated"
    assert oldest.body == body("one")  # minimized, not rewritten
    assert not quoted.minimized
    graphql = github.seen("POST", "/graphql")
    assert [r.body["variables"]["input"] for r in graphql] == [
        {"subjectId": oldest.node_id, "classifier": "OUTDATED"},
        {"subjectId": older.node_id, "classifier": "OUTDATED"},
    ]


def test_a_look_alike_comment_by_anyone_else_is_never_edited_nor_minimized(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    """Issue 11: whoever may comment can copy the marker; the workflow's comment is the one
    its App wrote, and a stranger's, even newer, is left exactly as it is."""
    mine = github.add_comment(REPO, PR, body("reviewed"))
    forged = github.add_comment(REPO, PR, body("forged"), user="mallory")
    impostor = github.add_comment(REPO, PR, body("impostor"), user="github-actions")

    published = run(github, publication(pull, "new plan"), retry)

    assert published.comment_id == mine.id and published.minimized == ()
    assert mine.body == body("new plan")
    assert (forged.body, forged.minimized) == (body("forged"), False)
    assert (impostor.body, impostor.minimized) == (body("impostor"), False)
    assert [r.path for r in github.seen("PATCH")] == [f"/repos/{REPO}/issues/comments/{mine.id}"]
    assert github.seen("POST", "/graphql") == []


def test_with_only_a_strangers_look_alike_comment_ours_is_created(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    forged = github.add_comment(REPO, PR, body("forged"), user="mallory")

    published = run(github, publication(pull), retry)

    assert published.created and published.minimized == ()
    assert (forged.body, forged.minimized) == (body("forged"), False)
    assert [(c.user, c.body) for c in pull.comments] == [
        ("mallory", body("forged")),
        ("github-actions[bot]", body()),
    ]


def test_a_fresh_pull_request_gets_one_comment(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    published = run(github, publication(pull), retry)
    assert published.created
    assert ours(github) == [body()]
    assert pull.comments[0].id == published.comment_id
    assert pull.comments[0].user == "github-actions[bot]"


def test_the_api_url_comes_from_github_api_url(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    published = publish(REPO, PR, publication(pull), token=TOKEN, retry=retry)
    assert published.created


def test_github_enterprise_paths(retry: RetryPolicy) -> None:
    fake = FakeGitHub(TOKEN, prefix="/api/v3")
    fake.add_repo(REPO)
    pull = fake.add_pull(REPO, PR)
    fake.add_comment(REPO, PR, body("old"))
    fake.add_comment(REPO, PR, body("newer"))
    with fake.serve():
        assert fake.url.endswith("/api/v3")
        published = publish(
            REPO, PR, publication(pull), token=TOKEN, base_url=fake.url, retry=retry
        )
    assert published.minimized == (pull.comments[0].id,)
    assert pull.comments[0].minimized


# --- check runs ----------------------------------------------------------------------------


def test_one_check_run_per_layer_with_its_conclusion(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    checks = (
        CheckRun("freetier plan: oci", "success", "2 to add", "| resource | action |"),
        CheckRun("freetier plan: talos", "failure", "over the free tier", "A1: 3 OCPU of 2"),
        CheckRun("freetier plan: flux", "neutral", "skipped", "no credentials"),
    )
    published = run(github, publication(pull, checks=checks), retry)

    runs = github.repo(REPO).check_runs
    assert published.check_run_ids == tuple(r.id for r in runs)
    assert [(r.name, r.conclusion, r.status, r.head_sha) for r in runs] == [
        (c.name, c.conclusion, "completed", pull.head_sha) for c in checks
    ]
    assert [(r.output["title"], r.output["summary"]) for r in runs] == [
        (c.title, c.summary) for c in checks
    ]
    assert {r.app for r in runs} == {"github-actions"}
    assert all("text" not in r.output for r in runs)  # no text given, none sent


def test_a_check_runs_text_is_sent_whole(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    text = '<!-- freetier:fingerprints {"oci": {"changes": "c1", "digest": "d1"}} -->'
    check = CheckRun("freetier plan: oci", "success", "ok", "fine", text)
    run(github, publication(pull, checks=(check,)), retry)
    assert github.repo(REPO).check_runs[0].output["text"] == text


def test_a_long_check_summary_is_cut_with_a_notice(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    summary = "```\n" + "\n".join(f"+ resource {i}" for i in range(6_000)) + "\n```\n"
    assert len(summary) > SUMMARY_LIMIT
    check = CheckRun("freetier plan: oci", "success", "big", summary)
    run(github, publication(pull, checks=(check,)), retry)

    sent = github.repo(REPO).check_runs[0].output["summary"]
    assert len(sent) <= SUMMARY_LIMIT
    assert "Cut here" in sent
    assert sent.split("\n\n> **Cut here")[0].endswith("\n```")  # the open fence is closed


def test_fit_summary_leaves_a_short_summary_alone() -> None:
    assert fit_summary("short") == "short"
    assert fit_summary("x" * SUMMARY_LIMIT) == "x" * SUMMARY_LIMIT


@pytest.mark.parametrize("limit", [200, 300, 1_000, 5_000])
@pytest.mark.parametrize("text", ["x" * 6_000, "```\n" + "y" * 6_000, "a\n```\n" * 1_000])
def test_fit_summary_always_fits(text: str, limit: int) -> None:
    cut = fit_summary(text, limit=limit)
    assert len(cut) <= limit
    assert "Cut here" in cut


def test_fit_summary_cuts_at_a_line_end_and_closes_the_fence() -> None:
    text = "intro\n~~~~hcl\n" + "line\n" * 400
    cut = fit_summary(text, limit=1_000)
    assert len(cut) <= 1_000
    head, notice = cut.split("\n\n> **Cut here:**")
    assert head.endswith("line\n~~~~")
    assert f"{len(text):,} characters" in notice


# --- labels --------------------------------------------------------------------------------


def test_labels_are_created_added_and_removed(github: FakeGitHub, retry: RetryPolicy) -> None:
    pull = github.add_pull(REPO, PR, labels=("plan:no-changes", "area:network"))
    github.add_label(REPO, "plan:destroy", "123456")
    pub = publication(
        pull,
        labels_add=frozenset({"plan:destroy", "cost:over-free-tier"}),
        labels_remove=frozenset({"plan:no-changes", "plan:stale"}),
    )
    published = run(github, pub, retry)

    assert published.labels == ("area:network", "cost:over-free-tier", "plan:destroy")
    assert sorted(pull.labels) == list(published.labels)
    labels = github.repo(REPO).labels
    assert labels["cost:over-free-tier"].color == "b60205"  # created with our colour
    assert labels["cost:over-free-tier"].description == "Managed by freetier"
    assert labels["plan:destroy"].color == "123456"  # existed: left alone
    created = [r.body["name"] for r in github.seen("POST", f"/repos/{REPO}/labels")]
    assert created == ["cost:over-free-tier"]
    deleted = [r.path for r in github.seen("DELETE")]
    assert deleted == [f"/repos/{REPO}/issues/{PR}/labels/plan:no-changes"]  # not plan:stale


def test_labels_already_on_the_pull_request_are_not_requested_again(
    github: FakeGitHub, retry: RetryPolicy
) -> None:
    pull = github.add_pull(REPO, PR, labels=("plan:destroy",))
    run(github, publication(pull, labels_add=frozenset({"plan:destroy"})), retry)
    assert github.seen(path_prefix=f"/repos/{REPO}/labels") == []
    assert github.seen("POST", f"/repos/{REPO}/issues/{PR}/labels") == []


def test_a_label_already_gone_is_not_an_error(github: FakeGitHub, retry: RetryPolicy) -> None:
    pull = github.add_pull(REPO, PR, labels=("plan:destroy",))
    github.inject(f"/repos/{REPO}/issues/{PR}/labels/", 404, "Label does not exist")
    published = run(github, publication(pull, labels_remove=frozenset({"plan:destroy"})), retry)
    assert published.labels == ()
    assert len(github.seen("DELETE")) == 1


# --- retries -------------------------------------------------------------------------------


def test_a_502_is_retried_then_succeeds(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy, sleeps: list[float]
) -> None:
    github.inject(f"/repos/{REPO}/pulls/{PR}", 502, "Server Error", times=2)
    published = run(github, publication(pull), retry)
    assert published.created
    assert [r.status for r in github.seen("GET", f"/repos/{REPO}/pulls/{PR}")] == [502, 502, 200]
    assert sleeps == [0.02]  # urllib3: no wait before the first retry, then factor * 2


def test_a_502_on_edit_is_retried_too(github: FakeGitHub, pull: Pull, retry: RetryPolicy) -> None:
    github.add_comment(REPO, PR, body("old"))
    github.inject("/repos/octo/infra/issues/comments/", 502, method="PATCH")
    run(github, publication(pull, "new"), retry)
    assert [r.status for r in github.seen("PATCH")] == [502, 200]
    assert ours(github) == [body("new")]


def test_a_create_retried_after_a_lost_answer_is_healed_by_the_next_publish(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    # The gateway fails after GitHub stored the comment: the retried POST stores a second.
    github.inject(f"/repos/{REPO}/issues/{PR}/comments", 502, method="POST", applied=True)
    first = run(github, publication(pull, "one"), retry)
    assert ours(github) == [body("one"), body("one")]

    second = run(github, publication(pull, "two"), retry)
    assert second.comment_id == first.comment_id == pull.comments[1].id
    assert second.minimized == (pull.comments[0].id,)
    assert pull.comments[0].minimized and not pull.comments[1].minimized
    assert ours(github) == [body("one"), body("two")]


def test_a_secondary_rate_limit_waits_retry_after(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy, sleeps: list[float]
) -> None:
    github.inject(
        f"/repos/{REPO}/check-runs", 403, SECONDARY_RATE_LIMIT, headers={"retry-after": "1"}
    )
    check = CheckRun("freetier plan: oci", "success", "ok", "fine")
    published = run(github, publication(pull, checks=(check,)), retry)
    assert len(published.check_run_ids) == 1
    assert [r.status for r in github.seen("POST", f"/repos/{REPO}/check-runs")] == [403, 201]
    assert sleeps == [1.0]


def test_a_secondary_rate_limit_without_retry_after_waits_the_configured_time(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy, sleeps: list[float]
) -> None:
    github.inject(f"/repos/{REPO}/pulls/{PR}", 403, SECONDARY_RATE_LIMIT)
    run(github, publication(pull), retry)
    assert sleeps == [retry.rate_limit_wait_seconds]


def test_a_429_with_no_requests_left_waits_for_the_reset(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy, sleeps: list[float]
) -> None:
    reset = int(time.time()) + 5
    github.inject(
        f"/repos/{REPO}/pulls/{PR}",
        429,
        PRIMARY_RATE_LIMIT,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    run(github, publication(pull), retry)
    assert len(sleeps) == 1 and 4 <= sleeps[0] <= 7


@pytest.mark.parametrize("status", [403, 429])
def test_a_rate_limit_longer_than_we_wait_fails_at_once(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy, sleeps: list[float], status: int
) -> None:
    reset = int(time.time()) + 3_600
    github.inject(
        f"/repos/{REPO}/pulls/{PR}",
        status,
        PRIMARY_RATE_LIMIT,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    with pytest.raises(RemoteError, match=rf"reading pull request #7 of {REPO}: {status} "):
        run(github, publication(pull), retry)
    assert sleeps == []
    assert len(github.seen("GET", f"/repos/{REPO}/pulls/{PR}")) == 1


def test_a_422_is_not_retried(github: FakeGitHub, pull: Pull, retry: RetryPolicy) -> None:
    with connect(TOKEN, base_url=github.url, retry=retry) as client:
        issue = client.get_repo(REPO).get_pull(PR)
        with pytest.raises(GithubException) as caught:
            issue.create_issue_comment("x" * (COMMENT_LIMIT + 1))
    assert caught.value.status == 422
    assert [r.status for r in github.seen("POST")] == [422]


def test_a_403_forbidden_is_not_retried(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy, sleeps: list[float]
) -> None:
    github.inject(
        f"/repos/{REPO}/check-runs", 403, "Resource not accessible by integration", times=None
    )
    check = CheckRun("freetier plan: oci", "success", "ok", "fine")
    with pytest.raises(RemoteError) as caught:
        run(github, publication(pull, checks=(check,)), retry)
    assert str(caught.value) == (
        "GitHub: creating check run 'freetier plan: oci': "
        "403 Resource not accessible by integration"
    )
    assert len(github.seen("POST", f"/repos/{REPO}/check-runs")) == 1
    assert sleeps == []


def test_a_persistent_500_is_one_remote_error_line(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    github.inject(f"/repos/{REPO}", 500, "Server Error", times=None)
    with pytest.raises(RemoteError) as caught:
        run(github, publication(pull), retry)
    assert str(caught.value) == f"GitHub: reading repository {REPO}: 500 Server Error"
    assert len(github.seen()) == retry.max_attempts  # bounded


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "   \n"])
def test_a_missing_token_is_a_config_error(github: FakeGitHub, pull: Pull, token: str) -> None:
    with pytest.raises(ConfigError) as caught:
        publish(REPO, PR, publication(pull), token=token, base_url=github.url)
    assert caught.value.problems[0].startswith("GITHUB_TOKEN: not set")
    assert caught.value.exit_code == 2
    assert github.requests == []


def test_an_unknown_pull_request_is_a_config_error(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    with pytest.raises(ConfigError) as caught:
        run(github, publication(pull), retry, pr=99)
    assert caught.value.problems == ("--pr 99: no such pull request in octo/infra",)
    assert len(github.seen(path_prefix=f"/repos/{REPO}/pulls/99")) == 1  # a 404: not retried


def test_an_unknown_repository_is_a_config_error(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    with pytest.raises(ConfigError, match="octo/nothing: no such repository"):
        publish(
            "octo/nothing", PR, publication(pull), token=TOKEN, base_url=github.url, retry=retry
        )


def test_bad_credentials_are_a_remote_error(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    with pytest.raises(RemoteError) as caught:
        publish(REPO, PR, publication(pull), token="ghs_wrong", base_url=github.url, retry=retry)
    assert str(caught.value) == f"GitHub: reading repository {REPO}: 401 Bad credentials"
    assert len(github.requests) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"body": MARKER + "x" * COMMENT_LIMIT}, "GitHub accepts at most 65,536"),
        ({"body": "no marker here"}, "must start with"),
        ({"marker": " "}, "marker is empty"),
        ({"head_sha": "main"}, "not a full commit SHA"),
        ({"labels_add": frozenset({"a"}), "labels_remove": frozenset({"a"})}, "both added"),
    ],
)
def test_a_publication_github_would_refuse_fails_before_any_request(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        run(github, replace(publication(pull), **changes), retry)
    assert github.requests == []


def test_a_body_of_exactly_the_limit_is_accepted(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    text = MARKER + "\n" + "x" * (COMMENT_LIMIT - len(MARKER) - 1)
    run(github, replace(publication(pull), body=text), retry)
    assert ours(github) == [text]


# --- the token never leaks -----------------------------------------------------------------


def test_the_token_never_appears_in_errors_logs_or_comments(
    github: FakeGitHub,
    pull: Pull,
    retry: RetryPolicy,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="github")  # PyGithub pins its logger at INFO
    leaky = body(f"echo {TOKEN}")
    check = CheckRun("freetier plan: oci", "success", f"t={TOKEN}", f"token {TOKEN}", TOKEN)
    run(github, replace(publication(pull, checks=(check,)), body=leaky), retry)
    texts = [c.body for c in pull.comments]
    texts += [str(r.output) for r in github.repo(REPO).check_runs]

    failures: list[BaseException] = []
    github.inject(f"/repos/{REPO}/pulls/{PR}", 500, "Server Error", times=None)
    attempts = [
        (TOKEN, PR, github.url),  # persistent 500
        (TOKEN + "x", PR, github.url),  # 401 Bad credentials
        (TOKEN, 99, github.url),  # no such pull request
        (TOKEN, PR, "http://127.0.0.1:9"),  # nothing listens there
    ]
    for token, number, url in attempts:
        with pytest.raises((RemoteError, ConfigError)) as caught:
            publish(REPO, number, publication(pull), token=token, base_url=url, retry=retry)
        failures.append(caught.value)

    for failure in failures:
        chain: BaseException | None = failure
        while chain is not None:  # what a traceback would print
            texts += [str(chain), repr(chain)]
            chain = chain.__cause__ or (None if chain.__suppress_context__ else chain.__context__)
    captured = capsys.readouterr()
    texts += [caplog.text, captured.out, captured.err]
    assert [type(f) for f in failures] == [RemoteError, RemoteError, ConfigError, RemoteError]
    assert "GitHub: reading pull request #7 of octo/infra: 500 Server Error" in texts
    assert "Bad credentials" in caplog.text  # PyGithub's request log was captured
    assert all(TOKEN not in text for text in texts)
    assert "***" in pull.comments[0].body
    assert github.repo(REPO).check_runs[0].output["text"] == "***"


# --- the other two calls -------------------------------------------------------------------


def test_comment_on_pull_posts_a_plain_new_comment(
    github: FakeGitHub, pull: Pull, retry: RetryPolicy
) -> None:
    github.add_comment(REPO, PR, body("sticky"))
    why = "Refusing to apply: the plan changed since review."
    first = comment_on_pull(REPO, PR, why, token=TOKEN, base_url=github.url, retry=retry)
    second = comment_on_pull(REPO, PR, why, token=TOKEN, base_url=github.url, retry=retry)
    assert first != second
    assert [c.body for c in pull.comments] == [body("sticky"), why, why]
    with pytest.raises(ValueError, match="at most"):
        comment_on_pull(REPO, PR, "x" * (COMMENT_LIMIT + 1), token=TOKEN, base_url=github.url)
    with pytest.raises(ConfigError, match="--pr 8: no such pull request"):
        comment_on_pull(REPO, 8, why, token=TOKEN, base_url=github.url, retry=retry)


def test_pulls_for_commit_lists_the_merged_pull_requests(
    github: FakeGitHub, retry: RetryPolicy
) -> None:
    merged = github.add_pull(REPO, 3, merged=True)
    github.add_pull(REPO, 4)
    github.add_commit(REPO, merged.head_sha, pulls=(4,))
    numbers = pulls_for_commit(REPO, merged.head_sha, token=TOKEN, base_url=github.url, retry=retry)
    assert numbers == [3]
    assert github.seen("GET", f"/repos/{REPO}/commits/{merged.head_sha}/pulls")


def test_pulls_for_an_unknown_commit_is_a_config_error(
    github: FakeGitHub, retry: RetryPolicy
) -> None:
    sha = "f" * 40
    with pytest.raises(ConfigError, match=f"{sha}: no such commit in {REPO}"):
        pulls_for_commit(REPO, sha, token=TOKEN, base_url=github.url, retry=retry)
