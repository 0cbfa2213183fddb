"""Which image each architecture boots (`images needed`), and merging the OCIDs of separate
publish runs into one file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from freetier.errors import ConfigError
from freetier.image_ocids import merge_published, parse_tfvars
from freetier.images.needed import needed_images, needed_json, shape_arch
from freetier.stack import load_stack
from tests.conftest import ROOT, SHIPPED_STACK
from tests.images import run_images

PROXMOX_STACK = ROOT / "examples" / "proxmox.stack.yaml"


def test_the_direct_topology_boots_talos_on_a1_and_base_on_the_bastion() -> None:
    stack = load_stack(SHIPPED_STACK)
    matrices = needed_json(needed_images(stack))
    assert [(i["name"], i["arch"], i["runner"]) for i in matrices["build"]] == [
        ("base", "amd64", "ubuntu-24.04")
    ]
    assert [(i["name"], i["arch"]) for i in matrices["talos"]] == [("talos", "arm64")]
    assert matrices["talos"][0]["used_by"] == [i.name for i in stack.instances]


def test_proxmox_hosts_boot_the_proxmox_image_natively_on_arm64() -> None:
    images = needed_images(load_stack(PROXMOX_STACK))
    assert [(i.name, i.arch, i.source) for i in images] == [
        ("base", "amd64", "build"),
        ("proxmox", "arm64", "build"),
    ]
    assert needed_json(images)["build"][1]["runner"] == "ubuntu-24.04-arm"


def test_no_bastion_no_base_image() -> None:
    stack = load_stack(SHIPPED_STACK)
    stack = stack.model_copy(
        update={"bastion": stack.bastion.model_copy(update={"enabled": False})}
    )
    assert [i.name for i in needed_images(stack)] == ["talos"]


def test_two_images_on_one_architecture_is_bad_input() -> None:
    stack = load_stack(PROXMOX_STACK)
    micro = stack.instances[0].model_copy(update={"shape": "VM.Standard.E2.1.Micro"})
    stack = stack.model_copy(update={"instances": [micro, *stack.instances[1:]]})
    with pytest.raises(ConfigError) as err:
        needed_images(stack, "s.yaml")
    assert list(err.value.problems) == [
        f"s.yaml: instances: amd64 nodes need proxmox ({micro.name}) and base (bastion); "
        "tofu/oci boots one image per architecture (image_ocids.amd64)"
    ]


def test_shape_arch_follows_tofu_oci() -> None:
    locals_tf = (ROOT / "tofu" / "oci" / "locals.tf").read_text(encoding="utf-8")
    assert 'strcontains(i.shape, ".A1.") ? "arm64" : "amd64"' in locals_tf
    assert shape_arch("VM.Standard.A1.Flex") == "arm64"
    assert shape_arch("VM.Standard.E2.1.Micro") == "amd64"


def test_cli_prints_text_and_the_workflow_json() -> None:
    text = run_images(["images", "needed", "--stack", str(SHIPPED_STACK)])
    assert text.code == 0
    assert text.out.splitlines()[0] == "amd64: base (built) for bastion"
    as_json = run_images(["images", "needed", "--format", "json", "--stack", str(SHIPPED_STACK)])
    assert set(json.loads(as_json.out)) == {"build", "talos"}


def test_cli_conflict_exits_2_with_one_line(tmp_path: Path) -> None:
    text = PROXMOX_STACK.read_text(encoding="utf-8").replace(
        "{name: pve-1, role: proxmox-host, shape: VM.Standard.A1.Flex, ocpus: 1, memory_gb: 6,",
        "{name: pve-1, role: proxmox-host, shape: VM.Standard.E2.1.Micro,",
        1,
    )
    stack = tmp_path / "stack.yaml"
    stack.write_text(text, encoding="utf-8")
    run = run_images(["images", "needed", "--stack", str(stack)])
    assert run.code == 2, run.err
    assert len(run.errors) == 1 and "amd64 nodes need proxmox (pve-1) and base" in run.errors[0]


def test_merge_published_takes_each_runs_change_and_refuses_a_clash() -> None:
    repo = {"image_ocids": {"amd64": "a0", "arm64": "r0"}, "other": 1}
    arm = {"image_ocids": {"amd64": "a0", "arm64": "r1"}}
    amd = {"image_ocids": {"amd64": "a1", "arm64": "r0"}}
    merged = parse_tfvars(merge_published(repo, {Path("x"): arm, Path("y"): amd}).encode(), "m")
    assert merged == {"image_ocids": {"amd64": "a1", "arm64": "r1"}, "other": 1}
    clash = {"image_ocids": {"arm64": "r2"}}
    with pytest.raises(ConfigError) as err:
        merge_published(repo, {Path("x"): arm, Path("z"): clash})
    assert list(err.value.problems) == ["z: image_ocids.arm64: x set another OCID"]
