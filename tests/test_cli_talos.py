"""`freetier talos config` and the version table through `freetier stack validate`, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from freetier.cli import main
from tests.conftest import SHIPPED_STACK


def test_config_prints_one_node_as_a_yaml_stream(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["talos", "config", "--node", "node-2", "--stack", str(SHIPPED_STACK)]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert len(documents) == 11
    assert documents[2] == {
        "apiVersion": "v1alpha1",
        "kind": "HostnameConfig",
        "auto": "off",
        "hostname": "node-2",
    }
    assert [d.get("name") for d in documents if d.get("kind") == "NetworkRuleConfig"] == [
        "apid-ingress",
        "kubelet-ingress",
        "cilium-vxlan",
        "cilium-health",
        "nodeport-ingress",  # the ingress load balancer reaches the Gateway's Service there
    ]


def test_config_json_keys_every_node(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["talos", "config", "--format", "json", "--stack", str(SHIPPED_STACK)]) == 0
    body = json.loads(capsys.readouterr().out)
    assert list(body) == ["node-1", "node-2"]
    assert [len(body["node-1"]), len(body["node-2"])] == [14, 11]
    assert body["node-1"][4]["environment"][0] == "TS_AUTHKEY=${tailscale_authkey}"


def test_unknown_node_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["talos", "config", "--node", "node-7", "--stack", str(SHIPPED_STACK)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "freetier: error: no Talos node named 'node-7' in the stack (known nodes: node-1, node-2)\n"
    )


def test_validate_names_both_versions_and_the_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(SHIPPED_STACK.read_text().replace("cilium: 1.20.2", "cilium: 1.18.4"))
    assert main(["stack", "validate", str(stack)]) == 2
    assert capsys.readouterr().err == (
        f"freetier: error: {stack}:49: versions.cilium: Cilium 1.18.4 works with Kubernetes "
        "1.30 to 1.33, not Kubernetes v1.36.3 (source: "
        "https://docs.cilium.io/en/v1.18/network/kubernetes/compatibility/, read 2026-12-03)\n"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "kubernetes: v1.36.3",
            "kubernetes: v1.37.0",
            [
                "versions.talos: Talos v1.13.9 works with Kubernetes 1.31 to 1.36, not "
                "Kubernetes v1.37.0 (source: https://docs.siderolabs.com/talos/v1.13/"
                "getting-started/support-matrix, read 2026-12-03)",
                "versions.cilium: Cilium 1.20.2 works with Kubernetes 1.33 to 1.36, not "
                "Kubernetes v1.37.0 (source: https://docs.cilium.io/en/v1.20/network/kubernetes/"
                "compatibility/, read 2026-12-03)",
            ],
            id="kubernetes-newer-than-talos-and-cilium",
        ),
        pytest.param(
            "kubernetes: v1.36.3",
            "kubernetes: v1.32.4",
            [
                "versions.cilium: Cilium 1.20.2 works with Kubernetes 1.33 to 1.36, not "
                "Kubernetes v1.32.4 (source: https://docs.cilium.io/en/v1.20/network/kubernetes/"
                "compatibility/, read 2026-12-03)",
                "versions.flux: Flux v2.9.5 works with Kubernetes 1.33 to any newer, not "
                "Kubernetes v1.32.4 (source: https://github.com/fluxcd/flux2/blob/v2.9.4/cmd/"
                "flux/check.go, read 2026-12-03)",
            ],
            id="kubernetes-older-than-cilium",
        ),
        pytest.param(
            "flux: v2.9.5",
            "flux: v2.4.0",
            [
                "versions.flux: Flux v2.4.0 is not in the compatibility table (known lines: 2.8, "
                "2.9); pick a listed line or add its row to freetier/stack/compatibility.yaml "
                "with its source"
            ],
            id="flux-line-not-in-table",
        ),
    ],
)
def test_validate_rejects_each_pair_outside_the_table(
    old: str, new: str, expected: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(SHIPPED_STACK.read_text().replace(old, new))
    assert main(["stack", "validate", str(stack)]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert [e.split(": ", 3)[3] for e in errors] == expected


def test_config_on_talos_1_14_prints_the_multi_document_kinds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped stack pinned to Talos 1.14 (Kubernetes v1.36.3 is inside the table's 1.14
    row): the stack validates and the worker's patches come out as 1.14 documents."""
    stack = tmp_path / "stack.yaml"
    stack.write_text(SHIPPED_STACK.read_text().replace("talos: v1.13.9", "talos: v1.14.0"))
    assert main(["stack", "validate", str(stack)]) == 0
    capsys.readouterr()
    assert main(["talos", "config", "--node", "node-2", "--stack", str(stack)]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert documents[:6] == [
        {
            "apiVersion": "v1alpha1",
            "kind": "KubeNetworkConfig",
            "podSubnets": ["10.244.0.0/16"],
            "serviceSubnets": ["10.96.0.0/12"],
        },
        {
            "cluster": {
                "externalCloudProvider": {
                    "enabled": True,
                    "manifests": [
                        "https://github.com/oracle/oci-cloud-controller-manager/releases/"
                        "download/v1.33.2/oci-cloud-controller-manager-rbac.yaml",
                        "https://github.com/oracle/oci-cloud-controller-manager/releases/"
                        "download/v1.33.2/oci-cloud-controller-manager.yaml",
                    ],
                }
            }
        },
        {"apiVersion": "v1alpha1", "kind": "KubePrismConfig", "port": 7445},
        {"machine": {"certSANs": ["node-2"]}},
        {
            "apiVersion": "v1alpha1",
            "kind": "UnattendedInstallConfig",
            "provisioning": {"diskSelector": {"match": 'disk.dev_path == "/dev/sda"'}},
        },
        {
            "apiVersion": "v1alpha1",
            "kind": "KubeNodeConfig",
            "labels": {"freetier.dev/stack": "freetier", "freetier.dev/node": "node-2"},
            "nodeIP": {"validSubnets": ["10.0.1.0/24"]},
        },
    ]
    assert len(documents) == 15  # then hostname, time, Tailscale and the firewall's 6


def test_config_on_talos_1_14_json_deletes_flannel_on_the_control_plane(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text(SHIPPED_STACK.read_text().replace("talos: v1.13.9", "talos: v1.14.0"))
    assert main(["talos", "config", "--format", "json", "--stack", str(stack)]) == 0
    body = json.loads(capsys.readouterr().out)
    assert [len(body["node-1"]), len(body["node-2"])] == [22, 15]
    assert body["node-1"][1] == {
        "apiVersion": "v1alpha1",
        "kind": "KubeFlannelCNIConfig",
        "$patch": "delete",
    }
    assert "KubeFlannelCNIConfig" not in [d.get("kind") for d in body["node-2"]]


def test_config_on_a_talos_line_without_a_form_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Talos 1.12 is in the version table (with a Kubernetes it supports) but freetier writes
    no configuration for it."""
    stack = tmp_path / "stack.yaml"
    text = SHIPPED_STACK.read_text().replace("talos: v1.13.9", "talos: v1.12.6")
    stack.write_text(text.replace("kubernetes: v1.36.3", "kubernetes: v1.35.2"))
    assert main(["talos", "config", "--stack", str(stack)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "freetier: error: versions.talos: v1.12.6: freetier writes the machine configuration of "
        "Talos 1.13 (v1alpha1 patches) and 1.14 (multi-document kinds) only; pin a v1.13 or "
        "v1.14 release\n"
    )
