"""The Cilium that Talos bootstraps, and the Talos cluster patch it needs. Pure.

One source for both layers: the Talos stage installs Cilium with `cilium_values(stack)` at
`cilium_chart_version(stack)`, and the Flux HelmRelease that takes the release over carries the
same values and version (`freetier.flux.consistency` checks that they still agree).

The values follow the Talos guide "Deploying Cilium CNI": IPAM from Kubernetes, the cgroup v2
and bpffs mounts Talos already provides (no auto-mount), Cilium's default capabilities minus
SYS_MODULE (Talos does not let workloads load kernel modules), and the API server reached
through KubePrism on localhost:7445, so Cilium works before any Service routing exists.

Talos gets the release as an inline manifest that tofu/talos renders with the helm provider's
`helm_template` from `cilium_bootstrap(stack)` (passed through the layer's tfvars), so the
rendering must be the same every time: Hubble is off, because its default TLS setup
(`hubble.tls.auto.method: helm`) generates new certificates on every render
(cilium/cilium#36012), its `cronJob` method is a Job, and Jobs in inline manifests break
`talosctl upgrade-k8s` (siderolabs/talos#11603), and its `certmanager` method needs
cert-manager, which runs only once the CNI does.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml

from freetier.charts import CILIUM, GATEWAY_API, OCI_CCM
from freetier.ingress import ingress_enabled
from freetier.stack.model import Stack
from freetier.talos.form import V1ALPHA1, config_form

Role = Literal["controlplane", "worker"]

CILIUM_NAMESPACE = "kube-system"
CILIUM_RELEASE = "cilium"
KUBEPRISM_HOST = "localhost"
KUBEPRISM_PORT = 7445
# OCI's instance metadata service (and its NTP server) on every instance. The Talos machine
# config travels in instance user_data, which any pod could read from here (siderolabs/talos#115).
OCI_METADATA_ADDRESS = "169.254.169.254"
METADATA_POLICY = "deny-instance-metadata"
# The OCI cloud controller manager's pods, by the labels of its DaemonSet (manifests/
# cloud-controller-manager/oci-cloud-controller-manager.yaml at the pinned tag v1.33.2): it reads
# instance metadata (pkg/oci/instance/metadata/instance_metadata.go: http://169.254.169.254,
# /opc/v2/instance/, for the compartment when the config names none) and authenticates with
# instance principals (pkg/cloudprovider/providers/oci/config/config.go:
# `auth.InstancePrincipalConfigurationProvider()`, whose certificates come from the same
# endpoint).
OCI_CCM_NAMESPACE = "kube-system"
OCI_CCM_POD_LABEL = ("component", "oci-cloud-controller-manager")
# Cilium's label for a pod's namespace in endpoint selectors (docs.cilium.io, "Layer 3
# Examples": `k8s:io.kubernetes.pod.namespace`).
NAMESPACE_LABEL = "k8s:io.kubernetes.pod.namespace"

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
    values: dict[str, Any] = {
        "cgroup": {"autoMount": {"enabled": False}, "hostRoot": "/sys/fs/cgroup"},
        # Off: its certificates would differ on every render (see the module's docstring).
        "hubble": {"enabled": False},
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
    if ingress_enabled(stack):
        # Cilium's Gateway API controller (its CRDs come with Talos's extraManifests).
        values["gatewayAPI"] = {"enabled": True}
    return values


# What the cluster's discovery will list once Talos has applied the Gateway API CRDs, so that
# templates asking `.Capabilities.APIVersions.Has` render at bootstrap as they will under Flux
# (Helm's VersionSet holds both `group/version` and `group/version/Kind` entries).
GATEWAY_API_VERSIONS = (
    "gateway.networking.k8s.io/v1",
    "gateway.networking.k8s.io/v1/GatewayClass",
    "gateway.networking.k8s.io/v1/Gateway",
    "gateway.networking.k8s.io/v1/HTTPRoute",
    "gateway.networking.k8s.io/v1/GRPCRoute",
    "gateway.networking.k8s.io/v1beta1",
    "gateway.networking.k8s.io/v1beta1/ReferenceGrant",
)


def cilium_bootstrap(stack: Stack) -> dict[str, Any]:
    """The talos layer's `cilium` input: what its `helm_template` renders into the control
    planes' inline manifest. The values travel as YAML text (Helm's `values` files)."""
    return {
        "api_versions": list(GATEWAY_API_VERSIONS) if ingress_enabled(stack) else [],
        "release": CILIUM_RELEASE,
        "namespace": CILIUM_NAMESPACE,
        "repository": CILIUM.url,
        "chart": CILIUM.chart,
        "version": cilium_chart_version(stack),
        "values": yaml.safe_dump(cilium_values(stack), sort_keys=True),
    }


def oci_ccm_enabled(stack: Stack) -> bool:
    """The OCI cloud controller manager runs only where nodes are OCI instances."""
    return stack.topology == "direct" and stack.apps.oci_ccm


def talos_cluster_patch(stack: Stack) -> dict[str, Any]:
    """The Talos 1.13 (v1alpha1) machine-config patch for the cluster network (every node
    gets it).

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
    if ingress_enabled(stack):
        # Before Cilium's operator starts, or its Gateway controller stays off until a restart.
        cluster["extraManifests"] = [GATEWAY_API.release_asset("standard-install.yaml")]
    if oci_ccm_enabled(stack):
        cluster["externalCloudProvider"] = _external_cloud_provider()
    return {
        "cluster": cluster,
        "machine": {"features": {"kubePrism": {"enabled": True, "port": KUBEPRISM_PORT}}},
    }


