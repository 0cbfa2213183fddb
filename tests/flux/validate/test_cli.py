"""`freetier flux validate` driven in-process through `freetier.cli.main`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from freetier.cli import main
from tests.flux.validate.conftest import edit


def test_clean_repository_exits_0(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flux", "validate", str(repo)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flux validate: ok: 2 cluster(s), 8 Kustomization(s)")


def test_default_path_is_the_current_folder(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    assert main(["flux", "validate", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["root"] == str(repo.resolve())


def test_findings_exit_1_in_every_format(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, "clusters/production/apps.yaml", "- name: infra-configs", "- name: nope")
    assert main(["flux", "validate", str(repo)]) == 1
    assert capsys.readouterr().out.startswith(
        "clusters/production/apps.yaml:9: error: Kustomization/flux-system/apps: "
        "flux/dependsOn-unknown:"
    )
    assert main(["flux", "validate", str(repo), "--format", "sarif"]) == 1
    assert json.loads(capsys.readouterr().out)["runs"][0]["results"][0]["ruleId"] == (
        "flux/dependsOn-unknown"
    )


def test_bad_input_exits_2_with_one_line(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flux", "validate", str(repo), "--path", "clusters/nope"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("freetier: error: --path clusters/nope: no such folder")
    assert "Traceback" not in captured.err


def test_broken_yaml_is_a_finding_in_sarif(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file kustomize takes in that does not parse: the run goes on, SARIF carries it."""
    edit(repo, "apps/base/echo/service.yaml", "  selector:\n", "  selector: [\n")
    assert main(["flux", "validate", str(repo), "--format", "sarif"]) == 1
    results = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    located = {
        (r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for r in results
    }
    assert ("yaml/invalid", "error", "apps/base/echo/service.yaml") in located
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 8


def test_kubernetes_version_flag(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flux", "validate", str(repo), "--kubernetes-version", "v1.31.4"]) == 0
    assert "Kubernetes 1.31" in capsys.readouterr().out
