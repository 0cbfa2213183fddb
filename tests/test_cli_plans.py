"""The review loop through the CLI, with the real terraform on a stand-in layer and the real
PyGithub against the local fake GitHub: plan -> comment post -> apply/deploy the reviewed plan."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from github.Auth import Token
from github.MainClass import Github

from freetier.cli import main
from freetier.comment import MARKER, read_fingerprints
from tests.fakes.github_server import FakeGitHub, Pull
from tests.tofu.remote_state import stand_in_repo

TOKEN = "ghs_canary_token_0123456789abcdef"
STRANGER = "ghp_a_strangers_own_token_0123456789"  # anyone who may comment on a public repo
MAINTAINER = "ghp_a_maintainers_own_token_0123456"  # write access: may edit any comment
REPO = "octo/infra"
CANARY = "canary-s3cr3t-value-42"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fork with the stand-in layer; its instances launch in AD 2, where the stack puts them."""
    return stand_in_repo(tmp_path, monkeypatch)


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(TOKEN)
    fake.add_repo(REPO)
    with fake.serve():
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        yield fake


def _plan(out: str = "out/plans") -> int:
    return main(["plan", "--layer", "oci", "--no-backend", "--out", out])


def _post(pull: Pull, plan: str = "out/plans/oci") -> int:
    """`comment post` as the workflow runs it, with the job's token (github-actions[bot])."""
    number, sha = str(pull.number), pull.head_sha
    argv = ["comment", "post", "--repo", REPO, "--pr", number, "--sha", sha]
    return main([*argv, "--plan", f"oci={plan}"])


def _render(plan: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["comment", "render", "--plan", f"oci={plan}"]) == 0
    return capsys.readouterr().out


