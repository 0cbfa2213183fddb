"""What `proxmox bootstrap` works on, derived from stack.yaml and the oci layer's outputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from freetier.errors import ConfigError
from freetier.stack import Stack
from freetier.stack.model import TAILSCALE_VMID_BASE, ceph_min_size

# An instance's addresses from the oci layer's outputs: name -> (private, public or "").
Addresses = Mapping[str, tuple[str, str]]


@dataclass(frozen=True)
class PveHost:
    name: str  # as in stack.yaml
    index: int
    address: str  # where SSH reaches it
    link: str  # its cluster address: corosync link0 and the Ceph network
    port: int
    user: str
    osd_devices: tuple[str, ...]
    talos_vms: tuple[str, ...]

    @property
    def lxc_vmid(self) -> int:
        return TAILSCALE_VMID_BASE + self.index


@dataclass(frozen=True)
class Inventory:
    cluster: str
    hosts: tuple[PveHost, ...]
    network: str  # the Ceph public network
    ceph: bool
    pool: str
    size: int
    min_size: int
    allow_tcg: bool
    tailscale: bool
    qdevice: str | None  # the QDevice host's address when the host count is even

    @property
    def first(self) -> PveHost:
        return self.hosts[0]

    def host(self, name: str) -> PveHost:
        return next(h for h in self.hosts if h.name == name)


def build_inventory(stack: Stack, addresses: Addresses) -> Inventory:
    """The hosts with their addresses: `address:` as written, `instance:` from the oci layer's
    outputs (public address for SSH, private for the cluster). ConfigError when the stack is
    not a proxmox one or an instance has no address yet."""
    pve = stack.proxmox
    if stack.topology != "proxmox" or pve is None or not pve.hosts:
        raise ConfigError(["topology: proxmox bootstrap needs topology: proxmox with hosts"])
    private = {name: pair[0] for name, pair in addresses.items() if pair[0]}
    public = {name: pair[1] for name, pair in addresses.items() if pair[1]}
    hosts = []
    for index, host in enumerate(pve.hosts):
        if host.address is not None:
            address = link = host.address
        else:
            # the stack's checks: exactly one of address and instance is set
            instance = host.instance or ""
            link = private.get(instance, "")
            address = public.get(instance) or link
            if not link:
                raise ConfigError(
                    [
                        f"proxmox.hosts[{index}].instance: {instance!r} has no address in "
                        "the oci layer's outputs: apply the oci layer first"
                    ]
                )
        vms = tuple(vm.name for vm in pve.talos_vms if vm.host == host.name)
        hosts.append(
            PveHost(
                host.name,
                index,
                address,
                link,
                host.ssh_port,
                host.ssh_user,
                tuple(host.osd_devices),
                vms,
            )
        )
    qdevice = None
    if len(hosts) % 2 == 0:
        qdevice = private.get(stack.bastion.name) if stack.bastion.enabled else None
        if not qdevice:
            raise ConfigError(
                [
                    f"proxmox.hosts: {len(hosts)} hosts need a QDevice for quorum, on the "
                    "bastion: enable it and apply the oci layer (or use an odd number of hosts)"
                ]
            )
    return Inventory(
        cluster=stack.name,
        hosts=tuple(hosts),
        network=stack.network.subnet_cidr,
        ceph=pve.ceph.enabled,
        pool=pve.ceph.pool,
        size=pve.ceph.replicas,
        min_size=ceph_min_size(pve.ceph),
        allow_tcg=pve.allow_tcg,
        tailscale=pve.tailscale_lxc,
        qdevice=qdevice,
    )


def select_hosts(inventory: Inventory, names: Sequence[str]) -> tuple[PveHost, ...]:
    """The hosts `--host` names (all when none); ConfigError for a name the stack lacks."""
    if not names:
        return inventory.hosts
    known = {h.name for h in inventory.hosts}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            [
                f"--host {n}: not a host of the stack (hosts: {', '.join(sorted(known))})"
                for n in unknown
            ]
        )
    return tuple(h for h in inventory.hosts if h.name in names)
