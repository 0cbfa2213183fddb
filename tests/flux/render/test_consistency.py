"""Cross-layer checks: a clean render passes; each injected mismatch is caught by its rule."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from freetier.flux.consistency import (
    Document,
    check_consistency,
    format_finding,
    parse_documents,
)
from freetier.flux.render import render_tree
from freetier.stack import Stack
from freetier.talos import talos_cluster_patch

RELEASE = "infrastructure/controllers/cilium/release.yaml"


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
        (_set("spec", "chart", "spec", "version", value="1.17.0"), {"consistency/cilium-version"}),
        (
            _set("spec", "values", "operator", "replicas", value=2),
            {"consistency/cilium-values"},
        ),
        (
            _set("spec", "values", "kubeProxyReplacement", value=False),
            {"consistency/cilium-values", "consistency/kube-proxy-replacement"},
        ),
        (
            _set("spec", "values", "k8sServicePort", value=6443),
            {"consistency/cilium-values", "consistency/kubeprism"},
        ),
        (
            _set("spec", "values", "k8sServiceHost", value="10.0.1.10"),
            {"consistency/cilium-values", "consistency/kubeprism"},
        ),
        (
            _set("spec", "values", "ipv4NativeRoutingCIDR", value="10.42.0.0/16"),
            {"consistency/cilium-values", "consistency/pod-cidr"},
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
