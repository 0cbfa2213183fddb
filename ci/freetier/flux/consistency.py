"""Cross-layer consistency of our own stack: what Talos bootstraps vs what Flux deploys. Pure.

Every check takes the stack, plain parsed YAML documents with the file each came from
(`[(path, dict), ...]`: the rendered tree, the files on disk, or a kustomize build) and
optionally the Talos cluster patch as `(label, dict)` (default: the one `freetier.talos`
derives from the stack). It returns findings naming file, object and rule; [] = consistent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import yaml

from freetier.errors import ConfigError
from freetier.files import check_tree
from freetier.flux.validate.index import RepoIndex
from freetier.flux.validate.model import Finding
from freetier.stack.model import Stack
from freetier.talos.cilium import (
    CILIUM_RELEASE,
    KUBEPRISM_HOST,
    KUBEPRISM_PORT,
    cilium_chart_version,
    cilium_values,
    talos_cluster_patch,
)

Document = tuple[str, Mapping[str, Any]]
TalosPatch = tuple[str, Mapping[str, Any]]
DERIVED_TALOS_PATCH = "talos cluster patch (derived from stack.yaml)"
TALOS_KIND = "TalosConfigPatch"


Check = Callable[[Stack, Sequence[Document], "TalosPatch | None"], list[Finding]]


def parse_documents(files: Mapping[str, str]) -> list[Document]:
    """Plain documents of YAML files (path -> text); non-mapping documents are skipped, and so
    is a file that is not bounded YAML: it differs from what freetier renders, so the tree
    check reports it as out of date (without quoting its lines, which may hold a secret)."""
    docs: list[Document] = []
    for path, text in files.items():
        if not path.endswith((".yaml", ".yml")):
            continue
        try:
            loaded = list(yaml.safe_load_all(text))
            for document in loaded:
                check_tree(document, path)
        except (yaml.YAMLError, RecursionError, ConfigError):
            continue
        docs += [(path, d) for d in loaded if isinstance(d, Mapping)]
    return docs


def check_consistency(
    stack: Stack, documents: Sequence[Document], talos_patch: TalosPatch | None = None
) -> list[Finding]:
    """Every check below, all findings together."""
    return [f for check in CHECKS for f in check(stack, documents, talos_patch)]


def check_cilium_version(
    stack: Stack, documents: Sequence[Document], talos_patch: TalosPatch | None = None
) -> list[Finding]:
    """A HelmRelease deploys the cilium chart at the version Talos bootstraps."""
    releases = cilium_releases(documents)
    if not releases:
        message = (
            "no HelmRelease deploys the cilium chart: Flux never takes over the CNI Talos "
            "bootstraps"
        )
        return [
            Finding("consistency/cilium-release-missing", message, "(tree)", kind="HelmRelease")
        ]
    want = cilium_chart_version(stack)
    return [
        _release_finding(
            path,
            doc,
            "consistency/cilium-version",
            f"chart version {got!r}, but Talos bootstraps {want!r} (stack versions.cilium)",
        )
        for path, doc in releases
        if str(got := _get(doc, "spec", "chart", "spec", "version")) != want
    ]


def check_cilium_values(
    stack: Stack, documents: Sequence[Document], talos_patch: TalosPatch | None = None
) -> list[Finding]:
    """The HelmRelease's values equal the values Talos bootstraps, key for key."""
    want = cilium_values(stack)
    findings = []
    for path, doc in cilium_releases(documents):
        got = _get(doc, "spec", "values")
        differing = _differing_keys(want, got if isinstance(got, Mapping) else {})
        if differing:
            message = "values differ from the Cilium values Talos bootstraps at: " + ", ".join(
                differing
            )
            findings.append(_release_finding(path, doc, "consistency/cilium-values", message))
    return findings


def check_kube_proxy(
    stack: Stack, documents: Sequence[Document], talos_patch: TalosPatch | None = None
) -> list[Finding]:
    """kube-proxy disabled (stack, Talos) <=> Cilium's kubeProxyReplacement is true."""
    disabled = not stack.kubernetes.kube_proxy
    label, patch = talos_patch or (DERIVED_TALOS_PATCH, talos_cluster_patch(stack))
    findings = []
    talos_disabled = _get(patch, "cluster", "proxy", "disabled") is True
    if talos_disabled != disabled:
        message = (
            f"cluster.proxy.disabled is {talos_disabled}, but stack kubernetes.kube_proxy is "
            f"{stack.kubernetes.kube_proxy}"
        )
        findings.append(_talos_finding(label, "cluster.proxy", "consistency/kube-proxy", message))
    for path, doc in cilium_releases(documents):
        replacement = _truthy(_get(doc, "spec", "values", "kubeProxyReplacement"))
        if replacement != disabled:
            effect = (
                "nothing would implement Services"
                if disabled
                else "kube-proxy and Cilium would both implement Services"
            )
            message = (
                f"kubeProxyReplacement is {replacement}, but kube-proxy is "
                f"{'disabled' if disabled else 'enabled'}: {effect}"
            )
            findings.append(
                _release_finding(path, doc, "consistency/kube-proxy-replacement", message)
            )
    return findings


