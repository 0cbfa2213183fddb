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


# Known errors of a published schema, corrected in the loader (the files stay as published):
# the 1.14 schema names UnattendedInstallConfig's kind `UnattendedInstall`, the kind Talos
# registers and loads is `UnattendedInstallConfig` (runtime/unattended_install.go,
# `UnattendedInstallConfigKind`); siderolabs/talos#14349, fixed by #14351 after v1.14.0-rc.1.
ERRATA = {
    "1.14.0-rc.1": {
        "runtime.UnattendedInstallConfigV1Alpha1": ("UnattendedInstall", "UnattendedInstallConfig")
    }
}


@cache
def _validator(talos_minor: str) -> jsonschema.Draft202012Validator:
    published = json.loads((SCHEMAS / f"talos-v{talos_minor}.config.schema.json").read_text())
    for definition, (wrong, right) in ERRATA.get(talos_minor, {}).items():
        kind = published["$defs"][definition]["properties"]["kind"]
        assert kind["enum"] == [wrong], f"{definition}: erratum no longer applies"
        kind["enum"] = [right]
    return jsonschema.Draft202012Validator(_relaxed(published))


def _errors(document: dict[str, Any], talos: str = "1.13.9") -> list[str]:
    return [e.message for e in _validator(talos).iter_errors(document)]


# The 1.14 schema is the release candidate's (schemas/README.md).
TALOS_1_14_SCHEMA = "1.14.0-rc.1"
DELETE = {"$patch": "delete"}


def _errors_1_14(document: dict[str, Any]) -> list[str]:
    """A whole-document delete (`$patch: delete` beside apiVersion and kind, nothing else) is
    checked as the document it deletes: the schema must know that kind."""
    if document.get("$patch") == "delete":
        rest = {k: v for k, v in document.items() if k != "$patch"}
        if set(rest) != {"apiVersion", "kind"}:
            return [f"a document delete holds more than apiVersion and kind: {sorted(rest)}"]
        document = rest
    return _errors(document, TALOS_1_14_SCHEMA)


@pytest.fixture
def shipped() -> Stack:
    return load_stack(SHIPPED_STACK)


def _on_talos(stack: Stack, version: str) -> Stack:
    return stack.model_copy(
        update={"versions": stack.versions.model_copy(update={"talos": version})}
    )


@pytest.fixture
def shipped_1_14(shipped: Stack) -> Stack:
    """The shipped stack on Talos 1.14: its Kubernetes v1.36.3 is inside the table's 1.14 row
    (1.33 to 1.37)."""
    return _on_talos(shipped, "v1.14.0")


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


@pytest.mark.parametrize("version", ["v1.12.6", "v1.15.0"])
def test_a_talos_line_without_a_written_form_is_refused(shipped: Stack, version: str) -> None:
    with pytest.raises(ConfigError) as caught:
        node_patches(_on_talos(shipped, version), "node-1")
    assert caught.value.problems == (
        f"versions.talos: {version}: freetier writes the machine configuration of Talos 1.13 "
        "(v1alpha1 patches) and 1.14 (multi-document kinds) only; pin a v1.13 or v1.14 release",
    )


def test_proxmox_vms_get_the_direct_configuration_on_their_own_subnet() -> None:
    """The same documents as an A1 node, but the kubelet's node IP and the firewall's node
    source are the VM network (proxmox.vm_network.cidr, 10.10.0.0/24 by default), and no
    TimeSyncConfig pointing at OCI's metadata address, which a Proxmox VM cannot reach."""
    stack = load_stack(PROXMOX_EXAMPLE)
    assert node_names(stack) == ["talos-cp-1", "talos-cp-2", "talos-cp-3"]
    patches = node_patches(stack, "talos-cp-2")
    kinds = [d.get("kind", "+".join(sorted(d))) for d in patches]
    assert "TimeSyncConfig" not in kinds
    assert kinds[:4] == [
        "cluster+machine", "cluster+machine", "HostnameConfig", "ExtensionServiceConfig"
    ]  # fmt: skip
    own = patches[1]
    assert own["machine"]["kubelet"] == {"nodeIP": {"validSubnets": ["10.10.0.0/24"]}}
    assert own["machine"]["install"] == {"disk": "/dev/sda"}
    assert patches[2]["hostname"] == "talos-cp-2"
    rules = [d for d in patches if d.get("kind") == "NetworkRuleConfig"]
    assert rules and all({"subnet": "10.10.0.0/24"} in r["ingress"] for r in rules)
    assert not any({"subnet": "10.0.1.0/24"} in r["ingress"] for r in rules)
    for document in patches:
        assert _errors(document) == [], document


