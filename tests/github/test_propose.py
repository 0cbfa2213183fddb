"""freetier.github.propose and `freetier images propose`, with the real PyGithub against the
fake GitHub on 127.0.0.1."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from freetier.cli import main
from freetier.errors import ConfigError, RemoteError
from freetier.github.client import RetryPolicy
from freetier.github.propose import TITLE, OcidChange, Proposed, ocid_changes, propose
from tests.fakes.github_server import FakeGitHub

TOKEN = "ghs_proposeCANARY0123456789abcdef"
REPO = "octo/infra"
PATH = "tofu/oci/images.auto.tfvars.json"
BRANCH = "freetier/images"
OLD_ARM = "ocid1.image.oc1.eu-frankfurt-1.aaaaold"
NEW_ARM = "ocid1.image.oc1.eu-frankfurt-1.aaaanew"
NEWER_ARM = "ocid1.image.oc1.eu-frankfurt-1.aaaalatest"
AMD = "ocid1.image.oc1.eu-frankfurt-1.aaaaamd"


def tfvars(**ocids: str) -> bytes:
    """The file as `images publish` writes it."""
    return (json.dumps({"image_ocids": ocids}, indent=2, sort_keys=True) + "\n").encode()


OLD = tfvars(amd64=AMD, arm64=OLD_ARM)
NEW = tfvars(amd64=AMD, arm64=NEW_ARM)
NEWER = tfvars(amd64=AMD, arm64=NEWER_ARM)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub(TOKEN)
    fake.add_repo(REPO)
    fake.push(REPO, "main", {"README.md": "# infra\n", "stack.yaml": "name: x\n", PATH: OLD})
    with fake.serve():
        yield fake


@pytest.fixture
def retry() -> RetryPolicy:
    """Real retry rules, without waiting or pacing."""
    return RetryPolicy(
        max_attempts=3,
        base_sleep_seconds=0.01,
        seconds_between_requests=0,
        seconds_between_writes=0,
        sleep=lambda _: None,
    )


def run(github: FakeGitHub, retry: RetryPolicy, content: bytes, **options: Any) -> Proposed:
    return propose(
        REPO, content, path=PATH, token=TOKEN, base_url=github.url, retry=retry, **options
    )


def head(github: FakeGitHub, branch: str) -> str | None:
    return github.repo(REPO).refs.get(f"refs/heads/{branch}")


def writes(github: FakeGitHub) -> list[str]:
    return [f"{r.method} {r.path}" for r in github.requests if r.method != "GET"]


def assert_only_the_file_changed(github: FakeGitHub, content: bytes) -> None:
    """The branch is one commit on top of main's head whose only change is the file."""
    repo = github.repo(REPO)
    tip = repo.git_commits[head(github, BRANCH) or ""]
    assert tip.parents == (head(github, "main"),)
    assert github.files_at(REPO, BRANCH) == {**github.files_at(REPO, "main"), PATH: content}


# --- the library ---------------------------------------------------------------------------


def test_an_unchanged_file_creates_nothing(github: FakeGitHub, retry: RetryPolicy) -> None:
    result = run(github, retry, OLD)
    assert result == Proposed("unchanged", BRANCH)
    assert head(github, BRANCH) is None
    assert github.repo(REPO).pulls == {}
    assert writes(github) == []


def test_the_first_run_opens_a_pull_request_changing_only_the_file(
    github: FakeGitHub, retry: RetryPolicy
) -> None:
    result = run(github, retry, NEW)

    assert (result.action, result.pr, result.branch, result.new_commit) == (
        "opened",
        1,
        BRANCH,
        True,
    )
    assert result.commit == head(github, BRANCH)
    assert result.url == f"{github.root}/{REPO}/pull/1"
    assert result.changes == (OcidChange("arm64", OLD_ARM, NEW_ARM),)
    assert_only_the_file_changed(github, NEW)
    pull = github.repo(REPO).pulls[1]
    assert (pull.title, pull.head_ref, pull.base_ref, pull.open) == (TITLE, BRANCH, "main", True)
    assert f"- `arm64`: `{OLD_ARM}` -> `{NEW_ARM}`" in pull.body
    assert "amd64" not in pull.body  # unchanged architectures are not listed
    # Built with the git data API and the branch created once, pointing at the new commit.
    assert writes(github) == [
        f"POST /repos/{REPO}/git/blobs",
        f"POST /repos/{REPO}/git/trees",
        f"POST /repos/{REPO}/git/commits",
        f"POST /repos/{REPO}/git/refs",
        f"POST /repos/{REPO}/pulls",
    ]