def check_kubeprism(
    stack: Stack, documents: Sequence[Document], talos_patch: TalosPatch | None = None
) -> list[Finding]:
    """Cilium reaches the API server through KubePrism (localhost:7445), enabled in Talos."""
    label, patch = talos_patch or (DERIVED_TALOS_PATCH, talos_cluster_patch(stack))
    findings = []
    prism = _get(patch, "machine", "features", "kubePrism")
    problem = None
    if not isinstance(prism, Mapping) or prism.get("enabled") is not True:
        problem = "KubePrism is not enabled"
    elif prism.get("port") != KUBEPRISM_PORT:
        problem = f"KubePrism port {prism.get('port')!r}, expected {KUBEPRISM_PORT}"
    if problem:
        findings.append(
            _talos_finding(label, "machine.features.kubePrism", "consistency/kubeprism", problem)
        )
    for path, doc in cilium_releases(documents):
        host = _get(doc, "spec", "values", "k8sServiceHost")
        port = _get(doc, "spec", "values", "k8sServicePort")
        if host != KUBEPRISM_HOST or str(port) != str(KUBEPRISM_PORT):
            message = (
                f"k8sServiceHost:k8sServicePort is {host}:{port}, expected KubePrism "
                f"{KUBEPRISM_HOST}:{KUBEPRISM_PORT}"
            )
            findings.append(_release_finding(path, doc, "consistency/kubeprism", message))
    return findings


def check_pod_cidr(
    stack: Stack, documents: Sequence[Document], talos_patch: TalosPatch | None = None
) -> list[Finding]:
    """One pod CIDR everywhere: the stack, Talos podSubnets and the Cilium values."""
    want = stack.network.pod_cidr
    label, patch = talos_patch or (DERIVED_TALOS_PATCH, talos_cluster_patch(stack))
    findings = []
    subnets = _get(patch, "cluster", "network", "podSubnets")
    if subnets != [want]:
        message = f"podSubnets {subnets!r}, but stack network.pod_cidr is {want}"
        findings.append(
            _talos_finding(label, "cluster.network.podSubnets", "consistency/pod-cidr", message)
        )
    for path, doc in cilium_releases(documents):
        values = _get(doc, "spec", "values")
        values = values if isinstance(values, Mapping) else {}
        seen = {"ipv4NativeRoutingCIDR": values.get("ipv4NativeRoutingCIDR")}
        pool = _get(values, "ipam", "operator", "clusterPoolIPv4PodCIDRList")
        if pool is not None:
            seen["ipam.operator.clusterPoolIPv4PodCIDRList"] = pool
        for key, got in seen.items():
            if got not in (want, [want]):
                message = f"{key} is {got!r}, but stack network.pod_cidr is {want}"
                findings.append(_release_finding(path, doc, "consistency/pod-cidr", message))
    return findings


CHECKS: tuple[Check, ...] = (
    check_cilium_version,
    check_cilium_values,
    check_kube_proxy,
    check_kubeprism,
    check_pod_cidr,
)


def cilium_releases(documents: Iterable[Document]) -> list[Document]:
    """Flux HelmReleases of the cilium chart (by chart name, or by the release's name)."""
    return [
        (path, doc)
        for path, doc in documents
        if doc.get("kind") == "HelmRelease"
        and str(doc.get("apiVersion", "")).startswith("helm.toolkit.fluxcd.io/")
        and (
            _get(doc, "spec", "chart", "spec", "chart") == "cilium"
            or _get(doc, "metadata", "name") == CILIUM_RELEASE
        )
    ]


def _release_finding(path: str, doc: Mapping[str, Any], rule: str, message: str) -> Finding:
    return Finding(
        rule,
        message,
        path,
        kind=str(doc.get("kind", "")),
        namespace=str(_get(doc, "metadata", "namespace") or ""),
        name=str(_get(doc, "metadata", "name") or ""),
    )


def _talos_finding(label: str, field: str, rule: str, message: str) -> Finding:
    return Finding(rule, message, label, kind=TALOS_KIND, name=field)


def _get(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(key)
    return doc


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "strict"))


def _differing_keys(want: Any, got: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two value trees differ (a key missing on either side included)."""
    if isinstance(want, Mapping) and isinstance(got, Mapping):
        out: list[str] = []
        for key in sorted(set(want) | set(got), key=str):
            out += _differing_keys(want.get(key), got.get(key), f"{prefix}{key}.")
        return out
    return [] if want == got else [prefix.rstrip(".") or "(values)"]


def consistency_check(stack: Stack) -> Callable[[RepoIndex], list[Finding]]:
    """These checks as an extra check of `freetier flux validate` (our own stack only)."""

    def check(index: RepoIndex) -> list[Finding]:
        return check_consistency(stack, [(o.file, o.body) for o in index.raw])

    return check


def format_finding(finding: Finding) -> str:
    return f"{finding.file}: {finding.object_ref}: {finding.rule}: {finding.message}"
