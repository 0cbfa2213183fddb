"""infrastructure/: controllers/ (Cilium, Gateway API CRDs, cert-manager, Tailscale, OCI CCM) and
configs/ (issuers, the metadata policy, the Gateway). Pure."""

from __future__ import annotations

from typing import Any

from freetier.charts import (
    CERT_MANAGER,
    CILIUM,
    GATEWAY_API,
    OCI_CCM,
    TAILSCALE_OPERATOR,
    GitManifests,
)
from freetier.flux.render_common import (
    FLUX_NAMESPACE,
    PRUNE_DISABLED,
    SOURCE_API,
    Document,
    flux_kustomization,
    helm_release,
    helm_repository,
    kustomization_file,
    namespace,
)
from freetier.flux.render_yaml import yaml_file
from freetier.ingress import (
    GATEWAY_CLASS,
    GATEWAY_NAME,
    GATEWAY_NAMESPACE,
    GATEWAY_TLS_SECRET,
    ingress_enabled,
    load_balancer_annotations,
)
from freetier.secrets.model import SecretKey, SecretSpec
from freetier.stack.model import Stack
from freetier.talos.cilium import (
    CILIUM_NAMESPACE,
    CILIUM_RELEASE,
    cilium_chart_version,
    cilium_values,
    metadata_egress_policy,
    oci_ccm_enabled,
)

CONTROLLERS = "infrastructure/controllers"
CONFIGS = "infrastructure/configs"
CERT_MANAGER_NAMESPACE = "cert-manager"
METADATA_POLICY_FILE = "metadata-egress-policy.yaml"
GATEWAY_FILE = "gateway.yaml"
TAILSCALE_NAMESPACE = "tailscale"

TAILSCALE_OAUTH = SecretSpec(
    name="operator-oauth",
    namespace=TAILSCALE_NAMESPACE,
    path=f"{CONTROLLERS}/tailscale-operator/operator-oauth.sops.yaml",
    keys=(
        SecretKey("client_id", "REPLACE_ME", "OAuth client ID (Trust credentials page)"),
        SecretKey("client_secret", "REPLACE_ME", "OAuth client secret"),
    ),
    purpose="Tailscale operator OAuth client (tag:k8s-operator; Devices Core, Auth Keys, "
    "Services write scopes)",
)


def oci_ccm_config_spec(stack: Stack) -> SecretSpec:
    """The CCM's cloud-provider.yaml; VCN and subnet OCIDs exist only after tofu/oci applies."""
    template = (
        "useInstancePrincipals: true\n"
        f"compartment: {stack.oci.compartment_ocid}\n"
        "vcn: ocid1.vcn.oc1..replace-me\n"
        "loadBalancer:\n"
        "  subnet1: ocid1.subnet.oc1..replace-me\n"
        "  securityListManagementMode: None\n"
    )
    return SecretSpec(
        name="oci-cloud-controller-manager",
        namespace=CILIUM_NAMESPACE,
        path=f"{CONTROLLERS}/oci-ccm/cloud-provider.sops.yaml",
        keys=(SecretKey("cloud-provider.yaml", template, "the CCM's cloud-provider.yaml"),),
        purpose="OCI cloud controller manager configuration (instance principals)",
    )


def infra_secret_specs(stack: Stack) -> tuple[SecretSpec, ...]:
    specs: list[SecretSpec] = []
    if stack.apps.tailscale_operator:
        specs.append(TAILSCALE_OAUTH)
    if oci_ccm_enabled(stack):
        specs.append(oci_ccm_config_spec(stack))
    return tuple(specs)


