"""stack.yaml (and the upstream layer's outputs) -> the variables of a tofu layer
(stack.auto.tfvars.json). Pure."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from typing import Any

import yaml

from freetier.errors import ConfigError
from freetier.guard.profile import Profile, load_profile
from freetier.pve.inventory import build_inventory
from freetier.stack import Stack
from freetier.stack.model import Proxmox, vm_address, vm_id
from freetier.talos.cilium import cilium_bootstrap, talos_cluster_documents
from freetier.talos.form import config_form
from freetier.talos.machine import node_names, node_patches, schematic, talos_nodes

TFVARS_FILE = "stack.auto.tfvars.json"


def derive_oci_vars(stack: Stack, profile: Profile) -> dict[str, Any]:
    """Every input of tofu/oci that stack.yaml decides; image OCIDs and keys come elsewhere."""
    return {
        "name": stack.name,
        "region": stack.oci.region,
        "compartment_ocid": stack.oci.compartment_ocid,
        "availability_domains": list(stack.oci.availability_domains),
        "instances": {
            i.name: {
                "role": i.role,
                "shape": i.shape,
                "ocpus": i.ocpus,
                "memory_gb": i.memory_gb,
                "boot_volume_gb": i.boot_volume_gb,
                "availability_domain": i.availability_domain,
            }
            for i in stack.instances
        },
        "bastion": {
            "enabled": stack.bastion.enabled,
            "name": stack.bastion.name,
            "shape": stack.bastion.shape,
            "boot_volume_gb": stack.bastion.boot_volume_gb,
            "availability_domain": stack.bastion.availability_domain,
        },
        "vcn_cidr": stack.network.vcn_cidr,
        "subnet_cidr": stack.network.subnet_cidr,
        "admin_cidrs": list(stack.network.admin_cidrs),
        "budget_alert_email": stack.budget.alert_email,
        "budget_amount": stack.budget.amount,
        "free_tier_limits": {
            name: limit.limit
            for name, limit in profile.limits.items()
            if name
            in (
                "a1_ocpus",
                "a1_memory_gb",
                "a1_instances",
                "micro_instances",
                "block_storage_gb",
                "volume_backups",
            )
        },
    }


# The outputs of tofu/oci (outputs.tf) that the talos layer reads: each node's addresses.
PRIVATE_IPS = "instance_private_ips"
PUBLIC_IPS = "instance_public_ips"
APPLY_OCI_FIRST = "apply the oci layer first (freetier apply --layer oci, or merge its plan)"
KUBERNETES_API_PORT = 6443


class UpstreamNotApplied(ConfigError):
    """The layer a layer reads has no outputs for it yet: apply that one first. Exit code 2."""


def instance_addresses(outputs: Mapping[str, object]) -> dict[str, tuple[str, str]]:
    """Instance name -> (private, public or "") from the oci layer's outputs."""
    private, public = outputs.get(PRIVATE_IPS), outputs.get(PUBLIC_IPS)
    private = private if isinstance(private, dict) else {}
    public = public if isinstance(public, dict) else {}
    return {
        name: (str(ip), str(public.get(name) or ""))
        for name, ip in private.items()
        if isinstance(ip, str)
    }


