"""The Talos ingress firewall of a node: block by default, open only what nodes need. Pure.

Documents as in Talos's "Ingress Firewall" guide (docs.siderolabs.com/talos/v1.13/networking/
ingress-firewall): one NetworkDefaultActionConfig with `ingress: block`, then one
NetworkRuleConfig per port set. In block mode Talos still accepts loopback, established
connections, rate-limited ICMP and traffic between the pod and service subnets; everything
else must be opened here. Encapsulated pod traffic is not covered by that, so Cilium's VXLAN
port is opened explicitly, as the guide says.

Sources of each rule: the nodes' subnet (`node_subnet`: the VCN subnet `network.subnet_cidr`,
where every node and the bastion live, or for the proxmox topology the Talos VMs' network
`proxmox.vm_network.cidr`) and, for the two APIs people and CI use, the tailnet. Nothing opens
to the internet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from freetier.ingress import ingress_enabled
from freetier.stack.model import Stack

# Tailscale gives every tailnet device an address in the CGNAT block 100.64.0.0/10
# (tailscale.com/kb/1015/100.x-addresses); the Talos and Kubernetes APIs are reached from there.
TAILNET_CIDR = "100.64.0.0/10"

APID_PORT = 50000
TRUSTD_PORT = 50001
ETCD_PORTS = "2379-2380"
KUBELET_PORT = 10250
KUBERNETES_API_PORT = 6443
# Cilium's defaults: VXLAN on UDP 8472 and the cluster health checks on TCP 4240
# (docs.cilium.io, "System Requirements", firewall rules).
CILIUM_VXLAN_PORT = 8472
CILIUM_HEALTH_PORT = 4240
# Kubernetes's default Service node port range (kube-apiserver --service-node-port-range): the
# OCI load balancer of the ingress Gateway reaches its Service on the nodes there.
NODE_PORTS = "30000-32767"


@dataclass(frozen=True)
class Rule:
    name: str
    ports: tuple[int | str, ...]
    protocol: Literal["tcp", "udp"]
    controlplane_only: bool
    from_tailnet: bool = False


# Which port each role opens to whom. etcd is for control planes only; its peers are not known
# by address until the oci layer applies, so the rule admits the VCN subnet (etcd itself still
# demands its peers' client certificates).
RULES: tuple[Rule, ...] = (
    Rule("apid-ingress", (APID_PORT,), "tcp", controlplane_only=False, from_tailnet=True),
    Rule("trustd-ingress", (TRUSTD_PORT,), "tcp", controlplane_only=True),
    Rule("etcd-ingress", (ETCD_PORTS,), "tcp", controlplane_only=True),
    Rule(
        "kubernetes-api-ingress",
        (KUBERNETES_API_PORT,),
        "tcp",
        controlplane_only=True,
        from_tailnet=True,
    ),
    Rule("kubelet-ingress", (KUBELET_PORT,), "tcp", controlplane_only=False),
    Rule("cilium-vxlan", (CILIUM_VXLAN_PORT,), "udp", controlplane_only=False),
    Rule("cilium-health", (CILIUM_HEALTH_PORT,), "tcp", controlplane_only=False),
)


def firewall_documents(
    stack: Stack, role: Literal["controlplane", "worker"]
) -> list[dict[str, Any]]:
    """The default-block document, then the rules `role` gets, in RULES order."""
    documents: list[dict[str, Any]] = [
        {"apiVersion": "v1alpha1", "kind": "NetworkDefaultActionConfig", "ingress": "block"}
    ]
    rules = RULES
    if ingress_enabled(stack):
        # The load balancer lives in the nodes' subnet, so the VCN source covers it.
        rules += (Rule("nodeport-ingress", (NODE_PORTS,), "tcp", controlplane_only=False),)
    for rule in rules:
        if rule.controlplane_only and role != "controlplane":
            continue
        sources = [node_subnet(stack)] + ([TAILNET_CIDR] if rule.from_tailnet else [])
        documents.append(
            {
                "apiVersion": "v1alpha1",
                "kind": "NetworkRuleConfig",
                "name": rule.name,
                "portSelector": {"ports": list(rule.ports), "protocol": rule.protocol},
                "ingress": [{"subnet": s} for s in sources],
            }
        )
    return documents


def node_subnet(stack: Stack) -> str:
    """The subnet of the nodes' kubelet address: the VCN subnet of the A1 instances, or the
    Proxmox VM network (`proxmox.vm_network.cidr`) the Talos VMs sit on."""
    if stack.topology == "proxmox" and stack.proxmox is not None:
        return stack.proxmox.vm_network.cidr
    return stack.network.subnet_cidr