def render_controllers(stack: Stack) -> dict[str, str]:
    parts: dict[str, dict[str, list[Document]]] = {"cilium": _cilium(stack)}
    if ingress_enabled(stack):
        parts["gateway-api"] = _git_manifests(GATEWAY_API)
    if stack.apps.cert_manager:
        parts["cert-manager"] = _cert_manager()
    if stack.apps.tailscale_operator:
        parts["tailscale-operator"] = _tailscale(stack)
    if oci_ccm_enabled(stack):
        parts["oci-ccm"] = _oci_ccm()
    secrets = {s.path for s in infra_secret_specs(stack)}
    files: dict[str, str] = {}
    for folder, documents in parts.items():
        resources = [name for name in documents]
        resources += sorted(
            p.rsplit("/", 1)[1] for p in secrets if p.startswith(f"{CONTROLLERS}/{folder}/")
        )
        for name, docs in documents.items():
            files[f"{CONTROLLERS}/{folder}/{name}"] = yaml_file(docs)
        files[f"{CONTROLLERS}/{folder}/kustomization.yaml"] = yaml_file(
            [kustomization_file(resources)]
        )
    files[f"{CONTROLLERS}/kustomization.yaml"] = yaml_file([kustomization_file(list(parts))])
    return files


def render_configs(stack: Stack) -> dict[str, str]:
    # Pods never read the metadata endpoint (but the OCI CCM's, which must).
    files: dict[str, str] = {
        f"{CONFIGS}/{METADATA_POLICY_FILE}": yaml_file([metadata_egress_policy(stack)])
    }
    resources: list[str] = [METADATA_POLICY_FILE]
    if stack.apps.cert_manager:
        files[f"{CONFIGS}/cluster-issuers.yaml"] = yaml_file(_cluster_issuers(stack))
        resources.append("cluster-issuers.yaml")
    if ingress_enabled(stack):
        files[f"{CONFIGS}/{GATEWAY_FILE}"] = yaml_file(gateway_documents(stack))
        resources.append(GATEWAY_FILE)
    files[f"{CONFIGS}/kustomization.yaml"] = yaml_file([kustomization_file(resources)])
    return files


def _cilium(stack: Stack) -> dict[str, list[Document]]:
    # Talos bootstraps this release (same name, version and values); Flux adopts it. Never
    # pruned: deleting the CNI would cut every node off.
    release = helm_release(
        CILIUM_RELEASE,
        CILIUM_NAMESPACE,
        CILIUM,
        cilium_chart_version(stack),
        values=cilium_values(stack),
        release_name=CILIUM_RELEASE,
        annotations=PRUNE_DISABLED,
    )
    return {"repository.yaml": [helm_repository(CILIUM)], "release.yaml": [release]}


def _cert_manager() -> dict[str, list[Document]]:
    release = helm_release(
        "cert-manager",
        CERT_MANAGER_NAMESPACE,
        CERT_MANAGER.source,
        CERT_MANAGER.version,
        values={"crds": {"enabled": True, "keep": True}},
    )
    return {
        "namespace.yaml": [namespace(CERT_MANAGER_NAMESPACE)],
        "repository.yaml": [helm_repository(CERT_MANAGER.source)],
        "release.yaml": [release],
    }


def _tailscale(stack: Stack) -> dict[str, list[Document]]:
    # No `oauth` values: the chart then reads the operator-oauth Secret (SOPS, beside this).
    release = helm_release(
        "tailscale-operator",
        TAILSCALE_NAMESPACE,
        TAILSCALE_OPERATOR.source,
        TAILSCALE_OPERATOR.version,
        values={"operatorConfig": {"hostname": f"{stack.name}-k8s-operator"}},
    )
    # Tailscale proxies need privileged pods; Talos enforces `baseline` by default.
    labels = {"pod-security.kubernetes.io/enforce": "privileged"}
    return {
        "namespace.yaml": [namespace(TAILSCALE_NAMESPACE, labels)],
        "repository.yaml": [helm_repository(TAILSCALE_OPERATOR.source)],
        "release.yaml": [release],
    }


def _oci_ccm() -> dict[str, list[Document]]:
    return _git_manifests(OCI_CCM)


