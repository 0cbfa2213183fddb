"""The bootstrap against the simulator: a stack whose hosts are the simulated ones, the key
they accept, and a way to run `freetier proxmox bootstrap` in-process."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import yaml

from freetier.cli import main
from tests.conftest import PROXMOX_EXAMPLE
from tests.fakes.pve.server import Simulator, make_hosts, simulate
from tests.fakes.pve.state import Cluster

FAST_WAITS = ("--wait", "0.05", "--quorum-wait", "0.05")


@pytest.fixture(scope="session")
def client_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")


@pytest.fixture
def key_file(tmp_path: Path, client_key: asyncssh.SSHKey) -> Path:
    path = tmp_path / "id_ed25519"
    path.write_bytes(client_key.export_private_key("openssh"))
    path.chmod(0o600)
    return path


def write_stack(folder: Path, cluster: Cluster, **proxmox: Any) -> Path:
    """The proxmox example with its hosts replaced by the simulated ones (by address)."""
    data = yaml.safe_load(PROXMOX_EXAMPLE.read_text(encoding="utf-8"))
    data["proxmox"]["hosts"] = [
        {"name": h.name, "address": h.address, "ssh_port": h.port, "osd_devices": ["/dev/sdb"]}
        for h in cluster.hosts.values()
    ]
    names = list(cluster.hosts)
    data["proxmox"]["talos_vms"] = [
        vm for vm in data["proxmox"]["talos_vms"] if vm["host"] in names
    ]
    data["proxmox"]["ceph"]["replicas"] = min(3, len(names))
    data["proxmox"].update(proxmox)
    path = folder / "stack.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def sim(client_key: asyncssh.SSHKey) -> Iterator[Simulator]:
    cluster = Cluster(make_hosts(3))
    with simulate(cluster, client_key) as simulator:
        yield simulator


Runner = Callable[..., tuple[int, dict[str, Any]]]


@pytest.fixture
def bootstrap(tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]) -> Runner:
    def run(stack: Path, *extra: str) -> tuple[int, dict[str, Any]]:
        code = main(
            [
                "proxmox",
                "bootstrap",
                "--stack",
                str(stack),
                "--ssh-key",
                str(key_file),
                "--format",
                "json",
                *FAST_WAITS,
                *extra,
            ]
        )
        out = capsys.readouterr().out
        return code, json.loads(out) if out.strip() else {}

    return run


def statuses(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(s["step"], s["host"]): s["status"] for s in report["steps"]}
