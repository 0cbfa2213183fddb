"""Cross-layer consistency of our own stack: what Talos bootstraps vs what Flux deploys. Pure.

Every check takes the stack, plain parsed YAML documents with the file each came from
(`[(path, dict), ...]`: the rendered tree, the files on disk, or a kustomize build) and
optionally the Talos cluster patches as `(label, dict or [dict, ...])` (default: the control
planes' cluster documents `freetier.talos` derives from the stack, in the form of its Talos
line: one v1alpha1 patch for 1.13, KubeProxyConfig, KubePrismConfig, KubeNetworkConfig, ...
for 1.14). It returns findings naming file, object and rule; [] = consistent.

`check_cilium_bootstrap` compares two artifacts made independently of each other: the
HelmRelease as read back from the tree's YAML, and the talos layer's `cilium` input as read
back from its tfvars JSON (the file `freetier tofu vars --layer talos` wrote, or the same text
derived now), whose values are a YAML string of their own. Any drift between the release
Talos installs and the one Flux adopts (chart, version, repository, release name, namespace,
a value) is a finding: an adoption that is not a no-op restarts every Cilium agent, and an
inline manifest older than the HelmRelease downgrades Cilium on `upgrade-k8s`.
"""

from __future__ import annotations

import json
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
    cilium_bootstrap,
    cilium_chart_version,
    cilium_values,
    talos_cluster_documents,
)

Document = tuple[str, Mapping[str, Any]]
# One v1alpha1 patch, or a list of Talos documents (a multi-document kind has `kind`).
TalosPatch = tuple[str, Mapping[str, Any] | Sequence[Mapping[str, Any]]]
DERIVED_TALOS_PATCH = "talos cluster patch (derived from stack.yaml)"
TALOS_KIND = "TalosConfigPatch"
BOOTSTRAP_KIND = "TalosInlineManifest"
DERIVED_BOOTSTRAP = "tofu/talos cilium input (derived from stack.yaml)"
# The talos layer's variable that holds the bootstrap release (tofu/talos/variables.tf).
BOOTSTRAP_VARIABLE = "cilium"
# Where `freetier tofu vars --layer talos` writes the layer's inputs (repository-relative).
TALOS_TFVARS = "tofu/talos/stack.auto.tfvars.json"
# The bootstrap input as `(label, the layer's cilium variable)`.
Bootstrap = tuple[str, Mapping[str, Any]]


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
    stack: Stack,
    documents: Sequence[Document],
    talos_patch: TalosPatch | None = None,
    bootstrap: Bootstrap | None = None,
) -> list[Finding]:
    """Every check below, all findings together; `bootstrap` defaults to the talos layer's
    input derived from the stack (`derived_bootstrap`)."""
    findings = [f for check in CHECKS for f in check(stack, documents, talos_patch)]
    return findings + check_cilium_bootstrap(documents, bootstrap or derived_bootstrap(stack))


def derived_bootstrap(stack: Stack) -> Bootstrap:
    """The talos layer's `cilium` input as its tfvars file carries it (JSON, read back)."""
    text = json.dumps({BOOTSTRAP_VARIABLE: cilium_bootstrap(stack)}, sort_keys=True)
    return bootstrap_from_tfvars(text, DERIVED_BOOTSTRAP)


def bootstrap_from_tfvars(text: str, label: str) -> Bootstrap:
    """The `cilium` variable of a talos tfvars file's text; ConfigError naming `label` when
    the text is not JSON or holds no such object."""
    try:
        tfvars = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ConfigError([f"{label}: not valid JSON"]) from None
    value = tfvars.get(BOOTSTRAP_VARIABLE) if isinstance(tfvars, dict) else None
    if not isinstance(value, dict):
        raise ConfigError(
            [f"{label}: {BOOTSTRAP_VARIABLE}: missing; run `freetier tofu vars --layer talos`"]
        )
    return label, value


def check_cilium_bootstrap(documents: Sequence[Document], bootstrap: Bootstrap) -> list[Finding]:
    """The release Talos bootstraps and each cilium HelmRelease of the tree are the same
    release: chart, repository URL, version, release name, namespace and values."""
    label, wanted = bootstrap
    try:
        values = yaml.safe_load(str(wanted.get("values", "")))
    except yaml.YAMLError:
        values = None
    if not isinstance(values, Mapping):
        message = "values: not a YAML mapping"
        return [_bootstrap_finding(label, "consistency/bootstrap-values", message)]
    findings = []
    for path, doc in cilium_releases(documents):
        got = _release_identity(doc, documents)
        for key, rule in (
            ("chart", "consistency/bootstrap-chart"),
            ("repository", "consistency/bootstrap-chart"),
            ("version", "consistency/bootstrap-version"),
            ("release", "consistency/bootstrap-release"),
            ("namespace", "consistency/bootstrap-release"),
        ):
            if str(got[key]) != str(wanted.get(key)):
                message = f"{key} {got[key]!r}, but Talos bootstraps {wanted.get(key)!r} ({label})"
                findings.append(_release_finding(path, doc, rule, message))
        if _get(doc, "spec", "valuesFrom"):
            message = "valuesFrom: Talos bootstraps inline values only; Flux would differ"
            findings.append(_release_finding(path, doc, "consistency/bootstrap-values", message))
        release_values = _get(doc, "spec", "values")
        differing = _differing_keys(
            values, release_values if isinstance(release_values, Mapping) else {}
        )
        if differing:
            message = f"values differ from what Talos bootstraps ({label}) at: " + ", ".join(
                differing
            )
            findings.append(_release_finding(path, doc, "consistency/bootstrap-values", message))
    return findings