def _git_manifests(source: GitManifests) -> dict[str, list[Document]]:
    """A tagged folder of a Git repository, applied by its own Flux Kustomization."""
    repository: Document = {
        "apiVersion": SOURCE_API,
        "kind": "GitRepository",
        "metadata": {"name": source.repository, "namespace": FLUX_NAMESPACE},
        "spec": {
            "ignore": _only_folder(source.path),
            "interval": "24h",
            "ref": {"tag": source.tag},
            "url": source.url,
        },
    }
    images = [{"name": source.image, "newTag": source.tag}] if source.image else []
    sync = flux_kustomization(
        source.repository,
        source.path,
        source=("GitRepository", source.repository),
        timeout="5m",
        extra={"images": images} if images else None,
    )
    return {"repository.yaml": [repository], "sync.yaml": [sync]}


def gateway_documents(stack: Stack) -> list[Document]:
    """The one public Gateway: Cilium makes its LoadBalancer Service (carrying
    `spec.infrastructure.annotations`), the OCI CCM the free load balancer of it. HTTP always;
    HTTPS with a cert-manager certificate when the stack names a hostname."""
    listeners: list[dict[str, Any]] = [
        {
            "allowedRoutes": {"namespaces": {"from": "All"}},
            "name": "http",
            "port": 80,
            "protocol": "HTTP",
        }
    ]
    documents: list[Document] = [namespace(GATEWAY_NAMESPACE)]
    hostname = stack.ingress.hostname
    if hostname is not None:
        listeners.append(
            {
                "allowedRoutes": {"namespaces": {"from": "All"}},
                "hostname": hostname,
                "name": "https",
                "port": 443,
                "protocol": "HTTPS",
                "tls": {
                    "certificateRefs": [{"kind": "Secret", "name": GATEWAY_TLS_SECRET}],
                    "mode": "Terminate",
                },
            }
        )
        documents.append(
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": {"name": GATEWAY_TLS_SECRET, "namespace": GATEWAY_NAMESPACE},
                "spec": {
                    "dnsNames": [hostname],
                    "issuerRef": {
                        "group": "cert-manager.io",
                        "kind": "ClusterIssuer",
                        "name": ca_issuer_name(stack),
                    },
                    "privateKey": {"algorithm": "ECDSA", "size": 256},
                    "secretName": GATEWAY_TLS_SECRET,
                },
            }
        )
    documents.append(
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"name": GATEWAY_NAME, "namespace": GATEWAY_NAMESPACE},
            "spec": {
                "gatewayClassName": GATEWAY_CLASS,
                "infrastructure": {"annotations": load_balancer_annotations(stack)},
                "listeners": listeners,
            },
        }
    )
    return documents


def ca_issuer_name(stack: Stack) -> str:
    return f"{stack.name}-ca"


def _only_folder(path: str) -> str:
    """A GitRepository `ignore` keeping one nested folder (gitignore cannot re-include a file
    whose parent folder is excluded, so each level is re-included, then emptied)."""
    parts = path.removeprefix("./").strip("/").split("/")
    lines = ["/*"]
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])
        lines.append(f"!/{prefix}/")
        if depth < len(parts):
            lines.append(f"/{prefix}/*")
    return "\n".join(lines) + "\n"


def _cluster_issuers(stack: Stack) -> list[Document]:
    ca_secret = f"{stack.name}-root-ca"
    issuer_ref: dict[str, Any] = {
        "group": "cert-manager.io",
        "kind": "ClusterIssuer",
        "name": "selfsigned",
    }
    return [
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": "selfsigned"},
            "spec": {"selfSigned": {}},
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": ca_secret, "namespace": CERT_MANAGER_NAMESPACE},
            "spec": {
                "commonName": f"{stack.name} root CA",
                "duration": "87600h",
                "isCA": True,
                "issuerRef": issuer_ref,
                "privateKey": {"algorithm": "ECDSA", "size": 256},
                "renewBefore": "720h",
                "secretName": ca_secret,
            },
        },
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": ca_issuer_name(stack)},
            "spec": {"ca": {"secretName": ca_secret}},
        },
    ]
