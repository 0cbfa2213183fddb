"""Text, JSON and SARIF renderings of a result with findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from freetier.flux.validate.model import RULES, Finding, ValidationResult
from freetier.flux.validate.render import render_json, render_sarif, render_text
from freetier.flux.validate.run import validate_repo
from tests.flux.validate.conftest import edit


@pytest.fixture
def faulty(repo: Path) -> ValidationResult:
    edit(repo, "clusters/production/apps.yaml", "path: ./apps/production", "path: ./apps/prod")
    edit(repo, "apps/base/echo/deployment.yaml", "          ports:\n", "          port:\n")
    result = validate_repo(repo)
    assert len(result.findings) == 2
    return result


def test_text_is_one_line_per_finding(faulty: ValidationResult) -> None:
    lines = render_text(faulty).splitlines()
    assert lines[0].startswith(
        "apps/base/echo/deployment.yaml:18: error: Deployment/echo/echo: k8s/schema: "
        "spec.template.spec.containers[0]: Additional properties are not allowed"
    )
    assert lines[1] == (
        "clusters/production/apps.yaml:13: error: Kustomization/flux-system/apps: "
        "flux/path-missing: spec.path ./apps/prod: no such folder in the repository"
    )
    assert lines[2].startswith("flux validate: failed (2 error(s)): 2 cluster(s)")


def test_json_carries_findings_counts_and_exit_code(faulty: ValidationResult) -> None:
    body = json.loads(render_json(faulty))
    assert body["exit_code"] == 1
    assert body["kubernetes_version"] == faulty.kubernetes_version
    assert body["counts"]["clusters"] == 2
    assert {f["rule"] for f in body["findings"]} == {"k8s/schema", "flux/path-missing"}
    assert set(body["findings"][0]) == {
        "rule",
        "message",
        "file",
        "line",
        "kind",
        "namespace",
        "name",
        "severity",
    }
    assert body["severities"] == {"error": 2, "warning": 0, "info": 0}


def test_sarif_has_the_structure_code_scanning_reads(faulty: ValidationResult) -> None:
    sarif = json.loads(render_sarif(faulty))
    assert sarif["version"] == "2.1.0"
    assert sarif["$schema"].endswith("sarif-2.1.0.json")
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in RULES]
    assert all(r["shortDescription"]["text"] for r in rules)
    assert len(run["results"]) == 2
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == "error"
        assert result["message"]["text"]
        location = result["locations"][0]["physicalLocation"]
        uri = location["artifactLocation"]["uri"]
        assert not uri.startswith("/") and "://" not in uri
        assert (faulty.root / uri).is_file()
        assert location["region"]["startLine"] >= 1
    by_rule = {r["ruleId"]: r for r in run["results"]}
    path = by_rule["flux/path-missing"]["locations"][0]
    assert path["physicalLocation"]["artifactLocation"]["uri"] == "clusters/production/apps.yaml"
    assert path["physicalLocation"]["region"]["startLine"] == 13
    assert path["logicalLocations"][0]["fullyQualifiedName"] == "Kustomization/flux-system/apps"


def test_sarif_adds_rules_of_extra_checks(tmp_path: Path) -> None:
    result = ValidationResult(
        root=tmp_path,
        kubernetes_version="1.36",
        findings=(
            Finding(
                "freetier/cilium-version",
                "differs",
                "a b.yaml",
                3,
                "HelmRelease",
                "kube-system",
                "cilium",
            ),
        ),
    )
    run = json.loads(render_sarif(result))["runs"][0]
    assert run["tool"]["driver"]["rules"][-1]["id"] == "freetier/cilium-version"
    assert run["results"][0]["ruleIndex"] == len(RULES)
    assert (
        run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "a%20b.yaml"
    )
