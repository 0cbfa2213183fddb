"""run_pr end to end on real files: the shipped stack, the oci SDK's config reader, the doctor."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from freetier.errors import ConfigError
from freetier.pr import REPORT_JSON, REPORT_MD, run_pr, write_report
from freetier.report import MARKER
from tests.conftest import ROOT, SHIPPED_STACK
from tests.fakes.oci_server import FakeTenancy, fake_tenancy


def _steps(report) -> dict[str, tuple[str, str]]:
    return {s.name: (s.outcome, s.summary) for s in report.steps}


def test_offline_run_skips_the_tenancy_and_says_why(tmp_path: Path) -> None:
    report = run_pr(SHIPPED_STACK, env={}, home=tmp_path, out=tmp_path / "out").report
    steps = _steps(report)
    assert steps["stack"][0] == "ok"
    assert steps["schema"] == (
        "ok",
        f"{SHIPPED_STACK.parent / 'stack.schema.json'} matches the stack model",
    )
    assert steps["oci"][0] == "skipped"
    assert "no OCI credentials" in steps["oci"][1]
    assert steps["guard"][0] == "ok"
    assert "offline: the stack only" in steps["guard"][1]
    assert report.exit_code == 0


@pytest.fixture
def tenancy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTenancy]:
    """The real oci SDK against a local fake OCI; FREETIER_OCI_ENDPOINT points at it."""
    with fake_tenancy(tmp_path, monkeypatch.setenv) as running:
        yield running


def _stack_for(tenancy: FakeTenancy, tmp_path: Path, region: str | None = None) -> Path:
    """The shipped stack, moved to the fake's region and tenancy."""
    text = SHIPPED_STACK.read_text().replace("uk-london-1", region or tenancy.credentials.region)
    text = text.replace(
        "ocid1.tenancy.oc1..aaaaaaaareplacewithyourtenancyocid", tenancy.credentials.tenancy
    )
    path = tmp_path / "stack.yaml"
    path.write_text(text)
    (tmp_path / "stack.schema.json").write_text((ROOT / "stack.schema.json").read_text())
    return path


def test_with_credentials_the_tenancy_counts_too(tenancy: FakeTenancy, tmp_path: Path) -> None:
    stack = _stack_for(tenancy, tmp_path)
    empty = run_pr(stack, env=dict(os.environ), home=tmp_path, out=tmp_path / "out").report
    assert _steps(empty)["oci"][0] == "ok"
    assert _steps(empty)["guard"][0] == "ok"
    assert "with 0 existing resource(s) of the tenancy" in _steps(empty)["guard"][1]
    # An instance made by hand, outside this repository, takes the A1 allowance over.
    tenancy.fake.add_instance(tenancy.credentials.tenancy, "by-hand", ocpus=1, memory_in_gbs=6)
    report = run_pr(stack, env=dict(os.environ), home=tmp_path, out=tmp_path / "out").report
    outcome, summary = _steps(report)["guard"]
    assert outcome == "failed" and "BLOCKING" in summary
    guard = next(s for s in report.steps if s.name == "guard")
    assert "a1_instances: 3 of 2" in "\n".join(guard.details)
    assert report.exit_code == 1


def test_config_for_another_region_blocks(tenancy: FakeTenancy, tmp_path: Path) -> None:
    stack = _stack_for(tenancy, tmp_path, region="uk-london-1")
    report = run_pr(stack, env=dict(os.environ), home=tmp_path, out=tmp_path / "out").report
    outcome, summary = _steps(report)["oci"]
    assert outcome == "failed"
    assert (
        f"config region {tenancy.credentials.region} differs from stack oci.region "
        "uk-london-1" in summary
    )
    assert report.exit_code == 1


def test_config_for_another_tenancy_blocks(tenancy: FakeTenancy, tmp_path: Path) -> None:
    stack = _stack_for(tenancy, tmp_path)
    stack.write_text(
        stack.read_text().replace(
            tenancy.credentials.tenancy, "ocid1.tenancy.oc1..aaaaaaaaanothertenancy"
        )
    )
    report = run_pr(stack, env=dict(os.environ), home=tmp_path, out=tmp_path / "out").report
    assert "names a tenancy other than the config's" in _steps(report)["oci"][1]
    # The fake knows no such compartment: the guard says so in one line, not a traceback.
    outcome, summary = _steps(report)["guard"]
    assert outcome == "failed" and "NotAuthorizedOrNotFound" in summary


def test_invalid_config_names_the_fields_not_their_values(tmp_path: Path) -> None:
    config = tmp_path / "oci-config"
    config.write_text("[DEFAULT]\nuser=not-an-ocid\nregion=uk-london-1\nsecret_value=hunter2\n")
    report = run_pr(
        SHIPPED_STACK, env={"OCI_CLI_CONFIG_FILE": str(config)}, home=tmp_path, out=tmp_path / "out"
    ).report
    outcome, summary = _steps(report)["oci"]
    assert outcome == "failed"
    assert "invalid config:" in summary and "user malformed" in summary
    assert _steps(report)["guard"][0] == "failed"
    assert "hunter2" not in json.dumps([s.__dict__ for s in report.steps])


def test_stale_schema_blocks(tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(SHIPPED_STACK.read_text())
    (tmp_path / "stack.schema.json").write_text("{}\n")
    outcome, summary = _steps(run_pr(stack, env={}, home=tmp_path, out=tmp_path / "out").report)[
        "schema"
    ]
    assert outcome == "failed" and "out of date" in summary


def test_reports_are_written_together(tmp_path: Path) -> None:
    run = run_pr(SHIPPED_STACK, env={}, home=tmp_path, out=tmp_path / "out")
    written = write_report(run, tmp_path / "out")
    assert [p.name for p in written] == [REPORT_MD, REPORT_JSON, "comment.md", "comment-full.md"]
    assert (tmp_path / "out" / REPORT_MD).read_text().startswith(MARKER)
    assert json.loads((tmp_path / "out" / REPORT_JSON).read_text())["verdict"] == "ok"
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")] == []


def test_bad_stack_raises_before_anything_runs(tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text("name: x\n")
    with pytest.raises(ConfigError):
        run_pr(stack, env={}, home=tmp_path, out=tmp_path / "out")


def test_default_config_location_is_home_dot_oci(
    tenancy: FakeTenancy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = _stack_for(tenancy, tmp_path)
    home = tmp_path / "home"
    (home / ".oci").mkdir(parents=True)
    tenancy.credentials.config_file.rename(home / ".oci" / "config")
    monkeypatch.delenv("OCI_CLI_CONFIG_FILE")
    report = run_pr(stack, env=dict(os.environ), home=home, out=tmp_path / "out").report
    assert _steps(report)["oci"] == ("ok", f"{home / '.oci' / 'config'} [DEFAULT] fits the stack")
    assert _steps(report)["guard"][0] == "ok"
