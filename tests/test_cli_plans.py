"""The review loop through the CLI, with the real terraform on a stand-in layer and the real
PyGithub against the local fake GitHub: plan -> comment post -> apply/deploy the reviewed plan."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from freetier.cli import main
from freetier.comment import MARKER, read_fingerprints
from tests.fakes.github_server import FakeGitHub
from tests.tofu.remote_state import stand_in_repo

TOKEN = "ghs_canary_token_0123456789abcdef"
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
    # Merged as commit M: deploy re-plans, finds the reviewed changes, applies.
    github.add_commit(REPO, "e" * 40, (7,))
    pull.merged_at = github.now()
    assert main(["deploy", "--repo", REPO, "--sha", "e" * 40, "--no-backend"]) == 0
    assert "deployed 1 layer(s): oci (identical re-plan)" in capsys.readouterr().out


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
        (["comment", "render", "--plan", "talos=good.json"], "no layer 'talos'"),
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
