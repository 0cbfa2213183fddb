"""Cross-layer checks: a clean render passes; each injected mismatch is caught by its rule."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from freetier.errors import ConfigError
from freetier.flux.consistency import (
    Document,
    bootstrap_from_tfvars,
    check_cilium_bootstrap,
    check_consistency,
    format_finding,
    parse_documents,
)
from freetier.flux.render import render_tree
from freetier.stack import Stack
from freetier.talos import talos_cluster_documents, talos_cluster_patch
from freetier.tofu.vars import tfvars_text

RELEASE = "infrastructure/controllers/cilium/release.yaml"
CILIUM_REPOSITORY = "infrastructure/controllers/cilium/repository.yaml"
ROOT = Path(__file__).resolve().parents[3]


def documents(stack: Stack) -> list[Document]:
    return parse_documents(render_tree(stack))


def mutate_release(
    docs: list[Document], change: Callable[[dict[str, Any]], None]
) -> list[Document]:
    out: list[Document] = []
    for path, doc in docs:
        if path == RELEASE:
            doc = copy.deepcopy(dict(doc))
            change(doc)
        out.append((path, doc))
    return out


def rules(findings: list[Any]) -> set[str]:
    return {f.rule for f in findings}


def test_the_rendered_tree_is_consistent(shipped: Stack, proxmox: Stack) -> None:
    assert check_consistency(shipped, documents(shipped)) == []
    assert check_consistency(proxmox, documents(proxmox)) == []


def _set(*keys: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        node = doc
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            _set("spec", "chart", "spec", "version", value="1.17.0"),
            {"consistency/cilium-version", "consistency/bootstrap-version"},
        ),
        (
            _set("spec", "values", "operator", "replicas", value=2),
            {"consistency/cilium-values", "consistency/bootstrap-values"},
        ),
        (
            _set("spec", "values", "kubeProxyReplacement", value=False),
            {
                "consistency/cilium-values",
                "consistency/kube-proxy-replacement",
                "consistency/bootstrap-values",
            },
        ),
        (
            _set("spec", "values", "k8sServicePort", value=6443),
            {"consistency/cilium-values", "consistency/kubeprism", "consistency/bootstrap-values"},
        ),
        (
            _set("spec", "values", "k8sServiceHost", value="10.0.1.10"),
            {"consistency/cilium-values", "consistency/kubeprism", "consistency/bootstrap-values"},
        ),
        (
            _set("spec", "values", "ipv4NativeRoutingCIDR", value="10.42.0.0/16"),
            {"consistency/cilium-values", "consistency/pod-cidr", "consistency/bootstrap-values"},
        ),
    ],
    ids=[
        "version",
        "values",
        "kube-proxy-replacement",
        "kubeprism-port",
        "kubeprism-host",
        "pod-cidr",
    ],
)
def test_injected_release_mismatch_is_caught(
    shipped: Stack, change: Callable[[dict[str, Any]], None], expected: set[str]
) -> None:
    findings = check_consistency(shipped, mutate_release(documents(shipped), change))
    assert rules(findings) == expected
    assert all(
        f.file == RELEASE and f.object_ref == "HelmRelease/kube-system/cilium" for f in findings
    )


def test_kube_proxy_enabled_in_the_stack_but_replaced_by_cilium(shipped: Stack) -> None:
    with_proxy = shipped.model_copy(
        update={"kubernetes": shipped.kubernetes.model_copy(update={"kube_proxy": True})}
    )
    findings = check_consistency(with_proxy, documents(shipped))
    assert "consistency/kube-proxy-replacement" in rules(findings)


@pytest.mark.parametrize(
    ("keys", "value", "expected"),
    [
        (("cluster", "proxy", "disabled"), False, "consistency/kube-proxy"),
        (("machine", "features", "kubePrism", "port"), 7446, "consistency/kubeprism"),
        (("machine", "features", "kubePrism", "enabled"), False, "consistency/kubeprism"),
        (("cluster", "network", "podSubnets"), ["10.42.0.0/16"], "consistency/pod-cidr"),
    ],
    ids=["proxy", "kubeprism-port", "kubeprism-off", "pod-subnets"],
)
def test_injected_talos_mismatch_is_caught(
    shipped: Stack, keys: tuple[str, ...], value: Any, expected: str
) -> None:
    patch = copy.deepcopy(talos_cluster_patch(shipped))
    _set(*keys, value=value)(patch)
    findings = check_consistency(shipped, documents(shipped), ("talos/patch.yaml", patch))
    assert rules(findings) == {expected}
    [finding] = findings
    assert finding.file == "talos/patch.yaml" and finding.kind == "TalosConfigPatch"
    assert format_finding(finding).startswith("talos/patch.yaml: TalosConfigPatch/")


def test_stack_pod_cidr_change_is_caught_against_an_old_tree(shipped: Stack) -> None:
    moved = shipped.model_copy(
        update={"network": shipped.network.model_copy(update={"pod_cidr": "10.42.0.0/16"})}
    )
    assert "consistency/pod-cidr" in rules(check_consistency(moved, documents(shipped)))


def test_a_missing_cilium_release_is_a_finding(shipped: Stack) -> None:
    docs = [(p, d) for p, d in documents(shipped) if p != RELEASE]
    findings = check_consistency(shipped, docs)
    assert rules(findings) == {"consistency/cilium-release-missing"}
    assert [f.file for f in findings] == ["(tree)"]  # no file to point at: the whole tree


# --- the release Talos bootstraps vs the HelmRelease, each read back from its own artifact ---

OUTPUTS = {
    "instance_private_ips": {"node-1": "10.0.1.10", "node-2": "10.0.1.11"},
    "instance_public_ips": {"node-1": "192.0.2.10", "node-2": "192.0.2.11"},
}


def talos_tfvars(stack: Stack) -> dict[str, Any]:
    """The talos layer's tfvars as `freetier tofu vars --layer talos` writes them, parsed."""
    return json.loads(tfvars_text(stack, "talos", OUTPUTS))