def test_a_rerun_with_the_same_file_makes_no_commit_and_reuses_the_pull_request(
    github: FakeGitHub, retry: RetryPolicy
) -> None:
    first = run(github, retry, NEW)
    commits = len(github.repo(REPO).git_commits)
    tip = head(github, BRANCH)
    github.requests.clear()

    again = run(github, retry, NEW)

    assert (again.action, again.pr, again.url) == ("updated", first.pr, first.url)
    assert (again.commit, again.new_commit) == (None, False)
    assert head(github, BRANCH) == tip
    assert len(github.repo(REPO).git_commits) == commits
    assert len(github.repo(REPO).pulls) == 1
    assert writes(github) == []  # not even the body: it is already right


def test_new_content_replaces_the_branch_commit_and_updates_the_body(
    github: FakeGitHub, retry: RetryPolicy
) -> None:
    first = run(github, retry, NEW)
    second = run(github, retry, NEWER)

    assert (second.action, second.pr, second.new_commit) == ("updated", first.pr, True)
    assert second.commit == head(github, BRANCH) != first.commit
    assert_only_the_file_changed(github, NEWER)  # on main, not stacked on the first proposal
    pull = github.repo(REPO).pulls[first.pr or 0]
    assert pull.open  # moved in one step: the pull request never had zero commits
    assert pull.head_sha == second.commit
    assert f"`{OLD_ARM}` -> `{NEWER_ARM}`" in pull.body
    assert NEW_ARM not in pull.body
    patched = github.seen("PATCH")
    assert [r.path for r in patched] == [
        f"/repos/{REPO}/git/refs/heads/{BRANCH}",
        f"/repos/{REPO}/pulls/{first.pr}",
    ]
    assert patched[0].body == {"sha": second.commit, "force": True}


def test_a_proposal_follows_the_base_when_it_moved_on(
    github: FakeGitHub, retry: RetryPolicy
) -> None:
    run(github, retry, NEW)
    github.push(REPO, "main", {"README.md": "# infra, revised\n"})
    result = run(github, retry, NEWER)
    assert result.new_commit
    assert_only_the_file_changed(github, NEWER)
    assert github.files_at(REPO, BRANCH)["README.md"] == b"# infra, revised\n"


def test_a_merged_proposal_leaves_nothing_to_do(github: FakeGitHub, retry: RetryPolicy) -> None:
    first = run(github, retry, NEW)
    github.push(REPO, "main", {PATH: NEW})  # merged (squashed)
    assert run(github, retry, NEW).action == "unchanged"
    assert len(github.repo(REPO).pulls) == 1
    assert first.pr == 1


def test_a_dry_run_writes_nothing(github: FakeGitHub, retry: RetryPolicy) -> None:
    fresh = run(github, retry, NEW, dry_run=True)
    assert (fresh.action, fresh.pr, fresh.commit, fresh.new_commit, fresh.dry_run) == (
        "opened",
        None,
        None,
        True,
        True,
    )
    assert fresh.changes == (OcidChange("arm64", OLD_ARM, NEW_ARM),)
    assert writes(github) == []
    assert head(github, BRANCH) is None

    opened = run(github, retry, NEW)
    tip, body = head(github, BRANCH), github.repo(REPO).pulls[1].body
    github.requests.clear()
    held = run(github, retry, NEW, dry_run=True)
    later = run(github, retry, NEWER, dry_run=True)
    assert (held.action, held.pr, held.new_commit) == ("updated", opened.pr, False)
    assert (later.action, later.pr, later.new_commit) == ("updated", opened.pr, True)
    assert writes(github) == []
    assert (head(github, BRANCH), github.repo(REPO).pulls[1].body) == (tip, body)


def test_a_closed_pull_request_is_not_reused(github: FakeGitHub, retry: RetryPolicy) -> None:
    run(github, retry, NEW)
    github.repo(REPO).pulls[1].closed_at = github.now()  # a reviewer closed it
    result = run(github, retry, NEWER)
    assert (result.action, result.pr) == ("opened", 2)
    assert github.repo(REPO).pulls[2].open


def test_another_branchs_pull_request_is_left_alone(github: FakeGitHub, retry: RetryPolicy) -> None:
    github.push(REPO, "feature", {"README.md": "# other\n"})
    other = github.add_pull(REPO, head_ref="feature", body="someone else's")
    result = run(github, retry, NEW)
    assert (result.action, result.pr) == ("opened", other.number + 1)
    assert other.body == "someone else's"
    listed = github.seen("GET", f"/repos/{REPO}/pulls")[0]
    assert listed.query["head"] == [f"octo:{BRANCH}"]  # without "octo:" GitHub ignores it


def test_a_pull_request_opened_meanwhile_is_reused(github: FakeGitHub, retry: RetryPolicy) -> None:
    # The create reaches GitHub but its answer is lost; the retry finds the pull request open.
    github.inject(f"/repos/{REPO}/pulls", 502, "Bad Gateway", method="POST", applied=True)
    result = run(github, retry, NEW)
    assert (result.action, result.pr) == ("updated", 1)
    assert [r.status for r in github.seen("POST", f"/repos/{REPO}/pulls")] == [502, 422]
    assert len(github.repo(REPO).pulls) == 1