def test_proxmox_vms_on_talos_1_14_carry_the_vm_subnet_in_kube_node_config() -> None:
    stack = _on_talos(load_stack(PROXMOX_EXAMPLE), "v1.14.0")
    (node,) = [d for d in node_patches(stack, "talos-cp-1") if d.get("kind") == "KubeNodeConfig"]
    assert node["nodeIP"] == {"validSubnets": ["10.10.0.0/24"]}


def test_schematic_adds_the_tailscale_extension(shipped: Stack) -> None:
    assert schematic(shipped) == {
        "customization": {"systemExtensions": {"officialExtensions": ["siderolabs/tailscale"]}}
    }


# --- Talos 1.14: the multi-document kinds ----------------------------------------------------


@pytest.mark.parametrize("node", ["node-1", "node-2"])
def test_every_1_14_patch_fits_the_talos_1_14_schema(shipped_1_14: Stack, node: str) -> None:
    for document in node_patches(shipped_1_14, node):
        assert _errors_1_14(document) == [], document


@pytest.mark.parametrize(
    "update",
    [
        {"kubernetes": {"kube_proxy": True}},
        {"ingress": {"enabled": False}},
        {"apps": {"oci_ccm": False}},
    ],
    ids=["kube-proxy", "no-ingress", "no-ccm"],
)
def test_every_1_14_variant_fits_the_schema(shipped_1_14: Stack, update: dict[str, Any]) -> None:
    ((section, change),) = update.items()
    stack = shipped_1_14.model_copy(
        update={section: getattr(shipped_1_14, section).model_copy(update=change)}
    )
    for node in node_names(stack):
        for document in node_patches(stack, node):
            assert _errors_1_14(document) == [], document


def test_the_1_14_schema_check_can_fail() -> None:
    # The corrected kind passes; the one the published schema names would not load in Talos.
    assert _errors_1_14(INSTALL_1_14) == []
    assert _errors_1_14({**INSTALL_1_14, "kind": "UnattendedInstall"})
    # 1.13 fields the 1.14 kinds replaced are still v1alpha1 schema, so the check is on kinds:
    assert _errors_1_14({"apiVersion": "v1alpha1", "kind": "KubeProxyConfig", "disabled": True})
    assert _errors_1_14({"apiVersion": "v1alpha1", "kind": "KubeNodeConfig", "nodeLabels": {}})
    assert _errors_1_14({"apiVersion": "v1alpha1", "kind": "KubeCNIConfig", **DELETE})
    assert _errors_1_14(
        {"apiVersion": "v1alpha1", "kind": "KubeFlannelCNIConfig", "backendType": "x", **DELETE}
    )
    # and the 1.13 schema knows none of them.
    assert _errors({"apiVersion": "v1alpha1", "kind": "KubePrismConfig", "port": 7445})


CCM = "https://github.com/oracle/oci-cloud-controller-manager/releases/download/v1.33.2/"
GATEWAY = "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.1/"
NETWORK_1_14 = {
    "apiVersion": "v1alpha1",
    "kind": "KubeNetworkConfig",
    "podSubnets": ["10.244.0.0/16"],
    "serviceSubnets": ["10.96.0.0/12"],
}
EXTERNAL_CLOUD_PROVIDER = {
    "cluster": {
        "externalCloudProvider": {
            "enabled": True,
            "manifests": [
                CCM + "oci-cloud-controller-manager-rbac.yaml",
                CCM + "oci-cloud-controller-manager.yaml",
            ],
        }
    }
}
KUBEPRISM_1_14 = {"apiVersion": "v1alpha1", "kind": "KubePrismConfig", "port": 7445}
INSTALL_1_14 = {
    "apiVersion": "v1alpha1",
    "kind": "UnattendedInstallConfig",
    "provisioning": {"diskSelector": {"match": 'disk.dev_path == "/dev/sda"'}},
}