def committed_tree() -> list[Document]:
    """The HelmRelease as committed in this repository, read from its YAML."""
    files = {p: (ROOT / p).read_text() for p in (RELEASE, CILIUM_REPOSITORY)}
    return parse_documents(files)


def test_the_committed_release_is_what_the_talos_tfvars_bootstrap(shipped: Stack) -> None:
    tfvars = talos_tfvars(shipped)
    # The values reach tofu as YAML text inside the JSON file: two serialisations apart.
    assert isinstance(tfvars["cilium"]["values"], str)
    bootstrap = bootstrap_from_tfvars(json.dumps(tfvars), "stack.auto.tfvars.json")
    assert check_cilium_bootstrap(committed_tree(), bootstrap) == []
    # The release the bootstrap renders, written out: the HelmRelease's name and namespace.
    assert {k: v for k, v in tfvars["cilium"].items() if k not in ("values", "api_versions")} == {
        "release": "cilium",
        "namespace": "kube-system",
        "repository": "https://helm.cilium.io/",
        "chart": "cilium",
        "version": "1.20.2",
    }


def _changed_tfvars(shipped: Stack, key: str, value: Any) -> tuple[str, dict[str, Any]]:
    tfvars = talos_tfvars(shipped)
    if key.startswith("values."):
        values = yaml.safe_load(tfvars["cilium"]["values"])
        node = values
        *parents, last = key.removeprefix("values.").split(".")
        for parent in parents:
            node = node[parent]
        node[last] = value
        tfvars["cilium"]["values"] = yaml.safe_dump(values)
    else:
        tfvars["cilium"][key] = value
    return bootstrap_from_tfvars(json.dumps(tfvars), "tofu/talos/stack.auto.tfvars.json")


@pytest.mark.parametrize(
    ("key", "value", "rule", "message"),
    [
        (
            "version",
            "1.19.6",
            "consistency/bootstrap-version",
            "version '1.20.2', but Talos bootstraps '1.19.6'",
        ),
        ("values.operator.replicas", 2, "consistency/bootstrap-values", "at: operator.replicas"),
        ("values.hubble.enabled", True, "consistency/bootstrap-values", "at: hubble.enabled"),
        ("release", "cilium-bootstrap", "consistency/bootstrap-release", "release 'cilium'"),
        ("namespace", "cilium", "consistency/bootstrap-release", "namespace 'kube-system'"),
        ("repository", "https://charts.example.com/", "consistency/bootstrap-chart", "repository"),
    ],
    ids=["version", "values", "hubble", "release", "namespace", "repository"],
)
def test_a_changed_talos_input_fails_against_the_committed_release(
    shipped: Stack, key: str, value: Any, rule: str, message: str
) -> None:
    findings = check_cilium_bootstrap(committed_tree(), _changed_tfvars(shipped, key, value))
    assert [f.rule for f in findings] == [rule]
    assert message in findings[0].message
    assert findings[0].file == RELEASE


