"""The Talos machine configuration of each node, derived from the stack. Pure.

`node_patches(stack, node)` returns the documents the tofu/talos layer hands to the Talos
provider's `config_patches` for that node, in order; `freetier talos config` prints the same
list. They are written in the machine-config form of the pinned Talos line
(`freetier.talos.form.config_form`):

- Talos 1.13 takes v1alpha1 patches for the machine and cluster, and separate documents for the
  hostname (HostnameConfig), time (TimeSyncConfig), extension services and the ingress
  firewall, the only form its published schema (pkg/machinery/config/schemas/
  config.schema.json at v1.13.9) accepts: that schema has no `machine.network` or
  `machine.time` any more.
- Talos 1.14 moves the Kubernetes settings into multi-document kinds, and its generated
  configuration holds those kinds, which refuse the v1alpha1 fields they replace (see
  `freetier.talos.form`). The node's part: kubelet node IP and node labels in KubeNodeConfig,
  the API server's extra certificate SANs in KubeAPIServerConfig, the install disk in
  UnattendedInstallConfig (which replaces `machine.install`; the two are exclusive), and the
  Talos API's certSANs, still `machine.certSANs` in 1.14. Hostname, time, extension service
  and firewall documents are the same kinds as in 1.13 (the 1.14 schema holds them unchanged).
  Sources: pkg/machinery/config/types/{k8s,runtime,v1alpha1} at v1.14.0-rc.1, the newest 1.14
  tag reachable from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from freetier.errors import ConfigError
from freetier.stack.model import Stack
from freetier.talos.cilium import (
    DOC_VERSION,
    OCI_METADATA_ADDRESS,
    Role,
    talos_cluster_documents,
)
from freetier.talos.firewall import firewall_documents, node_subnet
from freetier.talos.form import V1ALPHA1, config_form

Document = dict[str, Any]

# The Image Factory name of the Tailscale system extension (siderolabs/extensions,
# network/tailscale), and the extension service it runs.
TAILSCALE_EXTENSION = "siderolabs/tailscale"
TAILSCALE_SERVICE = "tailscale"
# The auth key is never a value in the repository: the patch carries this placeholder, and the
# tofu/talos layer replaces it with its sensitive variable `tailscale_authkey` (templatefile
# syntax, so `templatefile()` or `replace()` fill it) before the patch reaches the provider.
TAILSCALE_AUTHKEY_VARIABLE = "tailscale_authkey"
TAILSCALE_AUTHKEY_PLACEHOLDER = "${" + TAILSCALE_AUTHKEY_VARIABLE + "}"

# OCI's NTP service answers on the metadata address from every instance ("Configuring the
# Oracle Cloud Infrastructure NTP Service for an Instance", docs.oracle.com, Compute).
OCI_NTP_SERVER = OCI_METADATA_ADDRESS
# A1 instances launched PARAVIRTUALIZED see their boot volume as the first SCSI disk; it is also
# `talosctl gen config`'s default install disk (cmd/talosctl/cmd/mgmt/gen/config.go, v1.13.9).
INSTALL_DISK = "/dev/sda"
# Node labels kubelet may set on itself: our own prefix, outside the kubernetes.io namespaces
# the NodeRestriction admission plugin keeps for itself.
LABEL_PREFIX = "freetier.dev"


@dataclass(frozen=True)
class TalosNode:
    name: str
    role: Role


def talos_nodes(stack: Stack) -> list[TalosNode]:
    """The nodes that run Talos, in stack order."""
    if stack.topology == "proxmox":
        vms = stack.proxmox.talos_vms if stack.proxmox else []
        return [TalosNode(vm.name, vm.role) for vm in vms]
    return [
        TalosNode(i.name, i.role) for i in stack.instances if i.role in ("controlplane", "worker")
    ]


def node_names(stack: Stack) -> list[str]:
    """The names `node_patches` accepts, in stack order."""
    return [n.name for n in talos_nodes(stack)]


def schematic(stack: Stack) -> dict[str, Any]:
    """The Image Factory schematic of the nodes' image: the Tailscale system extension."""
    del stack  # every node of every stack joins the tailnet
    return {"customization": {"systemExtensions": {"officialExtensions": [TAILSCALE_EXTENSION]}}}


