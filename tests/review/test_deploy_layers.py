"""`freetier deploy` on the proxmox topology: oci, then the proxmox bootstrap (not a dry run),
then talos; a failed bootstrap step stops before talos. The tofu layers and the bootstrap are
stand-ins at the stage boundary (apply_in_order's callables); the bootstrap's report is the
real BootstrapResult."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from freetier.errors import ConfigError
from freetier.proxmox.run import BootstrapResult
from freetier.pve.report import Record
from freetier.review.deploy import (
    BootstrapFailed,
    Bootstrapped,
    apply_in_order,
    deploy,
    deploy_layers,
)
from freetier.review.gate import Applied
from freetier.stack import load_stack
from tests.conftest import PROXMOX_EXAMPLE, SHIPPED_STACK

DONE = BootstrapResult(
    (
        Record("cluster-create", "pve-1", "changed", "created cluster lab"),
        Record("ceph-health", "cluster", "done", "HEALTH_OK"),
    ),
    dry_run=False,
)
FAILED = BootstrapResult(
    (
        Record("cluster-create", "pve-1", "changed", "created cluster lab"),
        Record("cluster-join", "pve-2", "failed", "step cluster-join on pve-2: no quorum"),
    ),
    dry_run=False,
)


def _repo(tmp_path: Path, stack: Path) -> Path:
    shutil.copy(stack, tmp_path / "stack.yaml")
    for layer in ("oci", "talos"):
        (tmp_path / "tofu" / layer).mkdir(parents=True)
        (tmp_path / "tofu" / layer / "versions.tf").write_text("")
    return tmp_path / "stack.yaml"


def test_the_proxmox_topology_deploys_oci_then_proxmox_then_talos(tmp_path: Path) -> None:
    stack_file = _repo(tmp_path, PROXMOX_EXAMPLE)
    order = deploy_layers(load_stack(stack_file), stack_file)
    assert order == ["oci", "proxmox", "talos"]
    calls: list[str] = []

    def apply_tofu(layer: str) -> Applied:
        calls.append(layer)
        return Applied(layer, "saved plan", None)  # type: ignore[arg-type]

    def bootstrap() -> BootstrapResult:
        calls.append("proxmox bootstrap")
        return DONE

    log: list[str] = []
    done = apply_in_order(order, apply_tofu, bootstrap, log.append)
    assert calls == ["oci", "proxmox bootstrap", "talos"]
    assert [d.layer for d in done] == ["oci", "proxmox", "talos"]
    assert done[1] == Bootstrapped("proxmox", "proxmox bootstrap (result): 1 done, 1 changed")
    assert "proxmox: ceph-health     cluster  done     HEALTH_OK" in log


def test_a_failed_bootstrap_stops_before_talos(tmp_path: Path) -> None:
    calls: list[str] = []

    def apply_tofu(layer: str) -> Applied:
        calls.append(layer)
        return Applied(layer, "saved plan", None)  # type: ignore[arg-type]

    with pytest.raises(BootstrapFailed) as caught:
        apply_in_order(["oci", "proxmox", "talos"], apply_tofu, lambda: FAILED, lambda _: None)
    assert calls == ["oci"]
    assert str(caught.value) == (
        "proxmox: bootstrap failed (cluster-join on pve-2: step cluster-join on pve-2: no "
        "quorum): the layers after it were not applied; rerun the deploy once it is fixed"
    )


def test_the_direct_topology_has_no_proxmox_layer(tmp_path: Path) -> None:
    stack_file = _repo(tmp_path, SHIPPED_STACK)
    assert deploy_layers(load_stack(stack_file), stack_file) == ["oci", "talos"]


def test_without_the_ssh_key_a_proxmox_deploy_is_refused_before_anything(
    tmp_path: Path,
) -> None:
    stack_file = _repo(tmp_path, PROXMOX_EXAMPLE)
    with pytest.raises(ConfigError) as caught:
        deploy(
            load_stack(stack_file),
            stack_file,
            repo="o/r",
            sha="a" * 40,
            token="t",
            out=tmp_path / "out",
            secrets=None,  # type: ignore[arg-type]
            base_url="http://127.0.0.1:9",  # never reached: refused first
        )
    assert caught.value.problems == ("proxmox: the layer's bootstrap needs the hosts' SSH key",)


def test_the_cli_refuses_a_proxmox_deploy_without_the_key_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from freetier.cli import main

    stack_file = _repo(tmp_path, PROXMOX_EXAMPLE)
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    argv = ["deploy", "--repo", "o/r", "--sha", "a" * 40, "--stack", str(stack_file)]
    assert main(argv) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .endswith("--proxmox-ssh-key: required on the proxmox topology")
    )
    assert main([*argv, "--proxmox-ssh-key", str(tmp_path / "absent")]) == 2
    assert "absent: no such file" in capsys.readouterr().err
