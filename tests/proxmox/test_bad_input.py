"""Bad input: exit 2 before anything changes, one line each."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from freetier.cli import main
from tests.fakes.pve.server import Simulator
from tests.proxmox.conftest import Runner, write_stack


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(["proxmox", "bootstrap", *argv])
    return code, capsys.readouterr().err.strip().splitlines()


def _edit(stack: Path, change: object) -> Path:
    data = yaml.safe_load(stack.read_text())
    change(data)  # type: ignore[operator]
    stack.write_text(yaml.safe_dump(data, sort_keys=False))
    return stack


@pytest.mark.parametrize(
    ("change", "extra", "line"),
    [
        pytest.param(
            None,
            ("--host", "pve-9"),
            "freetier: error: --host pve-9: not a host of the stack (hosts: pve-1, pve-2, pve-3)",
            id="host-not-in-stack",
        ),
        pytest.param(
            lambda d: d["proxmox"]["talos_vms"][1].update(vmid=100),
            (),
            "proxmox.talos_vms[1].vmid: VM id 100 is also talos-cp-1's",
            id="duplicate-vm-id",
        ),
        pytest.param(
            lambda d: d["proxmox"]["talos_vms"][0].update(vmid=999),
            (),
            "proxmox.talos_vms[0].vmid: VM id 999 is the bootstrap's migration test VM",
            id="reserved-vm-id",
        ),
        pytest.param(
            lambda d: d["proxmox"]["ceph"].update(replicas=4),
            (),
            "proxmox.ceph.replicas: 4 replicas need at least 4 hosts (have 3); "
            "Ceph would never reach HEALTH_OK",
            id="ceph-size-above-host-count",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_changes_nothing(
    tmp_path: Path,
    sim: Simulator,
    key_file: Path,
    capsys: pytest.CaptureFixture[str],
    change: object,
    extra: tuple[str, ...],
    line: str,
) -> None:
    stack = write_stack(tmp_path, sim.cluster)
    if change is not None:
        _edit(stack, change)
    code, err = _run(capsys, "--stack", str(stack), "--ssh-key", str(key_file), *extra)
    assert code == 2
    assert len(err) == 1 and err[0].endswith(line)
    assert sim.cluster.log == []  # not even a reading: nothing was reached


def test_no_ssh_key_exits_2(
    tmp_path: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run(capsys, "--stack", str(write_stack(tmp_path, sim.cluster)))
    assert code == 2
    assert err == ["freetier: error: --ssh-key: required: the private key of the hosts' image user"]
    code, err = _run(
        capsys,
        "--stack",
        str(write_stack(tmp_path, sim.cluster)),
        "--ssh-key",
        str(tmp_path / "nope"),
    )
    assert (code, err) == (2, [f"freetier: error: --ssh-key {tmp_path / 'nope'}: no such file"])


def test_a_host_key_that_changed_since_it_was_pinned_exits_2_before_anything_runs(
    tmp_path: Path,
    sim: Simulator,
    key_file: Path,
    bootstrap: Runner,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack = write_stack(tmp_path, sim.cluster)
    code, _ = bootstrap(stack, "--dry-run")
    assert code == 0
    assert not (tmp_path / "proxmox.known_hosts").exists()  # a dry run pins nothing
    sim.cluster.hosts["pve-2"].disks["/dev/sdb"].fstype = "xfs"  # preflight fails: no change
    code, _ = bootstrap(stack)
    pinned = (tmp_path / "proxmox.known_hosts").read_text()
    assert pinned.count("ssh-ed25519") == 3
    sim.replace_host_key("pve-2")
    start = len(sim.cluster.log)
    code, err = _run(capsys, "--stack", str(stack), "--ssh-key", str(key_file))
    assert code == 2
    [line] = [ln for ln in err if ln.startswith("freetier: error:")]
    assert line.startswith(
        f"freetier: error: {tmp_path / 'proxmox.known_hosts'}: pve-2 (127.0.0.3:"
    )
    assert "the host key changed since it was pinned" in line
    assert sim.cluster.log[start:] == []
    assert (tmp_path / "proxmox.known_hosts").read_text() == pinned
