"""Cross-field rules of a parsed Stack: pure, each problem tied to the field path it is about."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from freetier.stack.compat import check_versions
from freetier.stack.model import (
    RESERVED_VMIDS,
    Instance,
    Proxmox,
    Stack,
    is_a1,
    is_flex,
    vm_id,
)
from freetier.stack.problem import Path, Problem

__all__ = ["Path", "Problem", "check_stack"]

# OCI's limit for VM.Standard.A1.Flex memory per OCPU (GB).
A1_MAX_GB_PER_OCPU = 64


def check_stack(stack: Stack) -> list[Problem]:
    """Every rule that spans fields; an empty list means the stack is consistent."""
    return [
        *_check_names(stack),
        *_check_network(stack),
        *_check_instances(stack),
        *_check_topology(stack),
        *_check_ingress(stack),
        *check_versions(stack.versions),
    ]


def _check_ingress(stack: Stack) -> Iterator[Problem]:
    ingress = stack.ingress
    if not ingress.enabled:
        return
    if stack.kubernetes.kube_proxy:
        # Cilium's Gateway API needs its kube-proxy replacement (docs.cilium.io, "Gateway API
        # Support", prerequisites).
        yield Problem(
            ("ingress", "enabled"),
            "Cilium's Gateway API needs kubernetes.kube_proxy: false (kube-proxy replacement)",
        )
    if stack.topology == "direct" and not stack.apps.oci_ccm:
        yield Problem(
            ("ingress", "enabled"),
            "the OCI cloud controller manager creates the load balancer: set apps.oci_ccm: true "
            "or ingress.enabled: false",
        )
    if ingress.hostname is not None and not stack.apps.cert_manager:
        yield Problem(
            ("ingress", "hostname"),
            "cert-manager issues the HTTPS certificate: set apps.cert_manager: true or drop "
            "the hostname",
        )


def _check_names(stack: Stack) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, inst in enumerate(stack.instances):
        if inst.name in seen:
            yield Problem(("instances", index, "name"), f"duplicate name {inst.name!r}")
        seen.add(inst.name)
    if stack.bastion.enabled and stack.bastion.name in seen:
        yield Problem(("bastion", "name"), f"{stack.bastion.name!r} is also an instance name")


# As tofu/oci's variables.tf validates admin_cidrs: 0.0.0.0/0 and anything wider than /8 is out.
MIN_ADMIN_PREFIX = 8


def _check_network(stack: Stack) -> Iterator[Problem]:
    net = stack.network
    vcn = ipaddress.IPv4Network(net.vcn_cidr)
    subnet = ipaddress.IPv4Network(net.subnet_cidr)
    pod = ipaddress.IPv4Network(net.pod_cidr)
    service = ipaddress.IPv4Network(net.service_cidr)
    if not subnet.subnet_of(vcn):
        yield Problem(("network", "subnet_cidr"), f"{subnet} is not inside vcn_cidr {vcn}")
    for field, block in (("pod_cidr", pod), ("service_cidr", service)):
        if block.overlaps(vcn):
            yield Problem(
                ("network", field), f"{block} overlaps vcn_cidr {vcn}; it must lie outside the VCN"
            )
    if pod.overlaps(service):
        yield Problem(("network", "service_cidr"), f"{service} overlaps pod_cidr {pod}")
    seen: list[ipaddress.IPv4Network] = []
    for index, text in enumerate(net.admin_cidrs):
        block = ipaddress.IPv4Network(text)
        if block.prefixlen < MIN_ADMIN_PREFIX:
            yield Problem(
                ("network", "admin_cidrs", index),
                f"{block} is wider than /{MIN_ADMIN_PREFIX}: the admin ports (SSH, the Talos and "
                "Kubernetes APIs) must stay closed to the internet",
            )
        if block in seen:
            yield Problem(("network", "admin_cidrs", index), f"{block} is listed twice")
        seen.append(block)


def _check_instances(stack: Stack) -> Iterator[Problem]:
    if (
        stack.bastion.enabled
        and stack.bastion.availability_domain not in stack.oci.availability_domains
    ):
        yield Problem(
            ("bastion", "availability_domain"),
            f"AD {stack.bastion.availability_domain} is not in oci.availability_domains",
        )
    for index, inst in enumerate(stack.instances):
        for problem in _check_instance(inst, stack.oci.availability_domains):
            yield Problem(("instances", index, *problem.path), problem.message)


def _check_instance(inst: Instance, ads: list[int]) -> Iterator[Problem]:
    if inst.availability_domain not in ads:
        yield Problem(
            ("availability_domain",),
            f"AD {inst.availability_domain} is not in oci.availability_domains {ads}",
        )
    if not is_flex(inst.shape):
        for field in ("ocpus", "memory_gb"):
            if getattr(inst, field) is not None:
                yield Problem((field,), f"{inst.shape} is a fixed shape; remove {field}")
        return
    if inst.ocpus is None or inst.memory_gb is None:
        missing = "ocpus" if inst.ocpus is None else "memory_gb"
        yield Problem((missing,), f"required for the flexible shape {inst.shape}")
        return
    if is_a1(inst.shape):
        if not inst.ocpus.is_integer():
            yield Problem(("ocpus",), f"A1 OCPUs must be a whole number (got {inst.ocpus:g})")
        elif not inst.ocpus <= inst.memory_gb <= inst.ocpus * A1_MAX_GB_PER_OCPU:
            yield Problem(
                ("memory_gb",),
                f"{inst.memory_gb} GB is outside 1-{A1_MAX_GB_PER_OCPU} GB per OCPU "
                f"for {inst.ocpus:g} OCPU",
            )


def _check_topology(stack: Stack) -> Iterator[Problem]:
    if stack.topology == "direct":
        yield from _check_direct(stack)
    else:
        yield from _check_proxmox(stack)


def _check_direct(stack: Stack) -> Iterator[Problem]:
    for index, inst in enumerate(stack.instances):
        if inst.role == "proxmox-host":
            yield Problem(("instances", index, "role"), "proxmox-host needs topology: proxmox")
        elif not is_a1(inst.shape):
            yield Problem(
                ("instances", index, "shape"),
                f"the direct topology runs Talos's arm64 image on A1 shapes, not {inst.shape}",
            )
    if stack.proxmox is not None:
        yield Problem(("proxmox",), "only used with topology: proxmox")
    controlplanes = [i for i in stack.instances if i.role == "controlplane"]
    yield from _check_controlplanes(len(controlplanes), ("instances",))


def _check_controlplanes(count: int, path: Path) -> Iterator[Problem]:
    if count == 0:
        yield Problem(path, "at least one controlplane is required")
    elif count % 2 == 0:
        # etcd needs a majority: 2 members tolerate no more failures than 1, 4 no more than 3.
        yield Problem(path, f"{count} controlplanes: use an odd number, etcd needs a majority")


def _check_proxmox(stack: Stack) -> Iterator[Problem]:
    if stack.proxmox is None or not stack.proxmox.hosts:
        yield Problem(("proxmox", "hosts"), "topology proxmox needs at least one host")
        return
    pve = stack.proxmox
    yield from _check_hosts(pve, {i.name: i for i in stack.instances})
    for index, inst in enumerate(stack.instances):
        if inst.role != "proxmox-host":
            yield Problem(
                ("instances", index, "role"),
                "with topology proxmox, Talos runs in proxmox.talos_vms; instances are hosts",
            )
    yield from _check_vms(pve)
    yield from _check_ceph(pve)


def _check_ceph(pve: Proxmox) -> Iterator[Problem]:
    ceph = pve.ceph
    if not ceph.enabled:
        return
    if ceph.replicas > len(pve.hosts):
        yield Problem(
            ("proxmox", "ceph", "replicas"),
            f"{ceph.replicas} replicas need at least {ceph.replicas} hosts "
            f"(have {len(pve.hosts)}); Ceph would never reach HEALTH_OK",
        )
    if ceph.min_size is not None and ceph.min_size > ceph.replicas:
        yield Problem(
            ("proxmox", "ceph", "min_size"),
            f"{ceph.min_size} is more than replicas ({ceph.replicas})",
        )
    with_osds = sum(bool(h.osd_devices) for h in pve.hosts)
    if with_osds < min(ceph.replicas, len(pve.hosts)):
        yield Problem(
            ("proxmox", "hosts"),
            f"{with_osds} host(s) list osd_devices; the pool's {ceph.replicas} replicas need "
            f"OSDs on {ceph.replicas} distinct hosts",
        )


def _check_hosts(pve: Proxmox, instances: dict[str, Instance]) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, host in enumerate(pve.hosts):
        path: Path = ("proxmox", "hosts", index)
        if host.name in seen:
            yield Problem((*path, "name"), f"duplicate host {host.name!r}")
        seen.add(host.name)
        if (host.address is None) == (host.instance is None):
            yield Problem(path, "set exactly one of address or instance")
        elif host.instance is not None:
            inst = instances.get(host.instance)
            if inst is None:
                yield Problem((*path, "instance"), f"no instance named {host.instance!r}")
            elif inst.role != "proxmox-host":
                yield Problem((*path, "instance"), f"{host.instance!r} has role {inst.role}")


def _check_vm_network(pve: Proxmox) -> Iterator[Problem]:
    """Every VM's address and the gateway inside the VM network, none the other's."""
    vmnet = pve.vm_network
    size = ipaddress.ip_network(vmnet.cidr).num_addresses
    last = vmnet.first_host + len(pve.talos_vms) - 1
    if pve.talos_vms and last >= size - 1:
        yield Problem(
            ("proxmox", "vm_network", "cidr"),
            f"{vmnet.cidr} has no host number {last} for talos_vms[{len(pve.talos_vms) - 1}] "
            f"(first_host {vmnet.first_host})",
        )
    if vmnet.gateway_host >= size - 1:
        yield Problem(("proxmox", "vm_network", "gateway_host"), f"not a host of {vmnet.cidr}")
    elif vmnet.first_host <= vmnet.gateway_host <= last:
        yield Problem(
            ("proxmox", "vm_network", "gateway_host"),
            f"host number {vmnet.gateway_host} is also a Talos VM's address",
        )


def _check_vms(pve: Proxmox) -> Iterator[Problem]:
    hosts = {h.name for h in pve.hosts}
    seen: set[str] = set()
    for index, vm in enumerate(pve.talos_vms):
        if vm.name in seen:
            yield Problem(("proxmox", "talos_vms", index, "name"), f"duplicate VM {vm.name!r}")
        seen.add(vm.name)
        if vm.host not in hosts:
            yield Problem(("proxmox", "talos_vms", index, "host"), f"no host named {vm.host!r}")
    used: dict[int, str] = {}
    for index, vm in enumerate(pve.talos_vms):
        vmid = vm_id(pve, index)
        path: Path = ("proxmox", "talos_vms", index, "vmid")
        if vmid in used:
            yield Problem(path, f"VM id {vmid} is also {used[vmid]}'s")
        elif vmid in RESERVED_VMIDS:
            yield Problem(path, f"VM id {vmid} is {RESERVED_VMIDS[vmid]}")
        used.setdefault(vmid, vm.name)
    yield from _check_vm_network(pve)
    controlplanes = sum(vm.role == "controlplane" for vm in pve.talos_vms)
    yield from _check_controlplanes(controlplanes, ("proxmox", "talos_vms"))
