"""`freetier validate` through the CLI against the fake OCI: each check's pass and failure,
skips and `--require`, bad input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from freetier.cli import main
from freetier.validate.render import render_text
from freetier.validate.run import run_validate
from tests.fakes.oci_usage import UsageRecord
from tests.validate.conftest import COMPARTMENT, Deployed

A1_OCPU = "Compute - Ampere A1 - OCPU"
A1_MEMORY = "Compute - Ampere A1 - Memory"
# 19:00 UTC on 3 December 2026: two closed days this month, the 1st and the 2nd.
NOW = datetime(2026, 12, 3, 19, 0, tzinfo=UTC)


def _validate(
    capsys: pytest.CaptureFixture[str], deployed: Deployed, *args: str
) -> tuple[int, dict]:
    code = main(["validate", "--stack", str(deployed.stack), "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def _status(body: dict) -> dict[str, str]:
    return {c["name"]: c["status"] for c in body["checks"]}


def _free_days(fake, days: list[date]) -> None:
    for day in days:
        fake.add_usage(UsageRecord(day, A1_OCPU, 48.0, "OCPU hours"))
        fake.add_usage(UsageRecord(day, A1_MEMORY, 288.0, "GB hours"))


def test_all_healthy(deployed: Deployed, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)  # no cluster here: tests/validate/test_cluster
    today = datetime.now(UTC).date()
    _free_days(deployed.tenancy.fake, [today - timedelta(days=1)])
    code, body = _validate(capsys, deployed)
    assert code == 0
    assert _status(body) == {
        "images": "pass",
        "oci": "pass",
        # "info" on the 1st of a month: no day has closed yet.
        "cost": "info" if today.day == 1 else "pass",
        "idle": "info",  # no compute agent data in the fake: reported, not passed
        "talos": "skip",
        "flux": "skip",
    }
    assert body["failed"] == []


def test_a_missing_image_and_one_not_available_fail_images(deployed: Deployed, capsys) -> None:
    fake = deployed.tenancy.fake
    gone = "ocid1.image.oc1.eu-frankfurt-1.gone"
    importing = fake.add_image(COMPARTMENT, "talos-new", state="IMPORTING")
    tfvars = deployed.stack.parent / "tofu" / "oci" / "images.auto.tfvars.json"
    tfvars.write_text(json.dumps({"image_ocids": {"amd64": gone, "arm64": importing}}))
    code, body = _validate(capsys, deployed, "--check", "images")
    assert code == 1
    [images] = body["checks"]
    assert images["status"] == "fail"
    assert images["details"][:2] == [
        f"amd64: image {gone} not found",
        f"arm64: image {importing} is IMPORTING, not AVAILABLE",
    ]


def test_images_over_the_size_gates_fail_images(deployed: Deployed, capsys) -> None:
    fake = deployed.tenancy.fake
    base = fake.add_image(COMPARTMENT, "base-amd64")
    with fake.lock:
        for image in fake.state["images"]:
            if image["id"] == base:
                image["billableSizeInGBs"] = 9  # GiB: 9.664 GB, over the 8 GB base gate
            if image["id"] == deployed.images["arm64"]:
                image["billableSizeInGBs"] = 12  # no per-image gate for talos-*
    tfvars = deployed.stack.parent / "tofu" / "oci" / "images.auto.tfvars.json"
    tfvars.write_text(
        json.dumps({"image_ocids": {"amd64": base, "arm64": deployed.images["arm64"]}})
    )
    code, body = _validate(capsys, deployed, "--check", "images")
    assert code == 1
    [images] = body["checks"]
    assert images["details"][:2] == [
        "image base-amd64: 9.664 GB over its 8 GB gate",
        # 21 GiB in all
        "images: 22.549 GB in all, over the 20 GB gate",
    ]


def test_images_within_the_gates_pass_with_the_total(deployed: Deployed, capsys) -> None:
    code, body = _validate(capsys, deployed, "--check", "images")
    assert code == 0
    [images] = body["checks"]
    # Two images of 1 GiB each.
    assert images["summary"] == "2 image(s) AVAILABLE, 2.147 GB of the 20 GB gate"


def test_a_stopped_instance_in_the_wrong_shape_fails_oci(deployed: Deployed, capsys) -> None:
    fake = deployed.tenancy.fake
    with fake.lock:
        node = next(i for i in fake.state["instances"] if i["displayName"] == "freetier-node-2")
        node["lifecycleState"] = "STOPPED"
        node["shapeConfig"]["ocpus"] = 2.0
    code, body = _validate(capsys, deployed, "--check", "oci")
    assert code == 1
    [oci] = body["checks"]
    assert oci["details"] == [
        "freetier-node-2: STOPPED, not RUNNING",
        "freetier-node-2: ocpus 2.0, not 1",
    ]


def test_a_tenancy_over_the_free_tier_fails_oci(deployed: Deployed, capsys) -> None:
    fake = deployed.tenancy.fake
    fake.add_instance(COMPARTMENT, "someone-else", ocpus=2, memory_in_gbs=12)
    code, body = _validate(capsys, deployed, "--check", "oci")
    assert code == 1
    [oci] = body["checks"]
    assert [line.split(" (")[0] for line in oci["details"]] == [
        "guard: a1_ocpus: 4 of 2 OCPU",
        "guard: a1_memory_gb: 24 of 12 GB",
        "guard: a1_instances: 3 of 2 instances",
    ]


def test_a_cent_yesterday_fails_cost_naming_the_sku(deployed: Deployed) -> None:
    fake = deployed.tenancy.fake
    _free_days(fake, [date(2026, 12, 1), date(2026, 12, 2)])
    fake.add_usage(
        UsageRecord(date(2026, 12, 2), "Block Volume - Performance Units", 1.0, "units", 0.01)
    )
    # Today's partial day is not a closed day: its cost is not counted yet.
    fake.add_usage(UsageRecord(date(2026, 12, 3), "Outbound Data Transfer", 1.0, "GB", 5.0))
    report = run_validate(
        deployed.stack, ["cost"], [], env=deployed.tenancy.env, home=Path("/nonexistent"), now=NOW
    )
    [cost] = report.results
    assert cost.status == "fail", render_text(report)
    assert cost.summary == "2026-12-02: Block Volume - Performance Units cost 0.01 USD"
    assert report.exit_code == 1
    # Every range the check asked for is whole UTC days: the 1st (inclusive) to the 3rd.
    asked = [
        (r["queryType"], r["timeUsageStarted"][:19], r["timeUsageEnded"][:19])
        for r in fake.usage_requests
    ]
    assert asked == [
        ("COST", "2026-12-01T00:00:00", "2026-12-03T00:00:00"),
        ("USAGE", "2026-12-01T00:00:00", "2026-12-03T00:00:00"),
    ]
    assert {r["granularity"] for r in fake.usage_requests} == {"DAILY"}
    assert {tuple(r["groupBy"]) for r in fake.usage_requests} == {("skuName",)}


def test_usage_projected_over_the_allowance_fails_cost(deployed: Deployed) -> None:
    fake = deployed.tenancy.fake
    for day in (date(2026, 12, 1), date(2026, 12, 2)):
        fake.add_usage(UsageRecord(day, A1_OCPU, 96.0, "OCPU hours"))  # 4 OCPUs all day
    report = run_validate(
        deployed.stack, ["cost"], [], env=deployed.tenancy.env, home=Path("/nonexistent"), now=NOW
    )
    [cost] = report.results
    assert cost.status == "fail"
    # 192 OCPU hours in 2 days -> 2976 in December's 31; 2 OCPUs x 744 hours are free.
    assert cost.summary == f"{A1_OCPU}: projected 2976.0 over the 1488 free"


def test_within_the_allowance_cost_passes_with_the_projection(deployed: Deployed) -> None:
    _free_days(deployed.tenancy.fake, [date(2026, 12, 1), date(2026, 12, 2)])
    report = run_validate(
        deployed.stack, ["cost"], [], env=deployed.tenancy.env, home=Path("/nonexistent"), now=NOW
    )
    [cost] = report.results
    assert cost.status == "pass"
    assert cost.details == (
        f"{A1_MEMORY}: 576 GB hours in 2 days, 8928.0 projected of 8928 GB hours free",
        f"{A1_OCPU}: 96 OCPU hours in 2 days, 1488.0 projected of 1488 OCPU hours free",
        "budget freetier-monthly: actual 0.00, forecast 0.00 of 1; 2 of 2 alert rule(s) quiet",
    )


def test_a_fired_budget_alert_fails_cost(deployed: Deployed) -> None:
    fake = deployed.tenancy.fake
    _free_days(fake, [date(2026, 12, 1), date(2026, 12, 2)])
    with fake.lock:
        fake.budgets[0]["forecastedSpend"] = 0.75  # the Usage API still shows 0.00 per day
    report = run_validate(
        deployed.stack, ["cost"], [], env=deployed.tenancy.env, home=Path("/nonexistent"), now=NOW
    )
    [cost] = report.results
    assert cost.status == "fail"
    assert cost.summary == (
        "budget freetier-monthly: alert rule freetier-forecast-spend fired: FORECAST spend 0.75, "
        "threshold 0.01"
    )
    assert cost.details[1:3] == (
        "budget freetier-monthly: actual 0.00, forecast 0.75 of 1; 1 of 2 alert rule(s) quiet",
        "Usage API: pass: 0.00 on each of 2 closed days this month",
    )


def test_a_percentage_rule_fires_at_its_share_of_the_amount(deployed: Deployed) -> None:
    fake = deployed.tenancy.fake
    _free_days(fake, [date(2026, 12, 1), date(2026, 12, 2)])
    budget = fake.budgets[0]["id"]
    fake.add_alert_rule(budget, "half", "ACTUAL", 50, "PERCENTAGE")
    with fake.lock:
        fake.budgets[0]["actualSpend"] = 0.005  # under the 0.01 rule and under half of 1
    report = run_validate(
        deployed.stack, ["cost"], [], env=deployed.tenancy.env, home=Path("/nonexistent"), now=NOW
    )
    assert report.results[0].status == "pass"
    with fake.lock:
        fake.budgets[0]["actualSpend"] = 0.5  # half of the amount 1: the rule fires
    report = run_validate(
        deployed.stack, ["cost"], [], env=deployed.tenancy.env, home=Path("/nonexistent"), now=NOW
    )
    [cost] = report.results
    assert cost.status == "fail"
    assert cost.details[:2] == (
        "budget freetier-monthly: alert rule freetier-actual-spend fired: ACTUAL spend 0.50, "
        "threshold 0.01",
        "budget freetier-monthly: alert rule half fired: ACTUAL spend 0.50, threshold 50 %",
    )


def test_no_budget_fails_cost(deployed: Deployed) -> None:
    fake = deployed.tenancy.fake
    _free_days(fake, [date(2026, 12, 1), date(2026, 12, 2)])
    with fake.lock:
        fake.budgets[0]["displayName"] = "someone-else"
    report = run_validate(
        deployed.stack, ["cost"], [], env=deployed.tenancy.env, home=Path("/nonexistent"), now=NOW
    )
    [cost] = report.results
    assert (cost.status, cost.summary) == (
        "fail",
        "budget freetier-monthly: not found in the tenancy (tofu/oci makes it)",
    )


def test_an_unmetered_tenancy_is_neither_pass_nor_failure(deployed: Deployed) -> None:
    report = run_validate(
        deployed.stack,
        ["cost"],
        ["cost"],
        env=deployed.tenancy.env,
        home=Path("/nonexistent"),
        now=NOW,
    )
    [cost] = report.results
    assert cost.status == "info"
    assert "reported nothing from 2026-12-01 to 2026-12-02" in cost.summary
    assert report.exit_code == 0


def test_without_credentials_checks_skip_and_require_fails(
    deployed: Deployed, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OCI_CLI_CONFIG_FILE", str(tmp_path / "no-such-config"))
    code, body = _validate(capsys, deployed, "--check", "images", "--check", "cost")
    assert code == 0
    assert _status(body) == {"images": "skip", "cost": "skip"}
    assert body["checks"][0]["summary"].startswith("no OCI credentials")
    code, body = _validate(capsys, deployed, "--check", "images", "--require", "images")
    assert code == 1
    assert _status(body) == {"images": "fail"}
    assert body["checks"][0]["summary"].startswith("required but skipped: no OCI credentials")


def test_an_unknown_check_name_is_bad_input(deployed: Deployed, capsys) -> None:
    code = main(["validate", "--stack", str(deployed.stack), "--check", "bill"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [
        "freetier: error: --check bill: unknown check (known: images, oci, cost, idle, talos, flux)"
    ]


def test_a_refusal_fails_that_check_only(deployed: Deployed, capsys) -> None:
    deployed.tenancy.fake.inject("/20200107/usage", 404, "NotAuthorizedOrNotFound", times=None)
    code, body = _validate(capsys, deployed, "--check", "images", "--check", "cost")
    assert code == 1
    assert _status(body) == {"images": "pass", "cost": "fail"}


def test_the_usage_api_refuses_a_time_that_is_not_a_utc_midnight(deployed: Deployed) -> None:
    from freetier.errors import RemoteError
    from freetier.oci_clients import load_oci_config
    from freetier.usage import summarized_usages

    config = load_oci_config(deployed.tenancy.env, Path("/nonexistent"))
    start, end = datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 3, 19, 0, tzinfo=UTC)
    with pytest.raises(RemoteError, match="HTTP 400 InvalidParameter: timeUsageEnded must"):
        summarized_usages(config, "COST", start, end, env=deployed.tenancy.env)


def test_summary_writes_the_markdown_beside_the_json(
    deployed: Deployed, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    summary = tmp_path / "out" / "validate.md"
    code, body = _validate(
        capsys, deployed, "--check", "images", "--check", "flux", "--summary", str(summary)
    )
    assert (code, body["exit_code"]) == (0, 0)
    lines = summary.read_text(encoding="utf-8").splitlines()
    assert lines[:4] == [
        "## freetier validate",
        "",
        "| check | status | summary |",
        "|---|---|---|",
    ]
    assert lines[4] == "| images | ✅ pass | 2 image(s) AVAILABLE, 2.147 GB of the 20 GB gate |"
    assert lines[5] == (
        "| flux | ⏭️ skip | no cluster access (give --kubeconfig, set KUBECONFIG or "
        "--backend-config) |"
    )
    assert lines[-1] == "all checks that ran passed"
