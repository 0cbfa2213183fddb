"""The Cilium Talos bootstraps and the cluster patch, derived from the stack per the Talos guide."""

from __future__ import annotations

from pathlib import Path

import pytest

from freetier.charts import OCI_CCM
from freetier.stack import Stack, load_stack
from freetier.talos import (
    KUBEPRISM_HOST,
    KUBEPRISM_PORT,
    cilium_chart_version,
    cilium_values,
    talos_cluster_patch,
)
from tests.conftest import PROXMOX_EXAMPLE, SHIPPED_STACK


@pytest.fixture
def shipped() -> Stack:
    return load_stack(SHIPPED_STACK)


def _with(stack: Stack, **kubernetes: bool) -> Stack:
    return stack.model_copy(update={"kubernetes": stack.kubernetes.model_copy(update=kubernetes)})


def test_values_follow_the_talos_guide(shipped: Stack) -> None:
    values = cilium_values(shipped)
    assert values["ipam"] == {"mode": "kubernetes"}
    assert values["cgroup"] == {"autoMount": {"enabled": False}, "hostRoot": "/sys/fs/cgroup"}
    assert (values["k8sServiceHost"], values["k8sServicePort"]) == ("localhost", 7445)
    agent = values["securityContext"]["capabilities"]["ciliumAgent"]
    assert "SYS_MODULE" not in agent and {"NET_ADMIN", "SYS_ADMIN", "NET_RAW"} <= set(agent)
    assert values["securityContext"]["capabilities"]["cleanCiliumState"] == [
        "NET_ADMIN",
        "SYS_ADMIN",
        "SYS_RESOURCE",
    ]


@pytest.mark.parametrize("kube_proxy", [False, True])
def test_kube_proxy_choice_drives_both_layers(shipped: Stack, kube_proxy: bool) -> None:
    stack = _with(shipped, kube_proxy=kube_proxy)
    assert cilium_values(stack)["kubeProxyReplacement"] is (not kube_proxy)
    assert talos_cluster_patch(stack)["cluster"]["proxy"] == {"disabled": not kube_proxy}


def test_patch_carries_the_stack_network_and_kubeprism(shipped: Stack) -> None:
    patch = talos_cluster_patch(shipped)
    network = patch["cluster"]["network"]
    assert network["cni"] == {"name": "none"}
    assert network["podSubnets"] == [shipped.network.pod_cidr]
    assert network["serviceSubnets"] == [shipped.network.service_cidr]
    assert patch["machine"]["features"]["kubePrism"] == {"enabled": True, "port": KUBEPRISM_PORT}
    assert cilium_values(shipped)["ipv4NativeRoutingCIDR"] == shipped.network.pod_cidr
    assert KUBEPRISM_HOST == "localhost"


def test_chart_version_comes_from_the_stack(shipped: Stack) -> None:
    assert cilium_chart_version(shipped) == shipped.versions.cilium.removeprefix("v")
    pinned = shipped.model_copy(
        update={"versions": shipped.versions.model_copy(update={"cilium": "v1.18.9"})}
    )
    assert cilium_chart_version(pinned) == "1.18.9"


def test_external_cloud_provider_only_for_oci_instances(shipped: Stack) -> None:
    ccm = talos_cluster_patch(shipped)["cluster"]["externalCloudProvider"]
    assert ccm["enabled"] is True
    assert all(OCI_CCM.tag in url for url in ccm["manifests"])
    proxmox = load_stack(Path(PROXMOX_EXAMPLE))
    assert "externalCloudProvider" not in talos_cluster_patch(proxmox)["cluster"]
    off = shipped.model_copy(update={"apps": shipped.apps.model_copy(update={"oci_ccm": False})})
    assert "externalCloudProvider" not in talos_cluster_patch(off)["cluster"]
