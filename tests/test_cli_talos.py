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