def test_a_file_new_to_the_base(github: FakeGitHub, retry: RetryPolicy) -> None:
    github.push(REPO, "main", {PATH: None})
    result = run(github, retry, NEW)
    assert result.changes == (OcidChange("amd64", None, AMD), OcidChange("arm64", None, NEW_ARM))
    assert_only_the_file_changed(github, NEW)
    assert f"- `arm64`: (none) -> `{NEW_ARM}`" in github.repo(REPO).pulls[1].body


def test_other_branch_names(github: FakeGitHub, retry: RetryPolicy) -> None:
    github.push(REPO, "develop", {"x": "1"})
    result = run(github, retry, NEW, base="develop", branch="bot/ocids")
    assert result.branch == "bot/ocids"
    pull = github.repo(REPO).pulls[result.pr or 0]
    assert (pull.base_ref, pull.head_ref) == ("develop", "bot/ocids")
    assert github.files_at(REPO, "bot/ocids")["x"] == b"1"


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"base": "trunk"}, "--base trunk: no such branch in octo/infra"),
        ({"branch": "main"}, "--branch main: must differ from --base"),
        ({"branch": "a..b"}, "--branch 'a..b': not a valid branch name"),
        ({"branch": "images.lock"}, "--branch 'images.lock': not a valid branch name"),
        ({"base": "-x"}, "--base '-x': not a valid branch name"),
    ],
)
def test_bad_branches_are_config_errors(
    github: FakeGitHub, retry: RetryPolicy, options: dict[str, str], problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        run(github, retry, NEW, **options)
    assert caught.value.problems == (problem,)
    assert writes(github) == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"image_ocids": ["x"]}', "image_ocids must be an object of arch to OCID"),
        (b'{"image_ocids": {"arm64": 1}}', "image_ocids must be an object of arch to OCID"),
    ],
)
def test_a_broken_file_is_refused_before_any_request(
    github: FakeGitHub, retry: RetryPolicy, content: bytes, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        run(github, retry, content)
    assert github.requests == []


def test_an_unknown_repository_is_a_config_error(github: FakeGitHub, retry: RetryPolicy) -> None:
    with pytest.raises(ConfigError, match="octo/none: no such repository"):
        propose("octo/none", NEW, path=PATH, token=TOKEN, base_url=github.url, retry=retry)


def test_a_refusal_is_one_line_without_the_token(github: FakeGitHub, retry: RetryPolicy) -> None:
    github.inject(
        f"/repos/{REPO}/git/refs", 403, f"token {TOKEN} may not push", method="POST", times=None
    )
    with pytest.raises(RemoteError) as caught:
        run(github, retry, NEW)
    message = str(caught.value)
    assert message == (f"GitHub: committing {PATH} to branch {BRANCH}: 403 token *** may not push")
    assert github.repo(REPO).pulls == {}


def test_ocid_changes_tolerate_an_unreadable_base() -> None:
    assert ocid_changes(b"garbage", tfvars(arm64=NEW_ARM)) == (OcidChange("arm64", None, NEW_ARM),)
    assert ocid_changes(OLD, tfvars(arm64=OLD_ARM)) == (OcidChange("amd64", AMD, None),)
    assert ocid_changes(OLD, OLD.replace(b"  ", b"    ")) == ()


# --- the CLI -------------------------------------------------------------------------------


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout's root, the current folder, with the file `images publish` wrote."""
    for name in [k for k in os.environ if k.startswith("GITHUB_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stack.yaml").write_text("name: x\n")
    (tmp_path / "tofu" / "oci").mkdir(parents=True)
    (tmp_path / PATH).write_bytes(NEW)
    return tmp_path


@pytest.fixture
def signed_in(github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    """The token and the API URL as Actions sets them, pointing at the fake."""
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", github.url)


def propose_cli(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["images", "propose", "--repo", REPO, *extra])
    out, err = capsys.readouterr()
    assert TOKEN not in out + err
    return code, out, err


def test_cli_opens_then_reuses_the_pull_request(
    checkout: Path, github: FakeGitHub, signed_in: None, capsys: pytest.CaptureFixture[str]
) -> None:

    code, out, _ = propose_cli(capsys, "--json")
    assert code == 0
    result = json.loads(out)
    assert {k: result[k] for k in ("action", "pr", "branch", "base", "path")} == {
        "action": "opened",
        "pr": 1,
        "branch": BRANCH,
        "base": "main",
        "path": PATH,
    }
    assert result["url"] == f"{github.root}/{REPO}/pull/1"
    assert result["commit"] == head(github, BRANCH)
    assert result["changes"] == [{"arch": "arm64", "old": OLD_ARM, "new": NEW_ARM}]

    code, out, _ = propose_cli(capsys)
    assert code == 0
    assert out.splitlines() == [
        f"arm64: {OLD_ARM} -> {NEW_ARM}",
        f"{BRANCH}: already holds {PATH}; no new commit",
        f"updated pull request #1: {github.root}/{REPO}/pull/1",
    ]


def test_cli_unchanged_and_dry_run(
    checkout: Path, github: FakeGitHub, signed_in: None, capsys: pytest.CaptureFixture[str]
) -> None:

    code, out, _ = propose_cli(capsys, "--dry-run")
    assert (code, out.splitlines()[-1]) == (
        0,
        f"dry run: would commit it to {BRANCH} and open a pull request; nothing written",
    )
    assert writes(github) == []

    (checkout / PATH).write_bytes(OLD)
    code, out, _ = propose_cli(capsys, "--json")
    assert code == 0
    assert json.loads(out) == {
        "action": "unchanged",
        "branch": BRANCH,
        "pr": None,
        "url": None,
        "commit": None,
        "new_commit": False,
        "changes": [],
        "dry_run": False,
        "base": "main",
        "path": PATH,
    }
    assert writes(github) == []


def test_cli_without_a_token_exits_2(
    checkout: Path,
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    monkeypatch.setenv("GITHUB_TOKEN", "  ")
    code, out, err = propose_cli(capsys)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "freetier: error: GITHUB_TOKEN: not set; proposing needs a token that may push a "
        "branch and open pull requests (permissions: contents: write, pull-requests: write)"
    ]
    assert github.requests == []


def test_cli_without_the_file_exits_2(
    checkout: Path, github: FakeGitHub, signed_in: None, capsys: pytest.CaptureFixture[str]
) -> None:
    (checkout / PATH).unlink()
    code, _, err = propose_cli(capsys)
    assert code == 2
    assert err.splitlines() == [
        f"freetier: error: {PATH}: not found; run `freetier images publish` first"
    ]
    assert github.requests == []


def test_cli_reports_every_bad_input_at_once(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (checkout / "elsewhere").mkdir()
    code = main(["images", "propose", "--repo", "infra", "--stack", "elsewhere/stack.yaml"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.splitlines() == [
        "freetier: error: --repo 'infra': not a repository name of the form owner/name",
        f"freetier: error: elsewhere/{PATH}: not found; run `freetier images publish` first",
        "freetier: error: GITHUB_TOKEN: not set; proposing needs a token that may push a "
        "branch and open pull requests (permissions: contents: write, pull-requests: write)",
    ]


def test_cli_exits_1_when_github_refuses(
    checkout: Path, github: FakeGitHub, signed_in: None, capsys: pytest.CaptureFixture[str]
) -> None:
    github.inject(f"/repos/{REPO}/git/blobs", 403, f"Resource not accessible ({TOKEN})")
    code, out, err = propose_cli(capsys)
    assert (code, out) == (1, "")
    assert err == (
        f"freetier: error: GitHub: committing {PATH} to branch {BRANCH}: "
        "403 Resource not accessible (***)\n"
    )


def test_cli_merges_the_ocids_of_separate_publish_runs(
    checkout: Path, github: FakeGitHub, signed_in: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The workflow publishes each architecture in its own job; each job's file is the
    repository's plus the OCID it set, and one pull request carries them all."""
    (checkout / PATH).write_bytes(OLD)
    runs = checkout / "ocids"
    for name, content in (
        ("arm", tfvars(amd64=AMD, arm64=NEW_ARM)),
        ("amd", tfvars(amd64="ocid1.image.oc1..amdnew", arm64=OLD_ARM)),
    ):
        (runs / name).mkdir(parents=True)
        (runs / name / "images.auto.tfvars.json").write_bytes(content)
    code, _, err = propose_cli(capsys, "--ocids", str(runs))
    assert code == 0, err
    merged = tfvars(amd64="ocid1.image.oc1..amdnew", arm64=NEW_ARM)
    assert_only_the_file_changed(github, merged)
    assert (checkout / PATH).read_bytes() == OLD  # the working tree is not touched

    (runs / "arm2").mkdir()
    (runs / "arm2" / "images.auto.tfvars.json").write_bytes(tfvars(amd64=AMD, arm64=NEWER_ARM))
    code, _, err = propose_cli(capsys, "--ocids", str(runs))
    assert code == 2
    assert err.splitlines() == [
        f"freetier: error: {runs}/arm2/images.auto.tfvars.json: image_ocids.arm64: "
        f"{runs}/arm/images.auto.tfvars.json set another OCID"
    ]
    code, _, err = propose_cli(capsys, "--ocids", str(checkout / "tofu"))
    assert code == 0  # runs that changed nothing: main already has the file, nothing to do