def test_a_changed_release_fails_against_the_talos_input(shipped: Stack) -> None:
    bootstrap = bootstrap_from_tfvars(json.dumps(talos_tfvars(shipped)), "tfvars")
    tree = mutate_release(committed_tree(), _set("spec", "values", "gatewayAPI", value={}))
    findings = check_cilium_bootstrap(tree, bootstrap)
    assert [(f.rule, f.message) for f in findings] == [
        (
            "consistency/bootstrap-values",
            "values differ from what Talos bootstraps (tfvars) at: gatewayAPI.enabled",
        )
    ]
    tree = mutate_release(
        committed_tree(), _set("spec", "valuesFrom", value=[{"kind": "ConfigMap", "name": "x"}])
    )
    assert [f.rule for f in check_cilium_bootstrap(tree, bootstrap)] == [
        "consistency/bootstrap-values"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not valid JSON"),
        ('{"cluster_name": "x"}', "cilium: missing; run `freetier tofu vars --layer talos`"),
    ],
)
def test_unreadable_talos_input_is_a_config_error(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        bootstrap_from_tfvars(text, "tofu/talos/stack.auto.tfvars.json")
    assert list(caught.value.problems) == [f"tofu/talos/stack.auto.tfvars.json: {problem}"]


def test_flux_validate_reads_the_talos_tfvars_on_disk(repo: Path, capsys: Any) -> None:
    """`freetier flux validate` fails the PR when the tfvars tofu plans with hold another
    Cilium than the committed HelmRelease."""
    from freetier.cli import main
    from freetier.stack import load_stack

    stack = load_stack(repo / "stack.yaml")
    tfvars = talos_tfvars(stack)
    folder = repo / "tofu" / "talos"
    folder.mkdir(parents=True)
    (folder / "stack.auto.tfvars.json").write_text(json.dumps(tfvars))
    assert main(["flux", "validate", str(repo)]) == 0
    capsys.readouterr()
    tfvars["cilium"]["version"] = "1.19.6"
    (folder / "stack.auto.tfvars.json").write_text(json.dumps(tfvars))
    assert main(["flux", "validate", str(repo)]) == 1
    out = capsys.readouterr().out
    assert "consistency/bootstrap-version" in out and "tofu/talos/stack.auto.tfvars.json" in out


def _on_talos_1_14(stack: Stack) -> Stack:
    return stack.model_copy(
        update={"versions": stack.versions.model_copy(update={"talos": "v1.14.0"})}
    )


def test_talos_1_14_documents_are_consistent_with_the_tree(shipped: Stack) -> None:
    assert check_consistency(_on_talos_1_14(shipped), documents(shipped)) == []


@pytest.mark.parametrize(
    ("kind", "change", "expected", "field"),
    [
        ("KubeProxyConfig", {"enabled": True}, "consistency/kube-proxy", "KubeProxyConfig"),
        ("KubePrismConfig", {"port": 7446}, "consistency/kubeprism", "KubePrismConfig"),
        (
            "KubeNetworkConfig",
            {"podSubnets": ["10.42.0.0/16"]},
            "consistency/pod-cidr",
            "KubeNetworkConfig.podSubnets",
        ),
    ],
    ids=["proxy", "kubeprism-port", "pod-subnets"],
)
def test_injected_talos_1_14_mismatch_is_caught(
    shipped: Stack, kind: str, change: dict[str, Any], expected: str, field: str
) -> None:
    stack = _on_talos_1_14(shipped)
    patches = [
        {**d, **change} if d.get("kind") == kind else d
        for d in talos_cluster_documents(stack, "controlplane")
    ]
    findings = check_consistency(stack, documents(shipped), ("talos/patches.yaml", patches))
    assert rules(findings) == {expected}
    [finding] = findings
    assert finding.name == field


def test_talos_1_14_without_kubeprism_is_caught(shipped: Stack) -> None:
    stack = _on_talos_1_14(shipped)
    patches = [
        d
        for d in talos_cluster_documents(stack, "controlplane")
        if d.get("kind") != "KubePrismConfig"
    ]
    findings = check_consistency(stack, documents(shipped), ("talos/patches.yaml", patches))
    assert [(f.rule, f.message) for f in findings] == [
        ("consistency/kubeprism", "KubePrism is not enabled")
    ]
