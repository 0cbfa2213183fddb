"""What Talos bootstraps, derived from the stack: the Cilium install and the cluster network patch.

The Flux tree (`freetier.flux`) reads the same functions, so the Cilium that Talos starts and the
HelmRelease that takes it over cannot drift apart.
"""

from freetier.talos.cilium import (
    CILIUM_NAMESPACE,
    CILIUM_RELEASE,
    KUBEPRISM_HOST,
    KUBEPRISM_PORT,
    METADATA_POLICY,
    OCI_METADATA_ADDRESS,
    cilium_bootstrap,
    cilium_chart_version,
    cilium_values,
    metadata_egress_policy,
    oci_ccm_enabled,
    talos_cluster_documents,
    talos_cluster_patch,
)

__all__ = [
    "CILIUM_NAMESPACE",
    "CILIUM_RELEASE",
    "KUBEPRISM_HOST",
    "KUBEPRISM_PORT",
    "METADATA_POLICY",
    "OCI_METADATA_ADDRESS",
    "cilium_bootstrap",
    "cilium_chart_version",
    "cilium_values",
    "metadata_egress_policy",
    "oci_ccm_enabled",
    "talos_cluster_documents",
    "talos_cluster_patch",
]
