"""The Cilium that Talos bootstraps, and the Talos cluster patch it needs. Pure.

One source for both layers: the Talos stage installs Cilium with `cilium_values(stack)` at
`cilium_chart_version(stack)`, and the Flux HelmRelease that takes the release over carries the
same values and version (`freetier.flux.consistency` checks that they still agree).

The values follow the Talos guide "Deploying Cilium CNI": IPAM from Kubernetes, the cgroup v2
and bpffs mounts Talos already provides (no auto-mount), Cilium's default capabilities minus
SYS_MODULE (Talos does not let workloads load kernel modules), and the API server reached
through KubePrism on localhost:7445, so Cilium works before any Service routing exists.
"""

from __future__ import annotations

from typing import Any

from freetier.charts import OCI_CCM
from freetier.stack.model import Stack

CILIUM_NAMESPACE = "kube-system"
CILIUM_RELEASE = "cilium"
KUBEPRISM_HOST = "localhost"
KUBEPRISM_PORT = 7445
# OCI's instance metadata service (and its NTP server) on every instance. The Talos machine
# config travels in instance user_data, which any pod could read from here (siderolabs/talos#115).
OCI_METADATA_ADDRESS = "169.254.169.254"
METADATA_POLICY = "deny-instance-metadata"

AGENT_CAPABILITIES = (
    "CHOWN",
    "KILL",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "SYS_ADMIN",
    "SYS_RESOURCE",
    "DAC_OVERRIDE",
    "FOWNER",
    "SETGID",
    "SETUID",
)
CLEAN_STATE_CAPABILITIES = ("NET_ADMIN", "SYS_ADMIN", "SYS_RESOURCE")


def cilium_chart_version(stack: Stack) -> str:
    """The chart version: `versions.cilium` without a leading `v` (Helm charts have none)."""
    return stack.versions.cilium.removeprefix("v")


def cilium_values(stack: Stack) -> dict[str, Any]:
    """Helm values of the Cilium release, for the Talos bootstrap and the HelmRelease alike."""
    return {
        "cgroup": {"autoMount": {"enabled": False}, "hostRoot": "/sys/fs/cgroup"},
        "ipam": {"mode": "kubernetes"},
        # Pods get their CIDR from the node (Talos podSubnets); traffic inside it is not SNATed.
        "ipv4NativeRoutingCIDR": stack.network.pod_cidr,
        "k8sServiceHost": KUBEPRISM_HOST,
        "k8sServicePort": KUBEPRISM_PORT,
        "kubeProxyReplacement": not stack.kubernetes.kube_proxy,
        "operator": {"replicas": 1},
        "securityContext": {
            "capabilities": {
                "ciliumAgent": list(AGENT_CAPABILITIES),
                "cleanCiliumState": list(CLEAN_STATE_CAPABILITIES),
            }
        },
    }


def oci_ccm_enabled(stack: Stack) -> bool:
    """The OCI cloud controller manager runs only where nodes are OCI instances."""
    return stack.topology == "direct" and stack.apps.oci_ccm


def talos_cluster_patch(stack: Stack) -> dict[str, Any]:
    """The Talos machine-config patch for the cluster network (every node gets it).

    No Talos CNI (Cilium is installed instead), kube-proxy off when Cilium replaces it,
    KubePrism on the port the Cilium values use, and the stack's pod and service CIDRs. With
    the OCI CCM, kubelets run with an external cloud provider and Talos applies the CCM's
    release manifests at bootstrap (before Flux can schedule: nodes stay tainted
    `uninitialized` until a CCM runs); Flux then takes the same version over.
    """
    cluster: dict[str, Any] = {
        "network": {
            "cni": {"name": "none"},
            "podSubnets": [stack.network.pod_cidr],
            "serviceSubnets": [stack.network.service_cidr],
        },
        "proxy": {"disabled": not stack.kubernetes.kube_proxy},
    }
    if oci_ccm_enabled(stack):
        cluster["externalCloudProvider"] = {
            "enabled": True,
            "manifests": [
                OCI_CCM.release_asset("oci-cloud-controller-manager-rbac.yaml"),
                OCI_CCM.release_asset("oci-cloud-controller-manager.yaml"),
            ],
        }
    return {
        "cluster": cluster,
        "machine": {"features": {"kubePrism": {"enabled": True, "port": KUBEPRISM_PORT}}},
    }


def metadata_egress_policy() -> dict[str, Any]:
    """A clusterwide Cilium policy: no pod reaches the instance metadata endpoint.

    `endpointSelector: {}` selects every pod Cilium manages (host-network pods are not
    endpoints, so kubelet and Talos keep their access). A policy that only denies would still
    put every selected pod into default-deny for egress (Cilium's rule API: `enableDefaultDeny`
    defaults to true in each direction that has rules), so it is switched off explicitly: this
    policy removes one destination and allows nothing new.
    """
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumClusterwideNetworkPolicy",
        "metadata": {"name": METADATA_POLICY},
        "spec": {
            "description": "Pods must not read instance metadata: it holds the Talos "
            "machine configuration (user_data).",
            "endpointSelector": {},
            "enableDefaultDeny": {"egress": False, "ingress": False},
            "egressDeny": [{"toCIDR": [f"{OCI_METADATA_ADDRESS}/32"]}],
        },
    }
