"""`freetier flux render [--check] [--force]` in-process through its parser."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from freetier.flux.render import LOCK_FILE
from tests.secrets.harness import new_repo, run_cli

from .conftest import rendered_repo

RELEASE = "infrastructure/controllers/cert-manager/release.yaml"
SECRETS = (
    "infrastructure/controllers/tailscale-operator/operator-oauth.sops.yaml",
    "infrastructure/controllers/oci-ccm/cloud-provider.sops.yaml",
    "apps/freetier/grafana-cloud.sops.yaml",
)


def stack_arg(root: Path) -> list[str]:
    return ["--stack", str(root / "stack.yaml")]


def test_render_seals_placeholder_secrets_and_is_then_up_to_date(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in SECRETS:
        text = (repo / path).read_text()
        assert "sops:" in text and "freetier.dev/placeholder-keys" in text
    assert (repo / LOCK_FILE).is_file()
    capsys.readouterr()
    assert run_cli(["flux", "render", "--check", *stack_arg(repo)]) == 0
    assert "up to date" in capsys.readouterr().out
    assert run_cli(["flux", "render", *stack_arg(repo)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_check_detects_a_drifted_file_with_a_diff(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = repo / "stack.yaml"
    stack.write_text(stack.read_text().replace("branch: main", "branch: release"))
    before = (repo / "clusters/freetier/flux-system/gotk-sync.yaml").read_text()
    capsys.readouterr()
    assert run_cli(["flux", "render", "--check", *stack_arg(repo)]) == 1
    out = capsys.readouterr()
    assert "--- a/clusters/freetier/flux-system/gotk-sync.yaml" in out.out
    assert "-    branch: main" in out.out and "+    branch: release" in out.out
    assert "gotk-sync.yaml: out of date" in out.err
    assert (repo / "clusters/freetier/flux-system/gotk-sync.yaml").read_text() == before


def test_check_reports_hand_edits_and_consistency(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cilium = repo / "infrastructure/controllers/cilium/release.yaml"
    cilium.write_text(cilium.read_text().replace("k8sServicePort: 7445", "k8sServicePort: 6443"))
    capsys.readouterr()
    assert run_cli(["flux", "render", "--check", *stack_arg(repo)]) == 1
    err = capsys.readouterr().err
    assert "cilium/release.yaml: conflict: edited by hand" in err
    assert "consistency/kubeprism" in err


def test_user_edit_survives_a_render_and_force_overwrites(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = (repo / RELEASE).read_text() + "# my note\n"
    (repo / RELEASE).write_text(edited)
    capsys.readouterr()
    assert run_cli(["flux", "render", *stack_arg(repo)]) == 1
    out = capsys.readouterr()
    assert f"conflict: {RELEASE}" in out.err and "+# my note" not in out.out
    assert "-# my note" in out.out
    assert (repo / RELEASE).read_text() == edited
    assert run_cli(["flux", "render", "--force", *stack_arg(repo)]) == 0
    assert "# my note" not in (repo / RELEASE).read_text()


def test_values_overlay_untouched_by_render_and_force(repo: Path) -> None:
    values = repo / "apps/freetier/values/grafana-alloy.yaml"
    values.write_text("alloy:\n  enableReporting: true\n")
    for extra in ([], ["--force"]):
        assert run_cli(["flux", "render", *extra, *stack_arg(repo)]) == 0
        assert values.read_text() == "alloy:\n  enableReporting: true\n"


def test_secrets_are_never_rewritten_by_render(repo: Path) -> None:
    before = {p: (repo / p).read_bytes() for p in SECRETS}
    assert run_cli(["flux", "render", "--force", *stack_arg(repo)]) == 0
    assert {p: (repo / p).read_bytes() for p in SECRETS} == before


def test_render_without_sops_config_is_bad_input_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = new_repo(tmp_path / "r")
    capsys.readouterr()
    assert run_cli(["flux", "render", *stack_arg(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ".sops.yaml" in err[0] and "secrets init" in err[0]
    assert sorted(p.name for p in root.iterdir()) == ["stack.yaml"]


def test_render_without_sops_binary_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = rendered_repo(tmp_path / "r")
    (root / SECRETS[0]).unlink()
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    capsys.readouterr()
    assert run_cli(["flux", "render", *stack_arg(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sops" in err[0]
    assert not (root / SECRETS[0]).exists()


def test_bad_stack_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = new_repo(tmp_path / "r", "name: [broken\n")
    assert run_cli(["flux", "render", *stack_arg(root)]) == 2
    assert "invalid YAML" in capsys.readouterr().err
