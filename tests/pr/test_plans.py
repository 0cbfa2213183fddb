"""`freetier pr` end to end: OCI credentials (a local fake OCI), a layer planned by the real
terraform, the guard over the plan and the tenancy, and the comment posted to a fake GitHub."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from freetier.cli import main
from freetier.comment import MARKER, read_fingerprints
from tests.conftest import ROOT, SHIPPED_STACK
from tests.fakes.github_server import FakeGitHub
from tests.fakes.oci_server import FakeTenancy, fake_tenancy

STAND_IN = ROOT / "tests" / "tofu" / "fixtures" / "stand-in-oci"
TOKEN = "ghs_pr_canary_token_abcdef0123456789"
REPO = "octo/infra"


@pytest.fixture
def fork(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, FakeTenancy]]:
    for name in [k for k in os.environ if k.startswith(("TF_", "GITHUB_", "OCI_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", "/dev/null")
    monkeypatch.chdir(tmp_path)
    shutil.copytree(STAND_IN, tmp_path / "tofu" / "oci")
    shutil.copy(ROOT / "stack.schema.json", tmp_path)
    (tmp_path / "home").mkdir()
    with fake_tenancy(tmp_path / "home", monkeypatch.setenv) as tenancy:
        text = SHIPPED_STACK.read_text().replace("uk-london-1", tenancy.credentials.region)
        text = text.replace(
            "ocid1.tenancy.oc1..aaaaaaaareplacewithyourtenancyocid", tenancy.credentials.tenancy
        )
        (tmp_path / "stack.yaml").write_text(text)
        # The fork's own Flux tree, rendered for its stack (public recipient only).
        shutil.copy(ROOT / ".sops.yaml", tmp_path)
        assert main(["flux", "render"]) == 0
        yield tmp_path, tenancy


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(TOKEN)
    fake.add_repo(REPO)
    with fake.serve():
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        yield fake


def test_pr_plans_guards_and_posts_one_comment(fork, github: FakeGitHub, capsys) -> None:
    root, _ = fork
    pull = github.add_pull(REPO, 3)
    # Anyone may comment, and copy the marker: `pr` posts its own comment beside it.
    forged = github.add_comment(REPO, 3, f"{MARKER}\nforged", user="mallory")
    argv = ["pr", "--no-backend", "--repo", REPO, "--pr", "3", "--sha", pull.head_sha]
    assert main(argv) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert re.search(r"ok\s+plan:oci\s+2 create", out)
    assert "plans of oci, with 0 existing resource(s) of the tenancy" in out
    assert "comment" in out and "created" in out
    first, *comments = github.repo(REPO).pulls[3].comments
    assert first is forged and (forged.body, forged.minimized) == (f"{MARKER}\nforged", False)
    assert len(comments) == 1 and comments[0].body.startswith(MARKER)
    assert comments[0].user == "github-actions[bot]"
    assert set(read_fingerprints(comments[0].body)) == {"oci"}
    assert "### Checks" in comments[0].body
    # Plan files with values in clear stay out of what is uploaded (out/*.md, out/*.json).
    assert (root / "out" / "plans" / "oci" / "plan.bin").is_file()
    assert sorted(p.name for p in (root / "out").glob("*.*")) == [
        "comment-full.md",
        "comment.md",
        "pr-report.json",
        "pr-report.md",
    ]
    # A second run edits the same comment, and leaves the stranger's alone.
    assert main(argv) == 0
    assert github.repo(REPO).pulls[3].comments == [forged, comments[0]]
    assert (forged.body, forged.minimized) == (f"{MARKER}\nforged", False)
    assert TOKEN not in (root / "out" / "comment-full.md").read_text()


def test_pr_without_oci_credentials_skips_the_plans(fork, monkeypatch, capsys) -> None:
    monkeypatch.delenv("OCI_CLI_CONFIG_FILE")
    assert main(["pr", "--no-backend"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"skipped\s+plan:oci\s+no OCI credentials: plans need the tenancy", out)
    assert re.search(r"skipped\s+comment", out)


def test_repo_pr_and_sha_go_together(fork, capsys) -> None:
    assert main(["pr", "--repo", REPO]) == 2
    assert "--repo, --pr and --sha go together" in capsys.readouterr().err


def test_a_fork_run_without_a_token_skips_the_comment_and_passes(fork, monkeypatch, capsys) -> None:
    """What pr.yml runs for a fork: the pull request named, no secrets, no token (a fork's
    token could not post). The verdict is the checks' alone."""
    monkeypatch.delenv("OCI_CLI_CONFIG_FILE")
    argv = ["pr", "--no-backend", "--repo", REPO, "--pr", "5", "--sha", "b" * 40]
    assert main([*argv, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["exit_code"] == 0
    (comment,) = [s for s in report["steps"] if s["name"] == "comment"]
    assert (comment["outcome"], comment["summary"]) == (
        "skipped",
        "no GITHUB_TOKEN: the comment is in out/ only",
    )
