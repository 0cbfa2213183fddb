"""What must block a pull request does: a Flux tree that drifted from stack.yaml, findings of
the Flux validator, and a resource the guard does not know unless the stack allows it. Each
test starts from a clean copy that passes, so its own edit is what makes it fail."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from freetier.cli import main
from freetier.pr import run_pr
from tests.conftest import ROOT, SHIPPED_STACK
from tests.guard.planjson import change, plan

COPIED = ("stack.yaml", "stack.schema.json", ".sops.yaml", ".freetier", "clusters",
          "infrastructure", "apps")  # fmt: skip
RELEASE = "infrastructure/controllers/cert-manager/release.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The repository's stack and Flux tree, without tofu/ (so nothing is planned)."""
    root = tmp_path / "repo"
    root.mkdir()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copy(source, root / name)
    return root


def _steps(root: Path, tmp_path: Path) -> tuple[dict[str, str], int]:
    report = run_pr(root / "stack.yaml", env={}, home=tmp_path, out=tmp_path / "out").report
    return {s.name: s.outcome for s in report.steps}, report.exit_code


def test_the_clean_copy_passes(repo: Path, tmp_path: Path) -> None:
    steps, code = _steps(repo, tmp_path)
    assert (steps["flux-tree"], steps["flux-validate"], code) == ("ok", "ok", 0)


def test_a_tree_that_drifted_from_the_stack_blocks(repo: Path, tmp_path: Path) -> None:
    release = repo / RELEASE
    release.write_text(release.read_text().replace("interval: ", "interval:  ", 1))
    steps, code = _steps(repo, tmp_path)
    assert (steps["flux-tree"], code) == ("failed", 1)


def test_validation_findings_block(repo: Path, tmp_path: Path) -> None:
    """.sops.yaml names another recipient: the secrets no longer match it (not a drift)."""
    sops = repo / ".sops.yaml"
    other = "age1" + "q" * 58
    sops.write_text(re.sub(r"age1[0-9a-z]{58}", other, sops.read_text()))
    steps, code = _steps(repo, tmp_path)
    assert (steps["flux-tree"], steps["flux-validate"], code) == ("ok", "failed", 1)


def _guard(stack: Path, plan_file: Path) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return main(["guard", "--stack", str(stack), "--plan", f"oci={plan_file}"])


def test_an_unknown_resource_blocks_unless_the_stack_allows_it(tmp_path: Path) -> None:
    shown = plan(change("oci_waf_web_app_firewall", "waf", ["create"], {"display_name": "w"}))
    (tmp_path / "plan.json").write_text(json.dumps(shown))
    stack = tmp_path / "stack.yaml"
    stack.write_text(SHIPPED_STACK.read_text())
    assert _guard(stack, tmp_path / "plan.json") == 1
    allowed = SHIPPED_STACK.read_text().replace(
        "free_tier:\n", "free_tier:\n  allow_unknown: [oci_waf_web_app_firewall]\n", 1
    )
    stack.write_text(allowed)
    assert _guard(stack, tmp_path / "plan.json") == 0


def _bare_path(tmp_path: Path) -> str:
    """A PATH with git only: no kubectl, no tofu or terraform."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git = shutil.which("git")
    assert git is not None
    (bin_dir / "git").symlink_to(git)
    return str(bin_dir)


def test_a_missing_tool_is_skipped_by_default_and_fails_where_tools_are_required(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "tofu" / "oci").mkdir(parents=True)
    (repo / "tofu" / "oci" / "versions.tf").write_text("")
    path = _bare_path(tmp_path)
    kwargs = {"env": {}, "home": tmp_path / "home", "out": tmp_path / "out", "path": path}
    relaxed = run_pr(repo / "stack.yaml", **kwargs).report  # type: ignore[arg-type]
    steps = {s.name: s for s in relaxed.steps}
    assert steps["flux-validate"].outcome == "skipped"
    assert steps["flux-validate"].missing_tool == "kubectl"
    assert relaxed.exit_code == 0
    strict = run_pr(repo / "stack.yaml", require_tools=True, **kwargs).report  # type: ignore[arg-type]
    steps = {s.name: s for s in strict.steps}
    assert steps["flux-validate"].outcome == "failed"
    assert "this run requires it" in steps["flux-validate"].summary
    assert steps["plan:oci"].outcome == "skipped"  # for lack of credentials: forks have none
    assert strict.exit_code == 1


def test_ci_true_makes_freetier_pr_require_its_tools(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", _bare_path(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("OCI_CLI_CONFIG_FILE", raising=False)
    argv = ["pr", "--stack", str(repo / "stack.yaml"), "--out", str(tmp_path / "out")]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        monkeypatch.delenv("CI", raising=False)
        assert main(argv) == 0
        monkeypatch.setenv("CI", "true")
        assert main(argv) == 1
    body = json.loads((tmp_path / "out" / "pr-report.json").read_text())
    failed = [s["name"] for s in body["steps"] if s["outcome"] == "failed"]
    assert failed == ["flux-validate"]
