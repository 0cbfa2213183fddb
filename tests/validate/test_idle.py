"""`freetier validate --check idle` against the fake OCI's Monitoring API: an instance Oracle
would reclaim as idle fails naming it, the metric and the figure; instances without compute
agent data are reported, not passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from freetier.errors import RemoteError
from freetier.monitoring import summarize
from freetier.oci_clients import load_oci_config
from freetier.validate.model import CheckResult
from freetier.validate.run import run_validate
from tests.validate.conftest import COMPARTMENT, Deployed

NOW = datetime(2026, 12, 3, 19, 0, tzinfo=UTC)
START = NOW - timedelta(days=7)
AGENT = "oci_computeagent"


def _ocid(deployed: Deployed, name: str) -> str:
    fake = deployed.tenancy.fake
    with fake.lock:
        return next(i["id"] for i in fake.state["instances"] if i["displayName"] == name)


def _seed(deployed: Deployed, name: str, metric: str, spans: list[tuple[int, float]]) -> None:
    """`metric` of instance `name`: each (hours, value) span after the other from START."""
    at = START
    for hours, value in spans:
        deployed.tenancy.fake.add_samples(
            AGENT, metric, COMPARTMENT, _ocid(deployed, name), at, hours, value
        )
        at += timedelta(hours=hours)


def _idle(deployed: Deployed) -> CheckResult:
    report = run_validate(
        deployed.stack, ["idle"], [], env=deployed.tenancy.env, home=Path("/nonexistent"), now=NOW
    )
    [idle] = report.results
    return idle


def test_a_reclaimable_idle_instance_fails_naming_instance_metric_and_figure(
    deployed: Deployed,
) -> None:
    _seed(deployed, "freetier-node-1", "CpuUtilization", [(168, 3.0)])
    _seed(deployed, "freetier-node-1", "MemoryUtilization", [(168, 10.0)])
    _seed(deployed, "freetier-node-2", "CpuUtilization", [(168, 55.0)])
    _seed(deployed, "freetier-node-2", "MemoryUtilization", [(168, 40.0)])
    idle = _idle(deployed)
    assert idle.status == "fail"
    assert idle.summary == (
        "freetier-node-1: CpuUtilization p95 3.0%, MemoryUtilization mean 10.0% over the last "
        "7 days (oci_computeagent): under 20%, reclaimable as idle"
    )
    assert idle.details[1:3] == (
        "freetier-node-2: CpuUtilization p95 55.0%, MemoryUtilization mean 40.0% over the last "
        "7 days (oci_computeagent); busy in the last hour",
        "freetier-bastion: no data from oci_computeagent (Talos publishes none)",
    )
    # What was asked: the stack's compartment, the compute agent, the last 7 days, MQL.
    asked = [
        (where, body["namespace"], body["query"], body["startTime"][:19], body["endTime"][:19])
        for where, body in deployed.tenancy.fake.metric_requests
    ]
    assert asked == [
        (COMPARTMENT, AGENT, "CpuUtilization[1h].percentile(0.95)", "2026-11-26T19:00:00",
         "2026-12-03T19:00:00"),
        (COMPARTMENT, AGENT, "MemoryUtilization[1h].mean()", "2026-11-26T19:00:00",
         "2026-12-03T19:00:00"),
    ]  # fmt: skip


def test_busy_over_the_window_passes_with_the_days_left(deployed: Deployed) -> None:
    # node-2: busy 5 days, then idle by every measure for the last 2.
    _seed(deployed, "freetier-node-2", "CpuUtilization", [(120, 50.0), (48, 5.0)])
    _seed(deployed, "freetier-node-2", "MemoryUtilization", [(120, 30.0), (48, 10.0)])
    # node-1: CPU low all week, but A1 memory well used: not idle.
    _seed(deployed, "freetier-node-1", "CpuUtilization", [(168, 4.0)])
    _seed(deployed, "freetier-node-1", "MemoryUtilization", [(168, 60.0)])
    idle = _idle(deployed)
    assert idle.status == "pass", idle
    assert idle.summary == "2 instance(s) not idle; 1 with no data from oci_computeagent"
    assert idle.details[:2] == (
        "freetier-node-1: CpuUtilization p95 4.0%, MemoryUtilization mean 60.0% over the last "
        "7 days (oci_computeagent); busy in the last hour",
        # 120 hours at 30% and 48 at 10%: a mean of 24.3%; 48 idle hours, 2 of 7 days.
        "freetier-node-2: CpuUtilization p95 50.0%, MemoryUtilization mean 24.3% over the last "
        "7 days (oci_computeagent); idle the last 2.0 day(s), 5.0 day(s) left",
    )


def test_no_compute_agent_data_is_info_not_a_pass(deployed: Deployed) -> None:
    idle = _idle(deployed)
    assert idle.status == "info"
    assert idle.summary == (
        "no data from oci_computeagent for any of 3 instance(s): neither pass nor failure"
    )


def test_a_malformed_query_is_the_apis_400(deployed: Deployed) -> None:
    config = load_oci_config(deployed.tenancy.env, Path("/nonexistent"))
    with pytest.raises(RemoteError, match="400 InvalidParameter"):
        summarize(
            config, COMPARTMENT, AGENT, "CpuUtilization[1h.percentile(0.95)", START, NOW,
            env=deployed.tenancy.env,
        )  # fmt: skip


def test_the_fake_summarizes_per_interval_and_resource_through_the_sdk(deployed: Deployed) -> None:
    from tests.fakes.oci_monitoring import Sample

    node = _ocid(deployed, "freetier-node-1")
    fake = deployed.tenancy.fake
    with fake.lock:  # 20 samples, 1% to 20%, in the first hour; one in another compartment
        fake.samples += [
            Sample(AGENT, "CpuUtilization", COMPARTMENT, node, START + timedelta(minutes=m), m + 1)
            for m in range(20)
        ]
        fake.samples.append(
            Sample(AGENT, "CpuUtilization", "ocid1.compartment.oc1..other", node, START, 99.0)
        )
    config = load_oci_config(deployed.tenancy.env, Path("/nonexistent"))

    def ask(query: str) -> list[tuple[str, list[float]]]:
        found = summarize(config, COMPARTMENT, AGENT, query, START, NOW, env=deployed.tenancy.env)
        return [(s.resource_id, [v for _, v in s.points]) for s in found]

    assert ask("CpuUtilization[1h].percentile(0.95)") == [(node, [19.0])]
    assert ask("CpuUtilization[1h].mean()") == [(node, [10.5])]
    assert ask(f'CpuUtilization[1h]{{resourceId = "{node}"}}.max()') == [(node, [20.0])]
    assert ask('CpuUtilization[1h]{resourceId = "ocid1.instance.other"}.max()') == []
    assert ask("MemoryUtilization[1h].mean()") == []
