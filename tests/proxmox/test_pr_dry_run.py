"""`freetier pr`'s proxmox plan step over real SSH against the simulated cluster: the
bootstrap's dry run reads every host and changes nothing."""

from __future__ import annotations

from pathlib import Path

from freetier.pr.plans import proxmox_plan_step
from tests.fakes.pve.server import Simulator
from tests.proxmox.conftest import write_stack


def test_the_pr_plans_the_proxmox_layer_by_a_dry_run_that_changes_nothing(
    tmp_path: Path, sim: Simulator, key_file: Path
) -> None:
    stack = write_stack(tmp_path, sim.cluster)
    step, section = proxmox_plan_step(
        stack, ssh_key=key_file, can_reach_oci=False, backend=False, backend_config=None
    )
    assert step.outcome == "ok", (step, section.text)
    assert step.summary.startswith("proxmox bootstrap (would change): ")
    lines = section.text.splitlines()
    assert any(line.split()[:3] == ["cluster-create", "pve-1", "planned"] for line in lines)
    assert any(line.split()[:3] == ["cluster-join", "pve-3", "planned"] for line in lines)
    assert "    $ pvecm create " in section.text
    assert sim.changes() == []
    assert sim.cluster.members == []
    assert not (tmp_path / "proxmox.known_hosts").exists()