def node_patches(stack: Stack, node: str) -> list[dict[str, Any]]:
    """The config patches of `node`, in the order the provider applies them."""
    form = config_form(stack.versions.talos)
    target = _find(stack, node)
    own = [_node_patch(stack, target)] if form == V1ALPHA1 else _node_documents(stack, target)
    return [
        *talos_cluster_documents(stack, target.role),
        *own,
        _hostname(target),
        # OCI's NTP answers on the metadata address of an OCI instance only; a Proxmox VM keeps
        # Talos's default time servers.
        *([_time_sync()] if stack.topology == "direct" else []),
        _tailscale_service(target),
        *firewall_documents(stack, target.role),
    ]


def tailnet_name(node: str) -> str:
    """The node's MagicDNS short name: the extension registers it with TS_HOSTNAME."""
    return node


def _find(stack: Stack, node: str) -> TalosNode:
    nodes = talos_nodes(stack)
    for candidate in nodes:
        if candidate.name == node:
            return candidate
    known = ", ".join(n.name for n in nodes) or "none"
    raise ConfigError([f"no Talos node named {node!r} in the stack (known nodes: {known})"])


def _node_patch(stack: Stack, node: TalosNode) -> Document:
    machine: Document = {
        "install": {"disk": INSTALL_DISK},
        "certSANs": [tailnet_name(node.name)],
        "nodeLabels": _node_labels(stack, node),
        # The kubelet (and so the node's InternalIP) uses the VCN address, never the tailnet one.
        "kubelet": {"nodeIP": {"validSubnets": [node_subnet(stack)]}},
    }
    patch: Document = {"machine": machine}
    if node.role == "controlplane":
        patch["cluster"] = {"apiServer": {"certSANs": [tailnet_name(node.name)]}}
    return patch


def _node_documents(stack: Stack, node: TalosNode) -> list[Document]:
    """`_node_patch` as Talos 1.14 documents."""
    documents: list[Document] = [
        # The Talos API's certificate: still a v1alpha1 field in 1.14 (not deprecated).
        {"machine": {"certSANs": [tailnet_name(node.name)]}},
        # The selector `gen config` writes for an install disk (generate/init.go:
        # `disk.dev_path == %q`), so it merges into the provider's own document unchanged.
        {
            "apiVersion": DOC_VERSION,
            "kind": "UnattendedInstallConfig",
            "provisioning": {"diskSelector": {"match": f'disk.dev_path == "{INSTALL_DISK}"'}},
        },
        {
            "apiVersion": DOC_VERSION,
            "kind": "KubeNodeConfig",
            # Labels merge into those Talos sets on control planes (role, LB exclusion).
            "labels": _node_labels(stack, node),
            "nodeIP": {"validSubnets": [node_subnet(stack)]},
        },
    ]
    if node.role == "controlplane":
        documents.append(
            {
                "apiVersion": DOC_VERSION,
                "kind": "KubeAPIServerConfig",
                "certExtraSANs": [tailnet_name(node.name)],
            }
        )
    return documents


def _node_labels(stack: Stack, node: TalosNode) -> dict[str, str]:
    return {f"{LABEL_PREFIX}/stack": stack.name, f"{LABEL_PREFIX}/node": node.name}


def _hostname(node: TalosNode) -> Document:
    # `auto: off` with a static name: HostnameConfig refuses `hostname` beside any other `auto`.
    return {
        "apiVersion": "v1alpha1",
        "kind": "HostnameConfig",
        "auto": "off",
        "hostname": node.name,
    }


def _time_sync() -> Document:
    return {
        "apiVersion": "v1alpha1",
        "kind": "TimeSyncConfig",
        "ntp": {"servers": [OCI_NTP_SERVER]},
    }


def _tailscale_service(node: TalosNode) -> Document:
    # Environment names from the extension's README (siderolabs/extensions, network/tailscale).
    return {
        "apiVersion": "v1alpha1",
        "kind": "ExtensionServiceConfig",
        "name": TAILSCALE_SERVICE,
        "environment": [
            f"TS_AUTHKEY={TAILSCALE_AUTHKEY_PLACEHOLDER}",
            f"TS_HOSTNAME={tailnet_name(node.name)}",
            # A reboot keeps the node's identity instead of logging in again with a used key.
            "TS_AUTH_ONCE=true",
        ],
    }
