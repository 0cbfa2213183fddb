"""render_tree: the layout, GA Flux APIs only, deterministic, toggles and topologies."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from freetier import charts
from freetier.flux.render import render_tree, secret_specs, seed_files
from freetier.stack import Stack
from freetier.talos import cilium_chart_version, cilium_values
from tests.conftest import ROOT

from .conftest import with_apps

GA_FLUX = {
    "source.toolkit.fluxcd.io": "v1",
    "kustomize.toolkit.fluxcd.io": "v1",
    "helm.toolkit.fluxcd.io": "v2",
}
BUILTIN_NAMESPACES = {"flux-system", "kube-system"}


def docs(files: dict[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, text in files.items():
        if path.endswith(".yaml") and not path.endswith("values.yaml"):
            for doc in yaml.safe_load_all(text):
                if isinstance(doc, dict) and "apiVersion" in doc:
                    yield path, doc


def by_kind(files: dict[str, str], kind: str) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d
        for _, d in docs(files)
        if d.get("kind") == kind and "metadata" in d
    }


def flux_kustomizations(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {
        name: d
        for name, d in by_kind(files, "Kustomization").items()
        if d["apiVersion"].startswith("kustomize.toolkit.fluxcd.io/")
    }


def test_render_is_deterministic(shipped: Stack) -> None:
    first = render_tree(shipped)
    assert render_tree(shipped) == first
    assert list(first) == sorted(first)


def test_canonical_layout(shipped: Stack) -> None:
    files = render_tree(shipped)
    for path in (
        "clusters/freetier/flux-system/gotk-sync.yaml",
        "clusters/freetier/flux-system/kustomization.yaml",
        "clusters/freetier/infrastructure.yaml",
        "clusters/freetier/apps.yaml",
        "infrastructure/controllers/kustomization.yaml",
        "infrastructure/configs/kustomization.yaml",
        "apps/base/grafana-alloy/release.yaml",
        "apps/freetier/kustomization.yaml",
    ):
        assert path in files
    assert all(p.split("/")[0] in ("clusters", "infrastructure", "apps") for p in files)


def test_sync_points_at_the_stack_repository(shipped: Stack) -> None:
    files = render_tree(shipped)
    repo = by_kind(files, "GitRepository")["flux-system"]
    assert repo["spec"]["url"] == shipped.flux.repo_url
    assert repo["spec"]["ref"] == {"branch": shipped.flux.branch}
    assert "secretRef" not in repo["spec"]  # https: no deploy key
    sync = flux_kustomizations(files)["flux-system"]
    assert sync["spec"]["path"] == "./clusters/freetier"
    ssh = shipped.model_copy(
        update={"flux": shipped.flux.model_copy(update={"repo_url": "ssh://git@github.com/o/r"})}
    )
    assert by_kind(render_tree(ssh), "GitRepository")["flux-system"]["spec"]["secretRef"] == {
        "name": "flux-system"
    }


def test_only_ga_flux_apis_and_sources_in_flux_system(shipped: Stack) -> None:
    for path, doc in docs(render_tree(shipped)):
        group, _, version = doc["apiVersion"].rpartition("/")
        if group.endswith("toolkit.fluxcd.io"):
            assert GA_FLUX[group] == version, (path, doc["apiVersion"])
        if group == "source.toolkit.fluxcd.io":  # sources stay in flux-system
            assert doc["metadata"]["namespace"] == "flux-system", path
        if doc["kind"] == "Kustomization" and group == "kustomize.config.k8s.io":
            assert "namespace" not in doc, path  # no override moving sources


def test_ordering_wait_and_decryption(shipped: Stack) -> None:
    ks = flux_kustomizations(render_tree(shipped))
    assert ks["infra-configs"]["spec"]["dependsOn"] == [{"name": "infra-controllers"}]
    assert ks["apps"]["spec"]["dependsOn"] == [{"name": "infra-configs"}]
    for name in ("infra-controllers", "infra-configs", "apps"):
        spec = ks[name]["spec"]
        assert spec["wait"] is True and spec["prune"] is True and spec["interval"]
        assert spec["sourceRef"] == {"kind": "GitRepository", "name": "flux-system"}
    decryption = {"provider": "sops", "secretRef": {"name": "sops-age"}}
    assert ks["infra-controllers"]["spec"]["decryption"] == decryption
    assert ks["apps"]["spec"]["decryption"] == decryption
    assert "decryption" not in ks["infra-configs"]["spec"]  # no SOPS file there


def test_decryption_exactly_where_secret_files_are(shipped: Stack) -> None:
    for stack in (shipped, with_apps(shipped, grafana_alloy=False)):
        files = render_tree(stack)
        secrets = [s.path for s in secret_specs(stack)]
        for name, doc in flux_kustomizations(files).items():
            path = doc["spec"]["path"].removeprefix("./")
            reaches = any(s.startswith(path + "/") for s in secrets)
            assert ("decryption" in doc["spec"]) == reaches, name
            for secret in secrets:
                folder, file = secret.rsplit("/", 1)
                if secret.startswith(path + "/") and doc["spec"]["sourceRef"]["name"] == (
                    "flux-system"
                ):
                    assert (
                        file
                        in yaml.safe_load(
                            files[f"{folder}/kustomization.yaml"].split("---\n", 1)[1]
                        )["resources"]
                    )


# The Cilium values of the Talos guide "Deploying Cilium CNI" for the shipped stack (pod CIDR
# 10.244.0.0/16, kube-proxy off), written out by hand so the test does not reuse the code it
# checks.
SHIPPED_CILIUM_VALUES = {
    "cgroup": {"autoMount": {"enabled": False}, "hostRoot": "/sys/fs/cgroup"},
    "gatewayAPI": {"enabled": True},
    "hubble": {"enabled": False},
    "ipam": {"mode": "kubernetes"},
    "ipv4NativeRoutingCIDR": "10.244.0.0/16",
    "k8sServiceHost": "localhost",
    "k8sServicePort": 7445,
    "kubeProxyReplacement": True,
    "operator": {"replicas": 1},
    "securityContext": {
        "capabilities": {
            "ciliumAgent": [
                "CHOWN", "KILL", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "SYS_ADMIN",
                "SYS_RESOURCE", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID",
            ],
            "cleanCiliumState": ["NET_ADMIN", "SYS_ADMIN", "SYS_RESOURCE"],
        }
    },
}  # fmt: skip


def test_cilium_release_takes_over_what_talos_bootstraps(shipped: Stack) -> None:
    release = by_kind(render_tree(shipped), "HelmRelease")["cilium"]
    assert release["metadata"]["namespace"] == "kube-system"
    assert release["spec"]["releaseName"] == "cilium"
    assert release["spec"]["chart"]["spec"]["version"] == "1.20.2"  # stack.yaml versions.cilium
    assert release["spec"]["values"] == SHIPPED_CILIUM_VALUES
    # The Talos bootstrap installs the very same release.
    assert cilium_values(shipped) == SHIPPED_CILIUM_VALUES
    assert cilium_chart_version(shipped) == "1.20.2"
    assert release["metadata"]["annotations"] == {"kustomize.toolkit.fluxcd.io/prune": "disabled"}


def test_every_chart_version_comes_from_the_table(shipped: Stack) -> None:
    table = {c.source.chart: c.version for c in charts.PINNED_CHARTS}
    table[charts.CILIUM.chart] = cilium_chart_version(shipped)
    repos = by_kind(render_tree(shipped), "HelmRepository")
    for release in by_kind(render_tree(shipped), "HelmRelease").values():
        chart = release["spec"]["chart"]["spec"]
        assert chart["version"] == table[chart["chart"]]
        assert chart["sourceRef"]["namespace"] == "flux-system"
        assert chart["sourceRef"]["name"] in repos
    ccm = by_kind(render_tree(shipped), "GitRepository")["oci-cloud-controller-manager"]
    assert ccm["spec"]["ref"] == {"tag": charts.OCI_CCM.tag}


def test_every_pinned_version_has_a_renovate_annotation() -> None:
    lines = (ROOT / "ci/freetier/charts.py").read_text().splitlines()
    pins = [i for i, line in enumerate(lines) if re.match(r'\s+(version|tag)="', line)]
    assert len(pins) == len(charts.PINNED_CHARTS) + 2  # and the OCI CCM and Gateway API tags
    for i in pins:
        assert re.match(
            r"\s+# renovate: datasource=(helm|github-tags) depName=\S+( registryUrl=https://\S+)?$",
            lines[i - 1],
        ), lines[i - 1]


def test_every_namespace_is_created_by_the_tree(shipped: Stack) -> None:
    files = render_tree(shipped)
    created = set(by_kind(files, "Namespace")) | BUILTIN_NAMESPACES
    used = {
        d["metadata"]["namespace"] for _, d in docs(files) if "namespace" in d.get("metadata", {})
    }
    used |= {s.namespace for s in secret_specs(shipped)}
    assert used <= created


def test_oci_ccm_only_in_the_direct_topology(shipped: Stack, proxmox: Stack) -> None:
    direct = render_tree(shipped)
    assert "infrastructure/controllers/oci-ccm/sync.yaml" in direct
    assert "oci-ccm" in direct["infrastructure/controllers/kustomization.yaml"]
    for stack in (proxmox, with_apps(proxmox, oci_ccm=True), with_apps(shipped, oci_ccm=False)):
        files = render_tree(stack)
        assert not any("oci-ccm" in p for p in files)
        assert "oci-cloud-controller-manager" not in by_kind(files, "GitRepository")
        assert all("cloud-provider" not in s.path for s in secret_specs(stack))
    assert "clusters/freetier-pve/apps.yaml" in render_tree(proxmox)


@pytest.mark.parametrize(
    ("app", "marker"),
    [
        ("cert_manager", "infrastructure/controllers/cert-manager/release.yaml"),
        ("tailscale_operator", "infrastructure/controllers/tailscale-operator/release.yaml"),
        ("grafana_alloy", "apps/base/grafana-alloy/release.yaml"),
    ],
)
def test_apps_toggle(shipped: Stack, app: str, marker: str) -> None:
    assert marker in render_tree(shipped)
    off = with_apps(shipped, **{app: False})
    files = render_tree(off)
    assert marker not in files
    assert not any(s.path.startswith(marker.rsplit("/", 1)[0]) for s in secret_specs(off))
    if app == "cert_manager":
        assert "infrastructure/configs/cluster-issuers.yaml" not in files
    if app == "grafana_alloy":
        assert not seed_files(off)
        assert "decryption" not in flux_kustomizations(files)["apps"]["spec"]


def test_shipped_secrets_and_seeds(shipped: Stack) -> None:
    specs = {s.name: s for s in secret_specs(shipped)}
    assert specs["operator-oauth"].key_names() == ("client_id", "client_secret")
    assert specs["grafana-cloud"].path == "apps/freetier/grafana-cloud.sops.yaml"
    assert all(s.path.endswith(".sops.yaml") for s in specs.values())
    assert list(seed_files(shipped)) == ["apps/freetier/values/grafana-alloy.yaml"]
    assert not set(seed_files(shipped)) & set(render_tree(shipped))


def test_committed_tree_is_the_render_of_the_shipped_stack(shipped: Stack) -> None:
    for path, text in render_tree(shipped).items():
        assert (ROOT / path).read_text(encoding="utf-8") == text, path
    assert Path(ROOT / "apps/freetier/values/grafana-alloy.yaml").is_file()


def test_oci_ccm_source_keeps_only_the_manifest_folder(shipped: Stack) -> None:
    ccm = by_kind(render_tree(shipped), "GitRepository")["oci-cloud-controller-manager"]
    assert ccm["spec"]["ignore"].splitlines() == [
        "/*",
        "!/manifests/",
        "/manifests/*",
        "!/manifests/cloud-controller-manager/",
    ]


def test_committed_secrets_match_sops_config_and_hold_no_key() -> None:
    config = yaml.safe_load((ROOT / ".sops.yaml").read_text())
    recipients = {r.strip() for r in config["creation_rules"][0]["age"].split(",")}
    files = [p for top in ("clusters", "infrastructure", "apps") for p in (ROOT / top).rglob("*")]
    sops_files = [p for p in files if p.name.endswith(".sops.yaml")]
    assert sops_files
    for path in sops_files:
        meta = yaml.safe_load(path.read_text())["sops"]
        assert {a["recipient"] for a in meta["age"]} == recipients, path
    for path in [*files, ROOT / ".sops.yaml"]:
        if path.is_file():
            assert "AGE-SECRET-KEY" not in path.read_text(), path


DENY = {
    "egressDeny": [{"toCIDR": ["169.254.169.254/32"]}],
    # Denying alone must not turn every pod's egress into default-deny.
    "enableDefaultDeny": {"egress": False, "ingress": False},
}
NS = "k8s:io.kubernetes.pod.namespace"


def test_pods_are_denied_the_instance_metadata_endpoint_but_the_oci_ccm(shipped: Stack) -> None:
    files = render_tree(shipped)
    policies = by_kind(files, "CiliumClusterwideNetworkPolicy")
    assert list(policies) == ["deny-instance-metadata"]
    policy = policies["deny-instance-metadata"]
    assert "spec" not in policy
    specs = [{k: v for k, v in spec.items() if k != "description"} for spec in policy["specs"]]
    # Every namespace but kube-system; in kube-system every pod but the CCM's (by the labels
    # of its DaemonSet in oracle/oci-cloud-controller-manager's manifests at v1.33.2).
    assert specs == [
        {**DENY, "endpointSelector": {"matchExpressions": [
            {"key": NS, "operator": "NotIn", "values": ["kube-system"]},
        ]}},
        {**DENY, "endpointSelector": {"matchExpressions": [
            {"key": NS, "operator": "In", "values": ["kube-system"]},
            {"key": "k8s:component", "operator": "NotIn",
             "values": ["oci-cloud-controller-manager"]},
        ]}},
    ]  # fmt: skip
    assert "&id" not in files["infrastructure/configs/metadata-egress-policy.yaml"]  # no anchors
    kustomization = yaml.safe_load_all(files["infrastructure/configs/kustomization.yaml"])
    assert "metadata-egress-policy.yaml" in next(d for d in kustomization if d)["resources"]


def test_no_metadata_exception_without_the_oci_ccm(shipped: Stack, proxmox: Stack) -> None:
    for stack in (with_apps(shipped, oci_ccm=False), proxmox):
        policy = by_kind(render_tree(stack), "CiliumClusterwideNetworkPolicy")
        spec = policy["deny-instance-metadata"]["spec"]
        # Every pod Cilium manages; host-network pods are no endpoints and keep their access.
        assert {k: v for k, v in spec.items() if k != "description"} == {
            **DENY,
            "endpointSelector": {},
        }
        assert "specs" not in policy["deny-instance-metadata"]


def test_the_gateway_asks_the_oci_ccm_for_the_free_load_balancer(shipped: Stack) -> None:
    files = render_tree(shipped)
    gateway = by_kind(files, "Gateway")["public"]
    assert gateway["metadata"]["namespace"] == "gateway"
    assert gateway["spec"]["gatewayClassName"] == "cilium"
    assert gateway["spec"]["infrastructure"]["annotations"] == {
        "oci.oraclecloud.com/load-balancer-type": "lb",
        "service.beta.kubernetes.io/oci-load-balancer-shape": "flexible",
        "service.beta.kubernetes.io/oci-load-balancer-shape-flex-min": "10",
        "service.beta.kubernetes.io/oci-load-balancer-shape-flex-max": "10",
        "oci.oraclecloud.com/initial-freeform-tags-override": (
            '{"freetier-name": "freetier-ingress"}'
        ),
    }
    # No hostname in the shipped stack: HTTP only, no certificate.
    assert [(lst["name"], lst["port"]) for lst in gateway["spec"]["listeners"]] == [("http", 80)]
    assert "Certificate" not in {
        d.get("kind") for _, d in docs({"g.yaml": files["infrastructure/configs/gateway.yaml"]})
    }
    crds = by_kind(files, "GitRepository")["gateway-api"]
    assert crds["spec"]["ref"] == {"tag": "v1.6.1"}
    sync = by_kind(files, "Kustomization")["gateway-api"]
    assert sync["spec"]["path"] == "./config/crd/standard" and "images" not in sync["spec"]
    assert "gateway-api" in files["infrastructure/controllers/kustomization.yaml"]


def test_a_hostname_adds_https_with_a_cert_manager_certificate(shipped: Stack) -> None:
    stack = shipped.model_copy(
        update={"ingress": shipped.ingress.model_copy(update={"hostname": "www.example.com"})}
    )
    files = render_tree(stack)
    https = by_kind(files, "Gateway")["public"]["spec"]["listeners"][1]
    assert https == {
        "allowedRoutes": {"namespaces": {"from": "All"}},
        "hostname": "www.example.com",
        "name": "https",
        "port": 443,
        "protocol": "HTTPS",
        "tls": {
            "certificateRefs": [{"kind": "Secret", "name": "gateway-tls"}],
            "mode": "Terminate",
        },
    }
    certificate = by_kind(files, "Certificate")["gateway-tls"]
    assert certificate["metadata"]["namespace"] == "gateway"
    assert certificate["spec"]["dnsNames"] == ["www.example.com"]
    assert certificate["spec"]["secretName"] == "gateway-tls"
    # Issued by the stack's CA ClusterIssuer, which the tree renders.
    assert certificate["spec"]["issuerRef"]["name"] == "freetier-ca"
    assert "freetier-ca" in by_kind(files, "ClusterIssuer")


def test_no_gateway_when_the_stack_switches_ingress_off(shipped: Stack) -> None:
    stack = shipped.model_copy(
        update={"ingress": shipped.ingress.model_copy(update={"enabled": False})}
    )
    files = render_tree(stack)
    assert "Gateway" not in {d.get("kind") for _, d in docs(files)}
    assert not any("gateway" in p for p in files)
    assert "gatewayAPI" not in by_kind(files, "HelmRelease")["cilium"]["spec"]["values"]