def talos_cluster_documents(stack: Stack, role: Role) -> list[dict[str, Any]]:
    """The cluster-wide patches a node of `role` gets, in the form of the pinned Talos line:
    the one v1alpha1 patch for 1.13 (the same for both roles), the multi-document kinds for
    1.14 (`talos_cluster_multidoc`)."""
    if config_form(stack.versions.talos) == V1ALPHA1:
        return [talos_cluster_patch(stack)]
    return talos_cluster_multidoc(stack, role)


# The apiVersion of every Talos multi-document kind used here.
DOC_VERSION = "v1alpha1"
GATEWAY_API_MANIFEST = "gateway-api-standard-install"


def talos_cluster_multidoc(stack: Stack, role: Role) -> list[dict[str, Any]]:
    """The same settings as `talos_cluster_patch`, as Talos 1.14 documents.

    Kinds and fields from pkg/machinery/config/types/k8s at v1.14.0-rc.1. Every node gets the
    pod and service subnets (KubeNetworkConfig) and KubePrism (KubePrismConfig: its presence
    enables it). Control planes only, because Talos refuses these kinds on other machines
    (`ControlplaneOnlyDocument`) or only control planes act on them: CNI none, which 1.14 has
    no field for, so the Flannel document `gen config` still emits (siderolabs/talos#13958)
    is deleted with `$patch: delete` (a whole-document delete: pkg/machinery/config/
    configloader/internal/decoder testdata/delete; deleting a document that is absent is
    skipped, configpatcher/strategic.go); kube-proxy on or off (KubeProxyConfig `enabled`);
    and the Gateway API CRDs as a KubeExternalManifestConfig.

    The external cloud provider has no 1.14 kind: `cluster.externalCloudProvider` is still
    the v1alpha1 field 1.14 reads for the kubelet's `--cloud-provider=external`
    (internal/app/machined/pkg/controllers/k8s/kubelet_config.go) and for the CCM's manifests,
    applied right after Talos's own (control_plane.go: priority 30, before external and
    inline manifests at 99), so it stays a v1alpha1 patch, on every node.
    """
    documents: list[dict[str, Any]] = [
        _kind(
            "KubeNetworkConfig",
            podSubnets=[stack.network.pod_cidr],
            serviceSubnets=[stack.network.service_cidr],
        )
    ]
    if role == "controlplane":
        documents.append({**_kind("KubeFlannelCNIConfig"), "$patch": "delete"})
        documents.append(_kind("KubeProxyConfig", enabled=stack.kubernetes.kube_proxy))
        if ingress_enabled(stack):
            documents.append(
                _kind(
                    "KubeExternalManifestConfig",
                    name=GATEWAY_API_MANIFEST,
                    url=GATEWAY_API.release_asset("standard-install.yaml"),
                )
            )
    if oci_ccm_enabled(stack):
        documents.append({"cluster": {"externalCloudProvider": _external_cloud_provider()}})
    documents.append(_kind("KubePrismConfig", port=KUBEPRISM_PORT))
    return documents


def _kind(kind: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": DOC_VERSION, "kind": kind, **fields}


def _external_cloud_provider() -> dict[str, Any]:
    return {
        "enabled": True,
        "manifests": [
            OCI_CCM.release_asset("oci-cloud-controller-manager-rbac.yaml"),
            OCI_CCM.release_asset("oci-cloud-controller-manager.yaml"),
        ],
    }


def metadata_egress_policy(stack: Stack) -> dict[str, Any]:
    """A clusterwide Cilium policy: no pod reaches the instance metadata endpoint, except the
    OCI cloud controller manager's when the stack runs it.

    Every pod Cilium manages is selected (host-network pods are not endpoints, so kubelet and
    Talos keep their access). A policy that only denies would still put every selected pod into
    default-deny for egress (Cilium's rule API: `enableDefaultDeny` defaults to true in each
    direction that has rules), so it is switched off explicitly: this policy removes one
    destination and allows nothing new.

    The exception is by namespace and label together, so a pod elsewhere cannot escape by
    wearing the CCM's label: one rule for every namespace but kube-system, one for kube-system
    minus the CCM's pods (selector requirements are ANDed, so "not (kube-system and CCM)" takes
    two rules). The CCM's DaemonSet runs with `hostNetwork: true` in the pinned manifests, so
    today the policy does not reach it anyway; the exception keeps it working if it ever runs
    as an endpoint.
    """
    description = (
        "Pods must not read instance metadata: it would hand them the node's identity "
        "(instance principal certificates) and whatever user_data holds."
    )
    body: dict[str, Any] = {"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy"}
    body["metadata"] = {"name": METADATA_POLICY}
    if not oci_ccm_enabled(stack):
        body["spec"] = {"description": description, "endpointSelector": {}, **_deny()}
        return body
    key, value = OCI_CCM_POD_LABEL
    others = {"matchExpressions": [_requirement(NAMESPACE_LABEL, "NotIn", OCI_CCM_NAMESPACE)]}
    system = {
        "matchExpressions": [
            _requirement(NAMESPACE_LABEL, "In", OCI_CCM_NAMESPACE),
            _requirement(f"k8s:{key}", "NotIn", value),
        ]
    }
    body["specs"] = [
        {"description": description, "endpointSelector": others, **_deny()},
        {
            "description": description + " The OCI cloud controller manager may: it reads "
            "instance metadata and authenticates with instance principals.",
            "endpointSelector": system,
            **_deny(),
        },
    ]
    return body


def _deny() -> dict[str, Any]:
    """Each rule its own objects: shared ones would be written as YAML anchors."""
    return {
        "enableDefaultDeny": {"egress": False, "ingress": False},
        "egressDeny": [{"toCIDR": [f"{OCI_METADATA_ADDRESS}/32"]}],
    }


def _requirement(key: str, operator: str, value: str) -> dict[str, Any]:
    return {"key": key, "operator": operator, "values": [value]}
