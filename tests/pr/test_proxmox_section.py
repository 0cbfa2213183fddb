"""The proxmox layer in `freetier pr`: its plan is the bootstrap's dry-run report, shown in the
comment between oci and talos; without the hosts' SSH key it is skipped, like other offline
steps."""

from __future__ import annotations

from pathlib import Path

from freetier.comment import render_comment
from freetier.plans.model import LayerPlan
from freetier.pr.plans import comment_body, proxmox_plan_step, proxmox_result_step
from freetier.pr.run import offline_steps
from freetier.proxmox.run import BootstrapResult
from freetier.pve.report import Record
from freetier.report import Report
from tests.conftest import PROXMOX_EXAMPLE

DRY_RUN = BootstrapResult(
    (
        Record("preflight", "pve1", "done", "Debian 12, arm64, /dev/kvm"),
        Record(
            "cluster-create",
            "pve1",
            "planned",
            "create cluster lab",
            commands=("pvecm create lab",),
        ),
        Record("cluster-join", "pve2", "planned", "join pve1", commands=("pvecm add 10.0.0.11",)),
        Record("tailscale-lxc", "cluster", "skipped", "proxmox.tailscale_lxc is false"),
    ),
    dry_run=True,
)

SECTION = """
### proxmox

proxmox bootstrap (would change): 1 done, 2 planned, 1 skipped

<details><summary>proxmox: dry run</summary>

```text
preflight       pve1     done     Debian 12, arm64, /dev/kvm
cluster-create  pve1     planned  create cluster lab
    $ pvecm create lab
cluster-join    pve2     planned  join pve1
    $ pvecm add 10.0.0.11
tailscale-lxc   cluster  skipped  proxmox.tailscale_lxc is false
proxmox bootstrap (would change): 1 done, 2 planned, 1 skipped
```

</details>
"""


def _between(comment: str, start: str, end: str) -> str:
    return comment[comment.index(start) : comment.index(end)]


def test_the_dry_run_report_is_the_proxmox_section_between_oci_and_talos() -> None:
    step, section = proxmox_result_step(DRY_RUN)
    assert (step.name, step.outcome) == ("plan:proxmox", "ok")
    assert step.summary == "proxmox bootstrap (would change): 1 done, 2 planned, 1 skipped"
    comment = render_comment([LayerPlan("oci"), LayerPlan("talos")], steps=[section])
    assert _between(comment, "\n### oci", "\n### talos") == "\n### oci\n\nNo changes.\n" + SECTION
    assert "## freetier plan: ✅ planned" in comment


def test_a_failed_step_of_the_dry_run_fails_the_plan_and_heads_the_comment() -> None:
    records = (
        *DRY_RUN.records[:1],
        Record("preflight", "pve2", "failed", "step preflight on pve2: no /dev/kvm"),
    )
    step, section = proxmox_result_step(BootstrapResult(records, dry_run=True))
    assert step.outcome == "failed"
    assert step.details == ("preflight pve2: step preflight on pve2: no /dev/kvm",)
    report = Report("r", "s", (step,))
    comment = comment_body(report, [LayerPlan("oci"), LayerPlan("talos")], None, steps=[section])
    assert "## freetier plan: ❌ plan failed: proxmox" in comment
    assert "proxmox bootstrap (would change): 1 done, 1 failed" in comment


def test_the_tightest_tiers_keep_the_tally_and_leave_the_report_out() -> None:
    _, section = proxmox_result_step(DRY_RUN)
    big = LayerPlan("oci", text="x\n" * 40_000)
    comment = render_comment([big], steps=[section], budget=3_000)
    assert "proxmox bootstrap (would change): 1 done, 2 planned, 1 skipped" in comment
    assert "$ pvecm create lab" not in comment
    assert len(comment) <= 3_000


def test_without_the_ssh_key_the_proxmox_plan_is_skipped_with_the_reason() -> None:
    step, section = proxmox_plan_step(
        PROXMOX_EXAMPLE, ssh_key=None, can_reach_oci=False, backend=False, backend_config=None
    )
    reason = (
        "no SSH key for the Proxmox hosts (--proxmox-ssh-key): the bootstrap's dry run needs it"
    )
    assert (step.name, step.outcome, step.summary) == ("plan:proxmox", "skipped", reason)
    comment = render_comment([LayerPlan("oci"), LayerPlan("talos")], steps=[section])
    assert _between(comment, "\n### proxmox", "\n### talos") == (
        f"\n### proxmox\n\nSkipped: {reason}.\n"
    )
    assert offline_steps(Report("r", "s", (step,))) == ["plan:proxmox"]


def test_hosts_that_are_oci_instances_need_oci_credentials(tmp_path: Path) -> None:
    key = tmp_path / "id"
    key.write_text("not read: skipped before")
    step, _ = proxmox_plan_step(
        PROXMOX_EXAMPLE, ssh_key=key, can_reach_oci=False, backend=False, backend_config=None
    )
    assert step.outcome == "skipped"
    assert step.summary == (
        "no OCI credentials: the Proxmox hosts' addresses are the oci layer's outputs"
    )


def test_run_pr_places_the_proxmox_plan_between_oci_and_talos(tmp_path: Path) -> None:
    from freetier.pr.run import run_pr

    stack_file = tmp_path / "stack.yaml"
    stack_file.write_text(PROXMOX_EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    for layer in ("oci", "talos"):
        (tmp_path / "tofu" / layer).mkdir(parents=True)
        (tmp_path / "tofu" / layer / "versions.tf").write_text("")
    (tmp_path / "home").mkdir()
    run = run_pr(stack_file, env={}, home=tmp_path / "home", out=tmp_path / "out", path="")
    names = [s.name for s in run.report.steps if s.name.startswith("plan:")]
    assert names == ["plan:oci", "plan:proxmox", "plan:talos"]
    assert "\n### proxmox\n\nSkipped: no SSH key for the Proxmox hosts" in run.comment
    assert "\n### proxmox\n\nSkipped: no SSH key for the Proxmox hosts" in run.full
