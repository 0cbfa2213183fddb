"""Faults: a host that drops mid-step, a command failing once, a slow quorum, a disk that
holds data, a host without KVM; and reruns that converge without repeating finished steps."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.pve.server import Simulator
from tests.proxmox.conftest import Runner, statuses, write_stack


def _failed(report: dict) -> list[dict]:
    return [s for s in report["steps"] if s["status"] == "failed"]


def test_a_host_dropping_mid_step_is_named_with_the_step_and_a_rerun_converges(
    tmp_path: Path, sim: Simulator, bootstrap: Runner
) -> None:
    sim.cluster.drop_on["pve-3"] = "pveceph mon create"
    stack = write_stack(tmp_path, sim.cluster)
    code, report = bootstrap(stack)
    assert code == 1
    [failed] = _failed(report)
    assert (failed["step"], failed["host"]) == ("ceph-mon", "pve-3")
    assert failed["summary"].startswith("step ceph-mon on pve-3: pve-3 (127.0.0.4:")
    assert "connection lost running `pveceph mon create`" in failed["summary"]
    assert "ceph-osd" not in {s["step"] for s in report["steps"]}  # stopped there

    sim.revive("pve-3")
    start = len(sim.cluster.log)
    code, report = bootstrap(stack)
    assert code == 0, _failed(report)
    rerun = [c for _, c in sim.cluster.log[start:]]
    assert not [c for c in rerun if c.startswith(("pvecm create", "pvecm add", "pveceph init"))]
    assert [h for h, c in sim.cluster.log[start:] if c == "pveceph mon create"] == ["pve-3"]
    assert statuses(report)[("ceph-mon", "pve-3")] == "changed"


def test_a_command_failing_once_fails_its_step_and_the_rerun_finishes(
    tmp_path: Path, sim: Simulator, bootstrap: Runner
) -> None:
    sim.cluster.fail_once.add("pveceph pool")
    stack = write_stack(tmp_path, sim.cluster)
    code, report = bootstrap(stack)
    assert code == 1
    [failed] = _failed(report)
    assert failed["step"] == "ceph-pool"
    assert "pveceph pool: simulated failure (once)" in failed["summary"]
    code, report = bootstrap(stack)
    assert code == 0
    assert sim.cluster.pools == {"vm-storage": (3, 2)}


def test_quorum_lost_after_a_join_stops_before_the_next_join(
    tmp_path: Path, sim: Simulator, bootstrap: Runner
) -> None:
    sim.cluster.quorum_delay = 30.0  # the joined node does not count within the wait
    stack = write_stack(tmp_path, sim.cluster)
    code, report = bootstrap(stack)
    assert code == 1
    [failed] = _failed(report)
    assert (failed["step"], failed["host"]) == ("cluster-join", "pve-2")
    assert "no quorum" in failed["summary"] and "not joining the other hosts" in failed["summary"]
    assert [h for h, c in sim.cluster.log if c.startswith("pvecm add")] == ["pve-2"]
    assert sim.cluster.members == ["pve-1", "pve-2"]
    assert sim.cluster.hosts["pve-1"].root_password is None  # locked again


def test_a_slow_quorum_is_waited_for(tmp_path: Path, sim: Simulator, bootstrap: Runner) -> None:
    sim.cluster.quorum_delay = 0.5
    stack = write_stack(tmp_path, sim.cluster)
    code, report = bootstrap(stack, "--quorum-wait", "0.2")
    assert code == 0, _failed(report)
    assert sim.cluster.members == ["pve-1", "pve-2", "pve-3"]


def test_a_disk_holding_data_is_refused_by_name_before_anything_changes(
    tmp_path: Path, sim: Simulator, bootstrap: Runner
) -> None:
    sim.cluster.hosts["pve-2"].disks["/dev/sdb"].fstype = "ext4"
    stack = write_stack(tmp_path, sim.cluster)
    code, report = bootstrap(stack)
    assert code == 1
    [failed] = _failed(report)
    assert (failed["step"], failed["host"]) == ("preflight", "pve-2")
    assert "/dev/sdb holds a ext4 signature: refusing to make it an OSD" in failed["summary"]
    assert sim.changes() == []


def test_the_osd_step_refuses_a_disk_that_gained_data_after_preflight(
    tmp_path: Path, sim: Simulator, bootstrap: Runner
) -> None:
    stack = write_stack(tmp_path, sim.cluster)
    # between preflight and the OSD step another tool partitions the disk
    original = sim.cluster.hosts["pve-1"].disks["/dev/sdb"]

    def partition_on_mgr() -> None:
        original.children = ["/dev/sdb1"]

    sim.cluster.hooks["pveceph mgr create"] = partition_on_mgr
    code, report = bootstrap(stack)
    assert code == 1
    [failed] = _failed(report)
    assert (failed["step"], failed["host"]) == ("ceph-osd", "pve-1")
    assert "refusing /dev/sdb has partitions or holders: /dev/sdb1" in failed["summary"]
    assert ("pve-1", "pveceph osd create /dev/sdb") not in sim.cluster.log


def test_talos_vms_are_refused_on_a_host_without_kvm_unless_tcg_is_allowed(
    tmp_path: Path, sim: Simulator, bootstrap: Runner
) -> None:
    sim.cluster.hosts["pve-2"].kvm = False
    code, report = bootstrap(write_stack(tmp_path, sim.cluster))
    assert code == 1
    [failed] = _failed(report)
    assert (failed["step"], failed["host"]) == ("preflight", "pve-2")
    assert "no /dev/kvm: its Talos VMs (talos-cp-2) could only run under TCG" in failed["summary"]
    assert "proxmox.allow_tcg: true" in failed["summary"]
    assert sim.changes() == []
    code, report = bootstrap(write_stack(tmp_path, sim.cluster, allow_tcg=True), "--dry-run")
    assert code == 0
    assert "no /dev/kvm" in next(s["summary"] for s in report["steps"] if s["host"] == "pve-2")
