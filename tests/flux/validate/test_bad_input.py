"""Input the validator cannot check: exit 2 with one line naming the file, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from freetier.errors import ConfigError, ToolError
from freetier.flux.validate.run import validate_repo
from tests.flux.validate.conftest import edit


def one_problem(path: Path, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_repo(path, **kwargs)  # type: ignore[arg-type]
    assert caught.value.exit_code == 2
    assert len(caught.value.problems) == 1, caught.value.problems
    return caught.value.problems[0]


def test_yaml_that_does_not_parse_is_a_finding_at_its_line(repo: Path) -> None:
    """kustomize reads the file, so the cluster would fail: one error at file:line, the
    build failure it causes not repeated, and the rest of the repository still checked."""
    edit(repo, "apps/base/echo/service.yaml", "  selector:\n", "  selector: [\n")
    result = validate_repo(repo)
    assert [(f.rule, f.file, f.line) for f in result.findings] == [
        ("yaml/invalid", "apps/base/echo/service.yaml", 8)  # where the parser gave up
    ]
    assert result.exit_code == 1
    assert result.counts.broken == 1


def test_broken_files_kustomize_never_reads_do_not_matter(repo: Path) -> None:
    (repo / "docs").mkdir()
    (repo / "docs/mkdocs.yml").write_text("nav: [\n")
    (repo / "apps/base/echo/notes.yaml").write_text("{{ jinja }}: [\n")  # not in resources
    result = validate_repo(repo)
    assert result.findings == ()
    assert result.counts.broken == 2


def test_not_a_flux_repository(tmp_path: Path) -> None:
    (tmp_path / "deploy.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
    assert "not a Flux repository" in one_problem(tmp_path)


def test_no_such_folder(tmp_path: Path) -> None:
    assert one_problem(tmp_path / "nope").endswith("nope: no such directory")


def test_a_file_instead_of_a_folder(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("a: 1\n")
    assert "not a directory" in one_problem(tmp_path / "x.yaml")


def test_not_utf8_where_kustomize_reads_it(repo: Path) -> None:
    (repo / "apps/base/echo/bad.yaml").write_bytes(b"name: fr\xe9\n")
    edit(
        repo,
        "apps/base/echo/kustomization.yaml",
        "  - service.yaml\n",
        "  - service.yaml\n  - bad.yaml\n",
    )
    result = validate_repo(repo)
    assert [(f.rule, f.file) for f in result.findings] == [
        ("yaml/invalid", "apps/base/echo/bad.yaml")
    ]
    assert "not UTF-8 text" in result.findings[0].message


def test_invalid_sops_config_regex(repo: Path) -> None:
    edit(repo, ".sops.yaml", ".*\\.sops\\.yaml$", "(unclosed")
    assert one_problem(repo).startswith(".sops.yaml:2: creation_rules[0].path_regex: invalid regex")


def test_missing_kubectl(repo: Path) -> None:
    with pytest.raises(ToolError) as caught:
        validate_repo(repo, kubectl="kubectl-not-installed")
    assert caught.value.exit_code == 2
    assert str(caught.value) == "kubectl-not-installed: not found on PATH"


def test_helm_chart_templates_are_not_read(repo: Path) -> None:
    chart = repo / "charts/demo"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (chart / "templates/cm.yaml").write_text("{{- if .Values.x }}\nkind: ConfigMap\n{{- end }}\n")
    assert validate_repo(repo).findings == ()


def test_sourceignore_excludes_files(repo: Path) -> None:
    (repo / "scratch").mkdir()
    (repo / "scratch/broken.yaml").write_text("a: [\n")
    (repo / ".sourceignore").write_text("# not for the cluster\nscratch/\n")
    assert validate_repo(repo).findings == ()


def test_odd_shapes_are_findings_not_tracebacks(repo: Path) -> None:
    (repo / "clusters/production/odd.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: odd\n  namespace: flux-system\n"
        "data:\n  on: yes-string\n"
        "---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n"
        "  name: odd\n  namespace: flux-system\nspec: []\n"
        "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n"
        "  name: odd\n  namespace: flux-system\nspec:\n  sourceRef: flux-system\n"
        "  dependsOn: [apps]\n"
    )
    result = validate_repo(repo)
    assert {(f.rule, f.name) for f in result.findings} == {("flux/schema", "odd")}, result.findings
    assert len(result.findings) == 5  # HelmRelease spec; Kustomization: 4 fields