def _release_identity(doc: Mapping[str, Any], documents: Sequence[Document]) -> dict[str, Any]:
    """What Helm installs for a HelmRelease: chart, repository URL, version, release, ns."""
    namespace = _get(doc, "metadata", "namespace")
    ref = _get(doc, "spec", "chart", "spec", "sourceRef") or {}
    ref_ns = ref.get("namespace", namespace) if isinstance(ref, Mapping) else None
    urls = [
        _get(d, "spec", "url")
        for _, d in documents
        if isinstance(ref, Mapping)
        and d.get("kind") == ref.get("kind") == "HelmRepository"
        and _get(d, "metadata", "name") == ref.get("name")
        and _get(d, "metadata", "namespace") == ref_ns
    ]
    return {
        "chart": _get(doc, "spec", "chart", "spec", "chart"),
        "repository": urls[0] if urls else None,
        "version": _get(doc, "spec", "chart", "spec", "version"),
        "release": _get(doc, "spec", "releaseName") or _get(doc, "metadata", "name"),
        "namespace": _get(doc, "spec", "targetNamespace") or namespace,
    }


def _bootstrap_finding(label: str, rule: str, message: str) -> Finding:
    return Finding(rule, message, label, kind=BOOTSTRAP_KIND, name=CILIUM_RELEASE)


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
    label, patches = _talos_documents(stack, talos_patch)
    findings = []
    proxy = _talos_kind(patches, "KubeProxyConfig")
    if proxy is not None:
        field, talos_disabled = "KubeProxyConfig", proxy.get("enabled") is False
        seen = f"KubeProxyConfig.enabled is {not talos_disabled}"
    else:
        field = "cluster.proxy"
        talos_disabled = _talos_v1alpha1(patches, "cluster", "proxy", "disabled") is True
        seen = f"cluster.proxy.disabled is {talos_disabled}"
    if talos_disabled != disabled:
        message = f"{seen}, but stack kubernetes.kube_proxy is {stack.kubernetes.kube_proxy}"
        findings.append(_talos_finding(label, field, "consistency/kube-proxy", message))
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
    label, patches = _talos_documents(stack, talos_patch)
    findings = []
    prism = _talos_kind(patches, "KubePrismConfig")
    field = "KubePrismConfig"
    if prism is None:  # 1.13: a v1alpha1 feature; 1.14: the document's presence enables it
        field = "machine.features.kubePrism"
        prism = _talos_v1alpha1(patches, "machine", "features", "kubePrism")
        if isinstance(prism, Mapping) and prism.get("enabled") is not True:
            prism = None
    problem = None
    if not isinstance(prism, Mapping):
        problem = "KubePrism is not enabled"
    elif prism.get("port") != KUBEPRISM_PORT:
        problem = f"KubePrism port {prism.get('port')!r}, expected {KUBEPRISM_PORT}"
    if problem:
        findings.append(_talos_finding(label, field, "consistency/kubeprism", problem))
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
    label, patches = _talos_documents(stack, talos_patch)
    findings = []
    network = _talos_kind(patches, "KubeNetworkConfig")
    if network is not None:
        field, subnets = "KubeNetworkConfig.podSubnets", network.get("podSubnets")
    else:
        field = "cluster.network.podSubnets"
        subnets = _talos_v1alpha1(patches, "cluster", "network", "podSubnets")
    if subnets != [want]:
        message = f"podSubnets {subnets!r}, but stack network.pod_cidr is {want}"
        findings.append(_talos_finding(label, field, "consistency/pod-cidr", message))
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


def _talos_documents(
    stack: Stack, talos_patch: TalosPatch | None
) -> tuple[str, list[Mapping[str, Any]]]:
    """The label and documents to check: those given, or the control planes' derived ones."""
    if talos_patch is None:
        return DERIVED_TALOS_PATCH, list(talos_cluster_documents(stack, "controlplane"))
    label, patch = talos_patch
    return label, [patch] if isinstance(patch, Mapping) else list(patch)


def _talos_kind(documents: Sequence[Mapping[str, Any]], kind: str) -> Mapping[str, Any] | None:
    return next((d for d in documents if d.get("kind") == kind), None)


def _talos_v1alpha1(documents: Sequence[Mapping[str, Any]], *keys: str) -> Any:
    """The value at `keys` in the first v1alpha1 patch (one without `kind`) that has it."""
    found = (_get(d, *keys) for d in documents if "kind" not in d)
    return next((v for v in found if v is not None), None)


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


def consistency_check(
    stack: Stack, bootstrap: Bootstrap | None = None
) -> Callable[[RepoIndex], list[Finding]]:
    """These checks as an extra check of `freetier flux validate` (our own stack only);
    `bootstrap`: the talos layer's input as read from its tfvars file, when there is one."""

    def check(index: RepoIndex) -> list[Finding]:
        documents = [(o.file, o.body) for o in index.raw]
        return check_consistency(stack, documents, bootstrap=bootstrap)

    return check


def format_finding(finding: Finding) -> str:
    return f"{finding.file}: {finding.object_ref}: {finding.rule}: {finding.message}"