def _kube_node(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1alpha1",
        "kind": "KubeNodeConfig",
        "labels": {"freetier.dev/stack": "freetier", "freetier.dev/node": name},
        "nodeIP": {"validSubnets": ["10.0.1.0/24"]},
    }


def test_1_14_controlplane_documents_written_out(shipped_1_14: Stack) -> None:
    patches = node_patches(shipped_1_14, "node-1")
    assert patches[:10] == [
        NETWORK_1_14,
        # CNI none: the Flannel document `gen config` emits is deleted (siderolabs/talos#13958).
        {"apiVersion": "v1alpha1", "kind": "KubeFlannelCNIConfig", "$patch": "delete"},
        {"apiVersion": "v1alpha1", "kind": "KubeProxyConfig", "enabled": False},
        {
            "apiVersion": "v1alpha1",
            "kind": "KubeExternalManifestConfig",
            "name": "gateway-api-standard-install",
            "url": GATEWAY + "standard-install.yaml",
        },
        EXTERNAL_CLOUD_PROVIDER,
        KUBEPRISM_1_14,
        {"machine": {"certSANs": ["node-1"]}},
        INSTALL_1_14,
        _kube_node("node-1"),
        {"apiVersion": "v1alpha1", "kind": "KubeAPIServerConfig", "certExtraSANs": ["node-1"]},
    ]
    # The rest is what 1.13 gets after its two v1alpha1 patches (written out above): hostname,
    # time, Tailscale, then the firewall.
    assert [p["kind"] for p in patches[10:14]] == [
        "HostnameConfig",
        "TimeSyncConfig",
        "ExtensionServiceConfig",
        "NetworkDefaultActionConfig",
    ]
    assert patches[10:] == node_patches(_on_talos(shipped_1_14, "v1.13.9"), "node-1")[2:]


def test_1_14_worker_gets_no_control_plane_only_kind(shipped_1_14: Stack) -> None:
    # Talos 1.14 refuses KubeProxyConfig and KubeAPIServerConfig on a worker
    # (ControlplaneOnlyDocument); it has no Flannel document to delete.
    assert node_patches(shipped_1_14, "node-2")[:6] == [
        NETWORK_1_14,
        EXTERNAL_CLOUD_PROVIDER,
        KUBEPRISM_1_14,
        {"machine": {"certSANs": ["node-2"]}},
        INSTALL_1_14,
        _kube_node("node-2"),
    ]
    assert (
        node_patches(shipped_1_14, "node-2")[6:]
        == node_patches(_on_talos(shipped_1_14, "v1.13.9"), "node-2")[2:]
    )


def test_1_14_keeps_kube_proxy_when_the_stack_does(shipped_1_14: Stack) -> None:
    stack = shipped_1_14.model_copy(
        update={"kubernetes": shipped_1_14.kubernetes.model_copy(update={"kube_proxy": True})}
    )
    assert node_patches(stack, "node-1")[2] == {
        "apiVersion": "v1alpha1",
        "kind": "KubeProxyConfig",
        "enabled": True,
    }


def test_1_14_without_ingress_or_ccm(shipped_1_14: Stack) -> None:
    stack = shipped_1_14.model_copy(
        update={
            "ingress": shipped_1_14.ingress.model_copy(update={"enabled": False}),
            "apps": shipped_1_14.apps.model_copy(update={"oci_ccm": False}),
        }
    )
    kinds = [p.get("kind", "v1alpha1 patch") for p in node_patches(stack, "node-1")[:5]]
    assert kinds == [
        "KubeNetworkConfig",
        "KubeFlannelCNIConfig",
        "KubeProxyConfig",
        "KubePrismConfig",
        "v1alpha1 patch",  # machine.certSANs only
    ]


def test_1_14_writes_no_field_its_kinds_replaced(shipped_1_14: Stack) -> None:
    """A 1.14 config refuses a v1alpha1 field beside the kind that replaced it
    (V1Alpha1ConflictValidate), so no v1alpha1 patch may carry one."""
    replaced = {
        "cluster": {"network", "proxy", "apiServer", "extraManifests", "inlineManifests"},
        "machine": {"install", "kubelet", "nodeLabels", "features"},
    }
    for node in node_names(shipped_1_14):
        for patch in node_patches(shipped_1_14, node):
            if "kind" in patch:
                continue
            for section, fields in replaced.items():
                assert not fields & set(patch.get(section, {})), (node, patch)