def _as(github: FakeGitHub, token: str) -> Github:
    """PyGithub as someone else uses it: their own token, no retries, no pacing."""
    return Github(
        auth=Token(token),
        base_url=github.url,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def _merge(github: FakeGitHub, pull: Pull, sha: str) -> list[str]:
    """Merge `pull` as commit `sha`; the argv of the deploy that follows."""
    github.add_commit(REPO, sha, (pull.number,))
    pull.merged_at = github.now()
    return ["deploy", "--repo", REPO, "--sha", sha, "--no-backend"]


def _bigger_node(repo: Path) -> None:
    """What main plans after the review: the reviewed change plus a bigger node."""
    stack = repo / "stack.yaml"
    stack.write_text(stack.read_text().replace("    ocpus: 1\n", "    ocpus: 2\n", 1))


def _applied_resources(repo: Path) -> list[object]:
    state = repo / "tofu" / "oci" / "terraform.tfstate"
    return json.loads(state.read_text())["resources"] if state.exists() else []


def test_apply_of_the_saved_plan_when_the_state_has_not_moved(repo: Path, capsys) -> None:
    assert _plan() == 0
    assert main(["apply", "--layer", "oci", "--no-backend", "--plan", "out/plans/oci"]) == 0
    assert "oci: applied (saved plan)" in capsys.readouterr().out


def test_identical_re_plan_is_applied_when_the_saved_plan_is_gone(repo: Path, capsys) -> None:
    assert _plan() == 0
    (repo / "out" / "plans" / "oci" / "plan.bin").unlink()
    assert main(["apply", "--layer", "oci", "--no-backend", "--plan", "out/plans/oci"]) == 0
    assert "oci: applied (identical re-plan)" in capsys.readouterr().out


def test_a_plan_that_changed_since_review_is_refused(repo: Path, capsys) -> None:
    assert _plan("out/first") == 0
    assert _plan("out/second") == 0
    assert main(["apply", "--layer", "oci", "--no-backend", "--plan", "out/second/oci"]) == 0
    capsys.readouterr()
    # The first review saw two creates; they exist now, so a fresh plan changes nothing.
    assert main(["apply", "--layer", "oci", "--no-backend", "--plan", "out/first/oci"]) == 1
    err = capsys.readouterr().err
    assert "oci: refused to apply:" in err
    assert 'terraform_data.instance["node-1"]' in err


def test_comment_render_reads_plan_folders(repo: Path, capsys) -> None:
    assert _plan() == 0
    capsys.readouterr()
    assert main(["comment", "render", "--plan", "oci=out/plans/oci"]) == 0
    md = capsys.readouterr().out
    assert md.startswith(MARKER)
    assert "| oci | 2 | 0 | 0 | 0 | 0 | 0 | - | ✅ ok |" in md
    assert set(read_fingerprints(md)) == {"oci"}
    assert "<details><summary>oci: plan text</summary>" in md


def test_canary_secret_never_reaches_the_comment(repo: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("TF_VAR_budget_alert_email", CANARY)  # a registered secret value
    assert _plan() == 0
    text = (repo / "out" / "plans" / "oci" / "plan.txt").read_text()
    assert CANARY not in text
    capsys.readouterr()
    assert main(["comment", "render", "--plan", "oci=out/plans/oci"]) == 0
    captured = capsys.readouterr()
    assert CANARY not in captured.out + captured.err


def test_comment_post_then_deploy_applies_exactly_the_reviewed_plan(
    repo: Path, github: FakeGitHub, capsys, monkeypatch
) -> None:
    pull = github.add_pull(REPO, 7)
    summary = repo / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert _plan() == 0
    assert (
        main(
            [
                "comment",
                "post",
                "--repo",
                REPO,
                "--pr",
                "7",
                "--sha",
                pull.head_sha,
                "--plan",
                "oci=out/plans/oci",
            ]
        )
        == 0
    )
    assert "comment" in capsys.readouterr().out
    assert (
        main(
            [
                "comment",
                "post",
                "--repo",
                REPO,
                "--pr",
                "7",
                "--sha",
                pull.head_sha,
                "--plan",
                "oci=out/plans/oci",
            ]
        )
        == 0
    )  # edits, never a second copy
    ours = [c for c in github.repo(REPO).pulls[7].comments if c.body.startswith(MARKER)]
    assert len(ours) == 1
    assert summary.read_text().startswith(MARKER)
    # Each check run carries its layer's fingerprint, the same the comment shows.
    (check,) = github.repo(REPO).check_runs[-1:]
    assert read_fingerprints(check.output["text"]) == read_fingerprints(ours[0].body)
    # Merged as commit M: deploy re-plans, finds the reviewed changes, applies.
    github.add_commit(REPO, "e" * 40, (7,))
    pull.merged_at = github.now()
    assert main(["deploy", "--repo", REPO, "--sha", "e" * 40, "--no-backend"]) == 0
    out, err = capsys.readouterr()
    assert "deployed 1 layer(s): oci (identical re-plan)" in out
    assert (
        f"reviewed plans: comment {ours_id(github, 7)} by github-actions[bot] on #7, checked "
        f"against the check runs of {pull.head_sha[:12]}"
    ) in err


def test_deploy_refuses_what_was_not_reviewed_and_says_so_on_the_pr(
    repo: Path, github: FakeGitHub, capsys
) -> None:
    pull = github.add_pull(REPO, 8)
    assert _plan() == 0
    assert (
        main(
            [
                "comment",
                "post",
                "--repo",
                REPO,
                "--pr",
                "8",
                "--sha",
                pull.head_sha,
                "--plan",
                "oci=out/plans/oci",
            ]
        )
        == 0
    )
    # After review, someone pushes a bigger node straight to the merge.
    stack = repo / "stack.yaml"
    stack.write_text(stack.read_text().replace("    ocpus: 1\n", "    ocpus: 2\n", 1))
    github.add_commit(REPO, "f" * 40, (8,))
    pull.merged_at = github.now()
    capsys.readouterr()
    assert main(["deploy", "--repo", REPO, "--sha", "f" * 40, "--no-backend"]) == 1
    assert "refused to apply" in capsys.readouterr().err
    refusal = github.repo(REPO).pulls[8].comments[-1].body
    assert refusal.startswith("### ❌ freetier deploy refused to apply `oci`")
    assert (
        not (repo / "tofu" / "oci" / "terraform.tfstate").exists()
        or json.loads((repo / "tofu" / "oci" / "terraform.tfstate").read_text())["resources"] == []
    )


def ours_id(github: FakeGitHub, number: int) -> int:
    """The id of the plan comment the workflow (github-actions[bot]) wrote on `number`."""
    comments = github.repo(REPO).pulls[number].comments
    (comment,) = [c for c in comments if c.user.endswith("[bot]") and c.body.startswith(MARKER)]
    return comment.id


def test_a_strangers_look_alike_comment_never_decides_what_deploy_applies(
    repo: Path, github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11: plan A was reviewed; main plans A plus B; a stranger posts a comment with the
    plan marker and B's fingerprint. Deploy reads only the workflow's records: it refuses."""
    pull = github.add_pull(REPO, 9)
    assert _plan("out/a") == 0
    assert _post(pull, "out/a/oci") == 0
    _bigger_node(repo)
    assert _plan("out/b") == 0
    forged_body = _render("out/b/oci", capsys)
    github.add_token(STRANGER, "mallory")
    with _as(github, STRANGER) as gh:
        forged = gh.get_repo(REPO).get_pull(9).create_issue_comment(forged_body)
    assert forged.user.login == "mallory"

    assert main(_merge(github, pull, "1" * 40)) == 1

    err = capsys.readouterr().err
    assert f"reviewed plans: comment {ours_id(github, 9)} by github-actions[bot]" in err
    assert "(1 author(s) of look-alike comments ignored)" in err
    assert "oci: refused to apply:" in err
    assert _applied_resources(repo) == []
    comments = github.repo(REPO).pulls[9].comments
    assert [(c.body, c.minimized) for c in comments if c.id == forged.id] == [(forged_body, False)]
    assert comments[-1].user == "github-actions[bot]"
    assert comments[-1].body.startswith("### ❌ freetier deploy refused to apply `oci`")


def test_the_workflows_comment_edited_by_a_maintainer_is_refused(
    repo: Path, github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    """Write access lets a person edit any comment, the workflow's too, and its author stays
    github-actions[bot]; the check run of the head commit, which only the App can write, still
    names the reviewed plan, so the two disagree and nothing is applied."""
    pull = github.add_pull(REPO, 10)
    assert _plan("out/a") == 0
    assert _post(pull, "out/a/oci") == 0
    _bigger_node(repo)
    assert _plan("out/b") == 0
    edited_body = _render("out/b/oci", capsys)
    github.add_token(MAINTAINER, "octo-admin")
    with _as(github, MAINTAINER) as gh:
        gh.get_repo(REPO).get_pull(10).get_issue_comment(ours_id(github, 10)).edit(edited_body)

    assert main(_merge(github, pull, "2" * 40)) == 1

    err = capsys.readouterr().err
    assert "the plan comment of #10 and the check run 'freetier plan: oci'" in err
    assert "name different plans" in err
    assert _applied_resources(repo) == []


def test_a_comment_for_an_older_push_is_not_tied_to_the_merged_head(
    repo: Path, github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plan was posted for one head; the branch moved on and was merged before any plan
    of the new head: its head commit has no check run, so deploy refuses."""
    pull = github.add_pull(REPO, 11)
    assert _plan() == 0
    assert _post(pull) == 0
    pull.head_sha = "3" * 40
    github.add_commit(REPO, pull.head_sha, (11,))
    capsys.readouterr()

    assert main(_merge(github, pull, "4" * 40)) == 1

    assert "has no check run 'freetier plan: oci' by github-actions[bot]" in (
        capsys.readouterr().err
    )
    assert _applied_resources(repo) == []


def test_deploy_of_a_commit_without_a_merged_pr_refuses(repo: Path, github, capsys) -> None:
    github.add_commit(REPO, "d" * 40, ())
    assert main(["deploy", "--repo", REPO, "--sha", "d" * 40, "--no-backend"]) == 1
    assert "came from no merged pull request" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["comment", "render", "--plan", "oci=absent.json"], "no such file"),
        (["comment", "render", "--plan", "oci=bad.json"], "not valid JSON"),
        (["comment", "render", "--plan", "oci=old.json"], "format_version"),
        (
            [
                "comment",
                "post",
                "--repo",
                REPO,
                "--pr",
                "1",
                "--sha",
                "a" * 40,
                "--plan",
                "oci=good.json",
            ],
            "GITHUB_TOKEN: not set",
        ),
        (["comment", "render", "--plan", "oci=good.json", "--guard", "bad.json"], "not valid JSON"),
        (["plan", "--layer", "oci", "--stack", "nope.yaml"], "no such file"),
        (["comment", "render", "--plan", "proxmox=good.json"], "no layer 'proxmox'"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, fragment, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "old.json").write_text('{"format_version": "0.2", "resource_changes": []}')
    (tmp_path / "good.json").write_text('{"format_version": "1.2", "resource_changes": []}')
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err


def test_missing_pr_is_bad_input(repo: Path, github: FakeGitHub, capsys) -> None:
    (repo / "good.json").write_text('{"format_version": "1.2", "resource_changes": []}')
    assert (
        main(
            [
                "comment",
                "post",
                "--repo",
                REPO,
                "--pr",
                "404",
                "--sha",
                "a" * 40,
                "--plan",
                "oci=good.json",
            ]
        )
        == 2
    )
    assert "--pr 404: no such pull request in octo/infra" in capsys.readouterr().err
