"""The shared state of the simulated cluster and the rules Proxmox VE and Ceph enforce.

Rules (sources beside each): a join needs an existing, quorate cluster and the peer's root
password and certificate fingerprint (pve-cluster PVE::Cluster::Setup::join, pvecm.adoc);
quorum is a strict majority of the expected votes, a QDevice adding one vote to an even
cluster (pvecm.adoc "Corosync External Vote Support"); `pveceph osd create` refuses a disk in
use (pve-manager PVE/API2/Ceph/OSD.pm: "device '...' is already in use"); HEALTH_OK needs each
pool's `size` replicas on distinct hosts with up OSDs (the default CRUSH rule places replicas
on distinct hosts, docs.ceph.com rados/operations/crush-map); `qm migrate` needs the target
online and the VM's disks on shared storage (pve-docs qm.adoc, "Migration").
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Refused(Exception):
    """The simulated tool refuses: its message goes to stderr, exit code `code`."""

    def __init__(self, message: str, code: int = 255) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Disk:
    path: str
    fstype: str | None = None
    children: list[str] = field(default_factory=list)
    mountpoint: str | None = None


@dataclass
class SimHost:
    name: str
    address: str
    port: int = 0
    kvm: bool = True
    codename: str = "bookworm"
    machine: str = "aarch64"
    disks: dict[str, Disk] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)
    clock_offset: float = 0.0
    reachable: bool = True
    root_password: str | None = None
    fingerprint: str = field(
        default_factory=lambda: ":".join(secrets.token_hex(1).upper() for _ in range(32))
    )
    joined_at: float = 0.0
    mon: bool = False
    mgr: bool = False
    osds: dict[int, str] = field(default_factory=dict)  # OSD id -> device
    files: dict[str, str] = field(default_factory=dict)
    templates: list[str] = field(default_factory=list)


PVE_PACKAGES = {
    "proxmox-ve": "8.4.0",
    "pve-manager": "8.4.1",
    "pve-cluster": "8.1.0",
    "qemu-server": "8.3.12",
    "corosync": "3.1.9-pve1",
    "corosync-qdevice": "3.0.3-1",
}
CEPH_PACKAGES = {
    "ceph-mon": "19.2.1-pve3",
    "ceph-mgr": "19.2.1-pve3",
    "ceph-osd": "19.2.1-pve3",
    "ceph-volume": "19.2.1-pve3",
}


@dataclass
class Guest:
    vmid: int
    node: str
    kind: str  # qemu or lxc
    name: str
    storage: str
    status: str = "stopped"
    files: dict[str, str] = field(default_factory=dict)
    tailnet: bool = False


@dataclass
class Cluster:
    hosts: dict[str, SimHost]
    name: str | None = None
    members: list[str] = field(default_factory=list)
    qdevice: str | None = None
    ceph_network: str | None = None
    pools: dict[str, tuple[int, int]] = field(default_factory=dict)
    storages: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "local": {"storage": "local", "type": "dir", "content": "vztmpl,iso,backup"}
        }
    )
    guests: dict[int, Guest] = field(default_factory=dict)
    next_osd: int = 0
    # the simulated world
    times: dict[str, float] = field(default_factory=dict)  # "pvecm add" -> seconds
    fail_once: set[str] = field(default_factory=set)  # "pvecm add" fails the first time
    quorum_delay: float = 0.0  # a joined node counts in corosync only this long after
    drop_on: dict[str, str] = field(default_factory=dict)  # host -> command that drops it
    hooks: dict[str, Callable[[], None]] = field(default_factory=dict)  # after a command
    log: list[tuple[str, str]] = field(default_factory=list)  # (host, command) in order
    tailscale_key: str = ""

    # --- quorum -----------------------------------------------------------------------
    def online(self, name: str) -> bool:
        host = self.hosts[name]
        return host.reachable and time.monotonic() >= host.joined_at + self.quorum_delay

    def votes(self) -> tuple[int, int]:
        """(total votes of online members, expected votes)."""
        qdev = 1 if self.qdevice else 0
        total = sum(self.online(m) for m in self.members) + qdev
        return total, len(self.members) + qdev

    def quorate(self) -> bool:
        total, expected = self.votes()
        return bool(self.members) and total * 2 > expected

    # --- cluster ----------------------------------------------------------------------
    def create(self, host: SimHost, name: str) -> None:
        if host.name in self.members:
            raise Refused("cluster config '/etc/pve/corosync.conf' already exists")
        if self.name is not None:
            raise Refused("the simulator holds one cluster; it exists already")
        self.name, self.members = name, [host.name]
        host.joined_at = time.monotonic() - self.quorum_delay

    def join(self, host: SimHost, target: str, fingerprint: str, password: str) -> None:
        peer = next((h for h in self.hosts.values() if h.address == target), None)
        if peer is None or not peer.reachable:
            raise Refused(f"500 Can't connect to {target}:8006 (Connection refused)")
        if host.name in self.members:
            raise Refused("detected error: this host already is a cluster member")
        if peer.fingerprint != fingerprint.upper():
            raise Refused(f"fingerprint '{fingerprint}' not verified, abort!")
        if peer.root_password is None or password != peer.root_password:
            raise Refused("401 authentication failure")
        if self.name is None or peer.name not in self.members:
            raise Refused(
                f"error during cluster join: {peer.name} is not part of a cluster "
                "(create one first)"
            )
        if not self.quorate():
            raise Refused("cluster not ready - no quorum?")
        self.members.append(host.name)
        host.joined_at = time.monotonic()

    # --- ceph -------------------------------------------------------------------------
    def mons_in_quorum(self) -> bool:
        mons = [h for h in self.hosts.values() if h.mon]
        return bool(mons) and sum(h.reachable for h in mons) * 2 > len(mons)

    def osd_hosts(self) -> int:
        return sum(1 for h in self.hosts.values() if h.osds and h.reachable)

    def health(self) -> tuple[str, dict[str, Any]]:
        checks: dict[str, Any] = {}
        if not self.mons_in_quorum():
            checks["MON_DOWN"] = "monitors out of quorum"
        if not any(h.mgr and h.reachable for h in self.hosts.values()):
            checks["MGR_DOWN"] = "no active mgr"
        sizes = [s for s, _ in self.pools.values()] or [3]
        if self.osd_hosts() < max(sizes):
            checks["PG_DEGRADED"] = (
                f"OSDs on {self.osd_hosts()} host(s), fewer than the pools' size {max(sizes)}"
            )
        status = "HEALTH_OK" if not checks else "HEALTH_WARN"
        return status, {
            k: {"severity": "HEALTH_WARN", "summary": {"message": v}} for k, v in checks.items()
        }

    def osd_create(self, host: SimHost, device: str) -> int:
        if self.ceph_network is None:
            raise Refused("rados_connect failed - No such file or directory")
        if not self.mons_in_quorum():
            raise Refused("got timeout")
        disk = host.disks.get(device)
        if disk is None:
            raise Refused(f"unable to get device info for '{device}'")
        if disk.children or disk.fstype or disk.mountpoint:
            raise Refused(f"device '{device}' is already in use")
        osd = self.next_osd
        self.next_osd += 1
        host.osds[osd] = device
        disk.fstype = "LVM2_member"
        disk.children = [f"/dev/mapper/ceph--osd--block--{osd}"]
        return osd

    # --- guests -----------------------------------------------------------------------
    def migrate(self, source: SimHost, vmid: int, target: str) -> None:
        guest = self.guests.get(vmid)
        if guest is None or guest.node != source.name:
            raise Refused(
                f"Configuration file 'nodes/{source.name}/qemu-server/{vmid}.conf' does not exist"
            )
        if target not in self.members or not self.online(target):
            raise Refused(f"target node '{target}' is not online")
        if self.storages.get(guest.storage, {}).get("shared") != 1:
            raise Refused(
                f"can't migrate local disk '{guest.storage}:vm-{vmid}-disk-0': "
                "can't live migrate attached local disks without with-local-disks"
            )
        guest.node = target
