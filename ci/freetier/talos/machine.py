"""The Talos machine configuration of each node, derived from the stack. Pure.

`node_patches(stack, node)` returns the documents the tofu/talos layer hands to the Talos
provider's `config_patches` for that node, in order; `freetier talos config` prints the same
list. They are written in the machine-config form of the pinned Talos line (`config_form`):
Talos 1.13 takes v1alpha1 patches for the machine and cluster, and separate documents for the
hostname (HostnameConfig), time (TimeSyncConfig), extension services and the ingress firewall,
the only form its published schema (pkg/machinery/config/schemas/config.schema.json at
v1.13.9) accepts: that schema has no `machine.network` or `machine.time` any more.

Talos 1.14 moves most of v1alpha1 into multi-document kinds (KubeNetworkConfig, KubeNodeConfig,
KubePrismConfig, KubeProxyConfig, ...: the "Kubernetes Multi-document Configuration" note in
hack/release.toml at v1.14.0-rc.1). That form is not written here yet, so a 1.14 stack is
refused with a clear error rather than given patches that Talos 1.14 would read differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from freetier.errors import ConfigError
from freetier.stack.compat import minor
from freetier.stack.model import Stack
from freetier.talos.cilium import OCI_METADATA_ADDRESS, talos_cluster_patch
from freetier.talos.firewall import firewall_documents

Role = Literal["controlplane", "worker"]
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

ConfigForm = Literal["v1alpha1-1.13"]


@dataclass(frozen=True)
class TalosNode:
    name: str
    role: Role


def config_form(talos_version: str) -> ConfigForm:
    """The machine-config form written for a Talos version; ConfigError for one not written."""
    if minor(talos_version) == (1, 13):
        return "v1alpha1-1.13"
    raise ConfigError(
        [
            f"versions.talos: {talos_version}: freetier writes the machine configuration of "
            "Talos 1.13 only (1.14 moved it to multi-document kinds); pin a v1.13 release"
        ]
    )


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
    config_form(stack.versions.talos)
    target = _find(stack, node)
    if stack.topology != "direct":
        raise ConfigError(
            [
                f"topology: {stack.topology}: Talos machine configuration is written for the "
                "direct topology only (Talos on the A1 instances)"
            ]
        )
    return [
        talos_cluster_patch(stack),
        _node_patch(stack, target),
        _hostname(target),
        _time_sync(),
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
        "nodeLabels": {
            f"{LABEL_PREFIX}/stack": stack.name,
            f"{LABEL_PREFIX}/node": node.name,
        },
        # The kubelet (and so the node's InternalIP) uses the VCN address, never the tailnet one.
        "kubelet": {"nodeIP": {"validSubnets": [stack.network.subnet_cidr]}},
    }
    patch: Document = {"machine": machine}
    if node.role == "controlplane":
        patch["cluster"] = {"apiServer": {"certSANs": [tailnet_name(node.name)]}}
    return patch


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
