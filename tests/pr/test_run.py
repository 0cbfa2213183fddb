"""run_pr end to end on real files: the shipped stack, the oci SDK's config reader, the doctor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from freetier.errors import ConfigError
from freetier.pr import REPORT_JSON, REPORT_MD, run_pr, write_report
from freetier.report import MARKER
from tests.conftest import SHIPPED_STACK

TENANCY = "ocid1.tenancy.oc1..aaaaaaaareplacewithyourtenancyocid"
OTHER_TENANCY = "ocid1.tenancy.oc1..aaaaaaaaanothertenancy"


def _oci_config(tmp_path: Path, *, region: str, tenancy: str = TENANCY) -> Path:
    key = tmp_path / "key.pem"
    key.write_text("not read by validate_config\n")
    config = tmp_path / "oci-config"
    config.write_text(
        "[DEFAULT]\n"
        "user=ocid1.user.oc1..aaaaaaaauser\n"
        "fingerprint=12:34:56:78:9a:bc:de:f0:12:34:56:78:9a:bc:de:f0\n"
        f"key_file={key}\n"
        f"tenancy={tenancy}\n"
        f"region={region}\n"
    )
    return config


def _steps(report) -> dict[str, tuple[str, str]]:
    return {s.name: (s.outcome, s.summary) for s in report.steps}


def test_offline_run_skips_the_tenancy_and_says_why(tmp_path: Path) -> None:
    report = run_pr(SHIPPED_STACK, env={}, home=tmp_path)
    steps = _steps(report)
    assert steps["stack"][0] == "ok"
    assert steps["schema"] == (
        "ok",
        f"{SHIPPED_STACK.parent / 'stack.schema.json'} matches the stack model",
    )
    assert steps["oci"][0] == "skipped"
    assert "no OCI credentials" in steps["oci"][1]
    assert report.exit_code == 0


def test_matching_oci_config_is_accepted(tmp_path: Path) -> None:
    config = _oci_config(tmp_path, region="uk-london-1")
    report = run_pr(SHIPPED_STACK, env={"OCI_CLI_CONFIG_FILE": str(config)}, home=tmp_path)
    assert _steps(report)["oci"] == ("ok", f"{config} [DEFAULT] fits the stack")


def test_default_config_location_is_home_dot_oci(tmp_path: Path) -> None:
    (tmp_path / ".oci").mkdir()
    config = _oci_config(tmp_path / ".oci", region="uk-london-1")
    config.rename(tmp_path / ".oci" / "config")
    assert _steps(run_pr(SHIPPED_STACK, env={}, home=tmp_path))["oci"][0] == "ok"


def test_config_for_another_region_and_tenancy_blocks(tmp_path: Path) -> None:
    config = _oci_config(tmp_path, region="us-ashburn-1", tenancy=OTHER_TENANCY)
    report = run_pr(SHIPPED_STACK, env={"OCI_CLI_CONFIG_FILE": str(config)}, home=tmp_path)
    outcome, summary = _steps(report)["oci"]
    assert outcome == "failed"
    assert "config region us-ashburn-1 differs from stack oci.region uk-london-1" in summary
    assert "names a tenancy other than the config's" in summary
    assert report.exit_code == 1


def test_invalid_config_names_the_fields_not_their_values(tmp_path: Path) -> None:
    config = tmp_path / "oci-config"
    config.write_text("[DEFAULT]\nuser=not-an-ocid\nregion=uk-london-1\nsecret_value=hunter2\n")
    report = run_pr(SHIPPED_STACK, env={"OCI_CLI_CONFIG_FILE": str(config)}, home=tmp_path)
    outcome, summary = _steps(report)["oci"]
    assert outcome == "failed"
    assert "invalid fields:" in summary and "user" in summary
    assert "hunter2" not in json.dumps([s.__dict__ for s in report.steps])


def test_stale_schema_blocks(tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(SHIPPED_STACK.read_text())
    (tmp_path / "stack.schema.json").write_text("{}\n")
    outcome, summary = _steps(run_pr(stack, env={}, home=tmp_path))["schema"]
    assert outcome == "failed" and "out of date" in summary


def test_reports_are_written_together(tmp_path: Path) -> None:
    report = run_pr(SHIPPED_STACK, env={}, home=tmp_path)
    written = write_report(report, tmp_path / "out")
    assert [p.name for p in written] == [REPORT_MD, REPORT_JSON]
    assert (tmp_path / "out" / REPORT_MD).read_text().startswith(MARKER)
    assert json.loads((tmp_path / "out" / REPORT_JSON).read_text())["verdict"] == "ok"
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")] == []


def test_bad_stack_raises_before_anything_runs(tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text("name: x\n")
    with pytest.raises(ConfigError):
        run_pr(stack, env={}, home=tmp_path)
