"""Each node's Talos config patches: checked against Talos's published schema and by hand."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from freetier.errors import ConfigError
from freetier.stack import Stack, load_stack
from freetier.talos.machine import node_names, node_patches, schematic
from tests.conftest import PROXMOX_EXAMPLE, SHIPPED_STACK

SCHEMAS = Path(__file__).parent / "schemas"


def _relaxed(node: Any) -> Any:
    """The schema without `required`: a patch names only the fields it changes."""
    if isinstance(node, dict):
        return {k: _relaxed(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_relaxed(v) for v in node]
    return node


@cache
def _validator(talos_minor: str) -> jsonschema.Draft202012Validator:
    published = json.loads((SCHEMAS / f"talos-v{talos_minor}.config.schema.json").read_text())
    return jsonschema.Draft202012Validator(_relaxed(published))


def _errors(document: dict[str, Any]) -> list[str]:
    return [e.message for e in _validator("1.13.9").iter_errors(document)]


@pytest.fixture
def shipped() -> Stack:
    return load_stack(SHIPPED_STACK)


def test_node_names_are_the_talos_instances(shipped: Stack) -> None:
    assert node_names(shipped) == ["node-1", "node-2"]


@pytest.mark.parametrize("node", ["node-1", "node-2"])
def test_every_patch_fits_the_talos_1_13_schema(shipped: Stack, node: str) -> None:
    for document in node_patches(shipped, node):
        assert _errors(document) == [], document


def test_the_schema_check_can_fail() -> None:
    # The relaxed schema still refuses an unknown field and a wrong enum value.
    assert _errors({"machine": {"network": {"hostname": "node-1"}}})
    assert _errors(
        {"apiVersion": "v1alpha1", "kind": "NetworkDefaultActionConfig", "ingress": "drop"}
    )


def test_controlplane_patches_written_out(shipped: Stack) -> None:
    patches = node_patches(shipped, "node-1")
    assert patches[0] == {
        "cluster": {
            "network": {
                "cni": {"name": "none"},
                "podSubnets": ["10.244.0.0/16"],
                "serviceSubnets": ["10.96.0.0/12"],
            },
            "proxy": {"disabled": True},
            # The Gateway API CRDs Cilium's operator looks for when it starts.
            "extraManifests": [
                "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.1/"
                "standard-install.yaml"
            ],
            "externalCloudProvider": {
                "enabled": True,
                "manifests": [
                    "https://github.com/oracle/oci-cloud-controller-manager/releases/download/"
                    "v1.33.2/oci-cloud-controller-manager-rbac.yaml",
                    "https://github.com/oracle/oci-cloud-controller-manager/releases/download/"
                    "v1.33.2/oci-cloud-controller-manager.yaml",
                ],
            },
        },
        "machine": {"features": {"kubePrism": {"enabled": True, "port": 7445}}},
    }
    assert patches[1] == {
        "machine": {
            "install": {"disk": "/dev/sda"},
            "certSANs": ["node-1"],
            "nodeLabels": {"freetier.dev/stack": "freetier", "freetier.dev/node": "node-1"},
            "kubelet": {"nodeIP": {"validSubnets": ["10.0.1.0/24"]}},
        },
        "cluster": {"apiServer": {"certSANs": ["node-1"]}},
    }
    assert patches[2:5] == [
        {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "auto": "off", "hostname": "node-1"},
        {
            "apiVersion": "v1alpha1",
            "kind": "TimeSyncConfig",
            "ntp": {"servers": ["169.254.169.254"]},
        },
        {
            "apiVersion": "v1alpha1",
            "kind": "ExtensionServiceConfig",
            "name": "tailscale",
            "environment": [
                "TS_AUTHKEY=${tailscale_authkey}",
                "TS_HOSTNAME=node-1",
                "TS_AUTH_ONCE=true",
            ],
        },
    ]


def _rule(name: str, port: int | str, protocol: str, *subnets: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1alpha1",
        "kind": "NetworkRuleConfig",
        "name": name,
        "portSelector": {"ports": [port], "protocol": protocol},
        "ingress": [{"subnet": s} for s in subnets],
    }


BLOCK = {"apiVersion": "v1alpha1", "kind": "NetworkDefaultActionConfig", "ingress": "block"}
VCN = "10.0.1.0/24"
TAILNET = "100.64.0.0/10"


def test_controlplane_firewall_for_the_shipped_stack(shipped: Stack) -> None:
    assert node_patches(shipped, "node-1")[5:] == [
        BLOCK,
        _rule("apid-ingress", 50000, "tcp", VCN, TAILNET),
        _rule("trustd-ingress", 50001, "tcp", VCN),
        _rule("etcd-ingress", "2379-2380", "tcp", VCN),
        _rule("kubernetes-api-ingress", 6443, "tcp", VCN, TAILNET),
        _rule("kubelet-ingress", 10250, "tcp", VCN),
        _rule("cilium-vxlan", 8472, "udp", VCN),
        _rule("cilium-health", 4240, "tcp", VCN),
        _rule("nodeport-ingress", "30000-32767", "tcp", VCN),
    ]


def test_worker_firewall_opens_no_control_plane_port(shipped: Stack) -> None:
    patches = node_patches(shipped, "node-2")
    assert patches[1]["machine"]["certSANs"] == ["node-2"]
    assert "cluster" not in patches[1]
    assert patches[5:] == [
        BLOCK,
        _rule("apid-ingress", 50000, "tcp", VCN, TAILNET),
        _rule("kubelet-ingress", 10250, "tcp", VCN),
        _rule("cilium-vxlan", 8472, "udp", VCN),
        _rule("cilium-health", 4240, "tcp", VCN),
        _rule("nodeport-ingress", "30000-32767", "tcp", VCN),
    ]


def test_no_node_ports_and_no_gateway_crds_without_ingress(shipped: Stack) -> None:
    stack = shipped.model_copy(
        update={"ingress": shipped.ingress.model_copy(update={"enabled": False})}
    )
    patches = node_patches(stack, "node-2")
    assert "extraManifests" not in patches[0]["cluster"]
    assert "nodeport-ingress" not in [p.get("name") for p in patches]


def test_kube_proxy_stays_when_the_stack_keeps_it(shipped: Stack) -> None:
    stack = shipped.model_copy(
        update={"kubernetes": shipped.kubernetes.model_copy(update={"kube_proxy": True})}
    )
    assert node_patches(stack, "node-2")[0]["cluster"]["proxy"] == {"disabled": False}


def test_the_auth_key_is_only_a_placeholder(shipped: Stack) -> None:
    text = json.dumps([node_patches(shipped, n) for n in node_names(shipped)])
    assert text.count("TS_AUTHKEY=") == 2
    assert text.count("TS_AUTHKEY=${tailscale_authkey}") == 2


def test_unknown_node_names_the_known_ones(shipped: Stack) -> None:
    with pytest.raises(ConfigError) as caught:
        node_patches(shipped, "node-9")
    assert caught.value.problems == (
        "no Talos node named 'node-9' in the stack (known nodes: node-1, node-2)",
    )


def test_a_talos_line_without_a_written_form_is_refused(shipped: Stack) -> None:
    stack = shipped.model_copy(
        update={"versions": shipped.versions.model_copy(update={"talos": "v1.14.0"})}
    )
    with pytest.raises(ConfigError) as caught:
        node_patches(stack, "node-1")
    assert caught.value.problems == (
        "versions.talos: v1.14.0: freetier writes the machine configuration of Talos 1.13 only "
        "(1.14 moved it to multi-document kinds); pin a v1.13 release",
    )


def test_proxmox_nodes_are_listed_but_not_configured() -> None:
    stack = load_stack(PROXMOX_EXAMPLE)
    names = node_names(stack)
    assert names == [vm.name for vm in stack.proxmox.talos_vms] if stack.proxmox else []
    with pytest.raises(ConfigError, match="direct topology only"):
        node_patches(stack, names[0])


def test_schematic_adds_the_tailscale_extension(shipped: Stack) -> None:
    assert schematic(shipped) == {
        "customization": {"systemExtensions": {"officialExtensions": ["siderolabs/tailscale"]}}
    }