def node_addresses(stack: Stack, oci_outputs: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Each Talos node's private and public address, from the oci layer's outputs (name ->
    value): everything the talos layer takes from upstream. ConfigError, saying to apply the
    oci layer first, when the outputs are missing or lack a node of the stack. For the proxmox
    topology the nodes are VMs whose static addresses the stack decides (`vm_address`): no
    public address, nothing read upstream."""
    if stack.topology == "proxmox" and stack.proxmox is not None:
        pve = stack.proxmox
        return {
            vm.name: {"private_ip": vm_address(pve, i), "public_ip": ""}
            for i, vm in enumerate(pve.talos_vms)
        }
    private, public = oci_outputs.get(PRIVATE_IPS), oci_outputs.get(PUBLIC_IPS)
    if not isinstance(private, dict) or not isinstance(public, dict):
        raise UpstreamNotApplied([f"tofu/oci: no {PRIVATE_IPS} output yet: {APPLY_OCI_FIRST}"])
    addresses: dict[str, dict[str, str]] = {}
    for name in node_names(stack):
        ip, public_ip = private.get(name), public.get(name)
        if not isinstance(ip, str) or not ip:
            raise UpstreamNotApplied(
                [f"{name}: no address in tofu/oci's outputs yet: {APPLY_OCI_FIRST}"]
            )
        addresses[name] = {"private_ip": ip, "public_ip": public_ip or ""}
    return addresses


def derive_talos_vars(stack: Stack, oci_outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Every input of tofu/talos but the Tailscale auth key (a sensitive variable, from a
    secret, never in a file): the versions and the machine-config form of the Talos line
    (`config_form`: main.tf writes its inline-manifest patch in that form), the cluster
    endpoint on the first control plane's private address, the cluster patches every node of
    a role gets (`role_patches`, handed to each role's machine configuration), and per node
    its role, addresses and its other patches. Patches are YAML documents of what
    `freetier.talos.machine.node_patches` gives."""
    addresses = node_addresses(stack, oci_outputs)
    roles = {n.name: n.role for n in talos_nodes(stack)}
    control_planes = [n for n in addresses if roles[n] == "controlplane"]
    if not control_planes:
        raise ConfigError(
            [
                "proxmox.talos_vms: no controlplane VM: the talos layer needs one"
                if stack.topology == "proxmox"
                else "instances: no controlplane node: the talos layer needs one"
            ]
        )
    first = control_planes[0]
    cluster = {
        role: [_yaml(d) for d in talos_cluster_documents(stack, role)]
        for role in sorted({roles[n] for n in addresses})
    }
    return {
        "topology": stack.topology,
        "proxmox": proxmox_vms(stack, oci_outputs),
        "cluster_name": stack.name,
        "talos_version": stack.versions.talos,
        "talos_config_form": config_form(stack.versions.talos),
        "kubernetes_version": stack.versions.kubernetes.removeprefix("v"),
        "cluster_endpoint": f"https://{addresses[first]['private_ip']}:{KUBERNETES_API_PORT}",
        "bootstrap_node": first,
        # The Cilium release the control planes' inline manifest holds (main.tf renders it).
        "cilium": cilium_bootstrap(stack),
        "role_patches": cluster,
        "nodes": {
            name: {
                "role": roles[name],
                **where,
                "config_patches": [
                    text
                    for text in map(_yaml, node_patches(stack, name))
                    if text not in cluster[roles[name]]  # the role's configuration has it
                ],
            }
            for name, where in addresses.items()
        },
    }


# Proxmox VE storages the VMs' files go to: the Talos image (content "iso", enabled on `local` by
# default) and the cloud-init user-data snippets (content "snippets", which must be enabled on
# `local`: `pvesm set local --content iso,vztmpl,backup,snippets`).
PVE_FILE_STORE = "local"


def proxmox_vms(stack: Stack, oci_outputs: Mapping[str, Any]) -> dict[str, Any] | None:
    """What tofu/talos's proxmox.tf needs of the stack: the image (architecture, the Image
    Factory schematic as YAML), the VM network, the Ceph storage (`pveceph pool create
    --add_storages` names the storage after the pool) and per VM its host, id, size and static
    address; per host where the provider's SSH (snippet uploads) reaches it, as `proxmox
    bootstrap` does (`build_inventory`). None for the direct topology."""
    if stack.topology != "proxmox" or stack.proxmox is None:
        return None
    pve: Proxmox = stack.proxmox
    if not isinstance(oci_outputs.get(PRIVATE_IPS), dict) and any(h.instance for h in pve.hosts):
        # the hosts are the oci layer's instances: the first pull request plans nothing here
        raise UpstreamNotApplied([f"tofu/oci: no {PRIVATE_IPS} output yet: {APPLY_OCI_FIRST}"])
    inventory = build_inventory(stack, instance_addresses(oci_outputs))
    vmnet = pve.vm_network
    prefix = vmnet.cidr.split("/")[1]
    gateway = str(ipaddress.ip_network(vmnet.cidr)[vmnet.gateway_host])
    return {
        "arch": pve.arch,
        "schematic": yaml.safe_dump(schematic(stack), sort_keys=True),
        "file_store": PVE_FILE_STORE,
        "vm_store": pve.ceph.pool,
        "bridge": vmnet.bridge,
        "gateway": gateway,
        "tcg": pve.allow_tcg,
        "hosts": {
            h.name: {"address": h.address, "port": h.port, "user": h.user} for h in inventory.hosts
        },
        "vms": {
            vm.name: {
                "node_name": vm.host,
                "vm_id": vm_id(pve, i),
                "cores": vm.cores,
                "memory_mb": vm.memory_gb * 1024,
                "disk_gb": vm.disk_gb,
                "address": f"{vm_address(pve, i)}/{prefix}",
            }
            for i, vm in enumerate(pve.talos_vms)
        },
    }


def _yaml(patch: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(patch), sort_keys=True)


def derive_vars(
    stack: Stack, layer: str, upstream: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The layer's variables; `upstream`: the outputs of the layer it reads (name -> value)."""
    if layer == "oci":
        return derive_oci_vars(stack, load_profile(stack.free_tier.profile))
    if layer == "talos":
        return derive_talos_vars(stack, upstream or {})
    raise ConfigError([f"{layer}: no such tofu layer"])


def tfvars_text(stack: Stack, layer: str = "oci", upstream: Mapping[str, Any] | None = None) -> str:
    """The file's exact text: stable key order, so --check and git diffs mean something."""
    return json.dumps(derive_vars(stack, layer, upstream), indent=2, sort_keys=True) + "\n"
