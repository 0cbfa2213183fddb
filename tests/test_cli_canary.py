"""A canary TF_VAR with every character some encoder escapes goes through the whole review loop:
the real terraform plans it (raw, base64'd at two offsets, jsonencode'd), a local-exec
provisioner prints it and fails the apply, a precondition quotes it in a failed plan; freetier
runs through its CLI (plan, comment, deploy, apply), and the fake GitHub receives the comment
and check runs. Every output
is searched for the canary in any encoding: each of its pieces of plain text (which survive
every escaping, so a half-masked canary shows too), and base64 decoded at every offset.

The variable is not declared sensitive: only its registration as a TF_VAR_ protects it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from freetier.cli import main
from tests.fakes.github_server import FakeGitHub
from tests.test_cli_plans import REPO, github, repo

__all__ = ["github", "repo"]  # fixtures, shared with the review loop's tests

PIECES = tuple(f"c@n{i}" for i in "123456789ABCDEF")
# Between the pieces: a quote, a backslash, a tab, a newline, a control character, HTML
# characters Go's JSON escapes, a non-ASCII letter and a line separator. Terraform prints a
# string with a newline as a heredoc, so a second canary has all but the newline, to be
# printed quoted.
CANARY = 'c@n1"c@n2\\c@n3\tc@n4\nc@n5\x01c@n6<&>c@n7\u00e9\u2028c@n8'
CANARY_LINE = 'c@n9"c@nA\\c@nB\tc@nC\x01c@nD<&>c@nE\u00e9\u2028c@nF'
KEY = "canary-run-fingerprint-key-0123456789abcdef"
CANARY_TF = """
variable "canary" {
  type = string
}

variable "canary_line" {
  type = string
}

resource "terraform_data" "canary" {
  input = {
    raw    = var.canary
    line   = var.canary_line
    b64    = base64encode(var.canary)
    b64_in = base64encode("x${var.canary}yz")
    json   = jsonencode({ token = var.canary })
  }

  provisioner "local-exec" {
    environment = { TOKEN = var.canary }
    command     = <<-EOT
      printf '%s\\n' "$TOKEN"; printf '%s' "$TOKEN" | base64 -w0; echo
      exit 1 # ${jsonencode(var.canary)}
    EOT
  }
}

resource "terraform_data" "fails_plan" {
  count = fileexists("${path.module}/fail-plan") ? 1 : 0
  input = 1
  lifecycle {
    precondition {
      condition     = length(var.canary) < 0
      error_message = "bad token: ${var.canary}"
    }
  }
}
"""
BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{6,}={0,2}")


def leaks(text: str) -> int:
    """How many of the canary's pieces `text` shows, as text or inside base64 at any offset."""
    found = sum(piece in text for piece in PIECES)
    for run in BASE64_RUN.findall(text):
        for start in range(4):
            chunk = run[start:].rstrip("=").translate(str.maketrans("-_", "+/"))
            chunk = chunk[: len(chunk) // 4 * 4]
            try:
                decoded = base64.b64decode(chunk, validate=True)
            except ValueError:
                continue
            found += sum(piece.encode() in decoded for piece in PIECES)
    return found


def test_the_detector_finds_the_canary_in_every_encoding() -> None:
    """So that `leaks(...) == 0` below means something."""
    encoded = base64.b64encode(f"x{CANARY}yz".encode()).decode()
    assert [leaks(f"a {text} b") > 0 for text in (CANARY, json.dumps(CANARY), encoded)] == [
        True,
        True,
        True,
    ]
    assert leaks("c@n (sensitive) Y0BuMS (sensitive)") == 0


@pytest.fixture
def canary(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (repo / "tofu" / "oci" / "canary.tf").write_text(CANARY_TF)
    monkeypatch.setenv("TF_VAR_canary", CANARY)
    monkeypatch.setenv("TF_VAR_canary_line", CANARY_LINE)
    monkeypatch.setenv("FREETIER_FINGERPRINT_KEY", KEY)
    yield repo


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Exit code, and stdout and stderr together."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out + err


def published(github: FakeGitHub, number: int) -> list[str]:
    """What the fake GitHub holds for the pull request: comments and check runs."""
    repository = github.repo(REPO)
    checks = [f"{c.name} {json.dumps(c.output)}" for c in repository.check_runs]
    return [c.body for c in repository.pulls[number].comments] + checks


def test_no_output_shows_the_canary(
    canary: Path,
    github: FakeGitHub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = canary / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pull = github.add_pull(REPO, 5)
    plans = canary / "out" / "plans" / "oci"
    outputs: dict[str, str] = {}

    code, outputs["plan"] = run(capsys, "plan", "--layer", "oci", "--no-backend")
    assert code == 0, leaks(outputs["plan"])
    for name in ("plan.txt", "fingerprint.json", "changes.json"):
        outputs[name] = (plans / name).read_text()
    assert "(sensitive)" in outputs["plan.txt"]  # the plan shows the canary's place, masked
    modes = {p.stat().st_mode & 0o777 for p in plans.iterdir()}  # plan.bin, plan.json in clear
    assert modes == {0o600}

    _, outputs["comment render"] = run(capsys, "comment", "render", "--plan", "oci=out/plans/oci")
    post = ["comment", "post", "--repo", REPO, "--pr", "5", "--sha", pull.head_sha]
    code, outputs["comment post"] = run(capsys, *post, "--plan", "oci=out/plans/oci")
    assert code == 0
    outputs["job summary"] = summary.read_text()

    # Deploy applies the reviewed plan; the provisioner prints the canary (raw, base64) and
    # fails, quoting it. Then the state has moved: apply --plan refuses, listing what differs;
    # a direct apply fails on the provisioner again.
    github.add_commit(REPO, "c0" * 20, (5,))
    pull.merged_at = github.now()
    deploy = ["deploy", "--repo", REPO, "--sha", "c0" * 20, "--no-backend"]
    code, outputs["deploy"] = run(capsys, *deploy)
    assert code == 1 and "local-exec provisioner error" in outputs["deploy"]
    apply = ["--debug", "apply", "--layer", "oci", "--no-backend"]
    code, outputs["apply --plan"] = run(capsys, *apply, "--plan", "out/plans/oci")
    assert code == 1 and "~ terraform_data.canary: actions create -> " in outputs["apply --plan"]
    code, outputs["apply"] = run(capsys, *apply)
    assert code == 1 and "local-exec provisioner error" in outputs["apply"]

    # A plan that fails quotes the canary in its error.
    (canary / "tofu" / "oci" / "fail-plan").write_text("")
    code, outputs["failed plan"] = run(capsys, "plan", "--layer", "oci", "--no-backend")
    assert code == 1 and "bad token" in outputs["failed plan"]
    outputs["errors.json"] = (plans / "errors.json").read_text()
    _, outputs["failed comment"] = run(capsys, "comment", "render", "--plan", "oci=out/plans/oci")
    code, outputs["failed post"] = run(capsys, *post, "--plan", "oci=out/plans/oci")
    assert code == 1 and "❌ plan failed" in outputs["failed comment"]
    outputs["failed summary"] = summary.read_text()
    outputs["github"] = "\n".join(published(github, 5))

    found = {name: leaks(text) for name, text in outputs.items()}
    assert found == dict.fromkeys(outputs, 0)
    assert [name for name, text in outputs.items() if KEY in text] == []
