"""tofu/talos's proxmox variant (proxmox.tf), checked statically: the bpg/proxmox provider
cannot be downloaded here, nor a Proxmox VE API reached. Every bpg resource, block and argument
the layer writes is in the provider's documented schema at the pinned version
(tests/tofu/fixtures/proxmox-provider-schema.json, its source named inside), required ones set;
the expressions that build the image URL, the file name and the VM addresses are evaluated by
the real terraform; the variable's validations run in terraform against what freetier derives."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hcl2
import pytest

from freetier.stack import load_stack
from freetier.tofu.vars import derive_talos_vars
from tests.conftest import PROXMOX_EXAMPLE
from tests.tofu.test_talos_layer import LAYER, _console, arguments, blocks

SCHEMA = json.loads(
    (Path(__file__).parent / "fixtures" / "proxmox-provider-schema.json").read_text()
)
# The oci layer's outputs for examples/proxmox.stack.yaml: the hosts are its instances.
OCI_OUTPUTS = {
    "instance_private_ips": {
        "pve-1": "10.0.1.10", "pve-2": "10.0.1.11", "pve-3": "10.0.1.12", "bastion": "10.0.1.2"
    },
    "instance_public_ips": {"pve-1": "192.0.2.10", "pve-2": "", "pve-3": "192.0.2.12"},
}  # fmt: skip


@pytest.fixture(scope="module")
def hcl() -> dict[str, dict[str, Any]]:
    return {p.name: hcl2.loads(p.read_text(encoding="utf-8")) for p in sorted(LAYER.glob("*.tf"))}


def resources(hcl: dict[str, dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(t, n): b for t, n, b in blocks(hcl, "resource")}


def block_problems(schema: dict[str, Any], path: str, body: dict[str, Any]) -> list[str]:
    """Arguments and nested blocks of `body` (at `path`, "" for the resource) against the
    documented tree: unknown names, required ones missing; `dynamic "x"` checked as block x."""
    documented = schema.get(path)
    if documented is None:
        return [f"{path}: no such block"]
    problems = []
    found = dict(arguments(body)) if path == "" else dict(body)
    for dynamic in found.pop("dynamic", []):
        for name, spec in dynamic.items():
            found[name] = [spec["content"][0]]
    for name, value in found.items():
        if name.startswith("__") or (path == "" and name in ("lifecycle", "timeouts")):
            continue
        where = f"{path}.{name}" if path else name
        if name not in documented:
            problems.append(f"{where}: no such argument")
        elif where in schema:  # a block: each occurrence a dict in a list
            if not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
                problems.append(f"{where}: a block: write `{name} {{ ... }}`")
                continue
            for occurrence in value:
                problems += block_problems(schema, where, occurrence)
    problems += [
        f"{path + '.' if path else ''}{name}: required, not set"
        for name, spec in documented.items()
        if spec["kind"] == "required" and name not in found
    ]
    return problems


# --- the pin and the documented schema ---------------------------------------------------------


def test_provider_pinned_to_the_current_release(hcl) -> None:
    (terraform,) = hcl["versions.tf"]["terraform"]
    (providers,) = terraform["required_providers"]
    assert providers["proxmox"] == [{"source": "bpg/proxmox", "version": "~> 0.111.1"}]
    assert SCHEMA["version"] == "0.111.1" and SCHEMA["provider"] == "bpg/proxmox"
    assert "v0.111.1 (commit b22fe919fc34476b232191b69c8907f0c1aa5bea)" in SCHEMA["source"]


def test_every_proxmox_resource_block_and_argument_is_documented(hcl) -> None:
    used = {k: b for k, b in resources(hcl).items() if k[0].startswith("proxmox_")}
    assert set(used) == {
        ("proxmox_download_file", "talos"),
        ("proxmox_virtual_environment_file", "user_data"),
        ("proxmox_virtual_environment_vm", "talos"),
    }
    problems = [
        f"{rtype}.{name}: {p}"
        for (rtype, name), body in used.items()
        for p in block_problems(SCHEMA["resource"][rtype], "", body)
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"node_name": ["h"], "cpu": [{"core": ["1"]}]}, "cpu.core: no such argument"),
        ({"node_name": ["h"], "kvm": [False]}, "kvm: no such argument"),
        ({"cpu": [{"cores": [1]}]}, "node_name: required, not set"),
        ({"node_name": ["h"], "disk": [{"size": [8]}]}, "disk.interface: required, not set"),
        ({"node_name": ["h"], "memory": {"dedicated": 1}}, "memory: a block"),
        (
            {"node_name": ["h"], "initialization": [{"ip_config": [{"ipv4": [{"gw": ["x"]}]}]}]},
            "initialization.ip_config.ipv4.gw: no such argument",
        ),
        (
            {"node_name": ["h"], "dynamic": [{"efi_disk": {"content": [{"size": ["4m"]}]}}]},
            "efi_disk.size: no such argument",
        ),
    ],
)
def test_the_block_check_catches_what_the_provider_refuses(body, problem) -> None:
    found = block_problems(SCHEMA["resource"]["proxmox_virtual_environment_vm"], "", body)
    assert any(problem in p for p in found), found


def test_the_provider_block_is_documented_and_starts_on_a_direct_stack(tmp_path: Path, hcl) -> None:
    """Its arguments are the provider's; for a direct stack (proxmox = null) it gets an endpoint
    that cannot resolve and a token of the form the provider's credential check accepts
    (`^\\S+@\\S+!\\S+=([a-zA-Z0-9-]+)$`, proxmox/api/credentials.go at v0.111.1), else null:
    the environment's PROXMOX_VE_ENDPOINT and PROXMOX_VE_API_TOKEN."""
    (provider,) = [p["proxmox"] for p in hcl["versions.tf"]["provider"] if "proxmox" in p]
    # Its docs mark endpoint, username and password required: each may come from the
    # environment instead, and a token replaces the last two. Only names are checked here.
    problems = block_problems(SCHEMA["provider_arguments"], "", provider)
    assert [p for p in problems if not p.endswith("required, not set")] == []
    text = (LAYER / "versions.tf").read_text()
    for name, direct in (
        ("endpoint", "https://proxmox.invalid:8006/"),
        ("api_token", "unused@pve!direct-topology=00000000-0000-0000-0000-000000000000"),
    ):
        line = next(x for x in text.splitlines() if x.strip().startswith(f"{name} "))
        expression = line.split("=", 1)[1].strip()
        assert _console(tmp_path, expression, {"proxmox": None}) == direct
        assert _console(tmp_path, expression, {"proxmox": {"arch": "amd64"}}) is None
    token = r"^\S+@\S+!\S+=([a-zA-Z0-9-]+)$"
    assert re.match(token, "unused@pve!direct-topology=00000000-0000-0000-0000-000000000000")


# --- what the VMs are -------------------------------------------------------------------------


def test_one_vm_per_talos_vm_on_its_host_with_disks_on_the_ceph_storage(hcl) -> None:
    vm = resources(hcl)[("proxmox_virtual_environment_vm", "talos")]
    assert vm["for_each"] == ["${local.proxmox_vms}"]
    assert vm["node_name"] == ["${each.value.node_name}"]
    assert vm["vm_id"] == ["${each.value.vm_id}"]
    (disk,) = vm["disk"]
    assert disk["datastore_id"] == ["${var.proxmox.vm_store}"]
    # the install disk of the patches (/dev/sda): the first SCSI disk on virtio-scsi
    assert disk["interface"] == ["scsi0"] and vm["scsi_hardware"] == ["virtio-scsi-single"]
    assert disk["file_id"] == ["${proxmox_download_file.talos[each.value.node_name].id}"]
    (init,) = vm["initialization"]
    assert init["datastore_id"] == ["${var.proxmox.vm_store}"]
    snippet = "${proxmox_virtual_environment_file.user_data[each.key].id}"
    assert init["user_data_file_id"] == [snippet]
    (ip,) = init["ip_config"]
    assert ip["ipv4"] == [
        {"address": ["${each.value.address}"], "gateway": ["${var.proxmox.gateway}"]}
    ]
    (cpu,) = vm["cpu"]
    assert cpu["type"] == ['${var.proxmox.tcg ? "max" : "host"}']
    (condition,) = vm["lifecycle"][0]["precondition"]
    assert condition["condition"] == ["${!var.proxmox.tcg}"]


def test_the_machine_configuration_goes_in_a_snippet_from_the_same_patches(hcl) -> None:
    snippet = resources(hcl)[("proxmox_virtual_environment_file", "user_data")]
    assert snippet["content_type"] == ["snippets"]
    assert snippet["node_name"] == ["${each.value.node_name}"]
    (raw,) = snippet["source_raw"]
    config = "${data.talos_machine_configuration.node[each.key].machine_configuration}"
    assert raw["data"] == [config]
    data = {n: b for t, n, b in blocks(hcl, "data") if t == "talos_machine_configuration"}
    # The role's patches (with Cilium on control planes) then the node's: what the direct
    # topology's config apply hands the provider, in the same order.
    assert data["node"]["config_patches"] == [
        "${concat(lookup(local.role_patches,var.nodes[each.key].role,[]),"
        "local.node_patches[each.key])}"
    ]
    assert data["node"]["machine_secrets"] == data["role"]["machine_secrets"]
    apply = resources(hcl)[("talos_machine_configuration_apply", "node")]
    assert apply["depends_on"] == [["${proxmox_virtual_environment_vm.talos}"]]


def test_the_image_is_the_nocloud_qcow2_never_the_xz(tmp_path: Path, hcl) -> None:
    """The URL and file name proxmox.tf builds, evaluated by terraform with a stand-in
    schematic id: a qcow2 Proxmox imports (bpg/terraform-provider-proxmox#1680: no xz)."""
    download = resources(hcl)[("proxmox_download_file", "talos")]
    assert download["content_type"] == ["iso"]
    assert download["for_each"] == ["${local.proxmox_hosts}"]
    text = (LAYER / "proxmox.tf").read_text()
    schematic_id = "ab" * 32
    variables = {
        "talos_version": "v1.13.9",
        "proxmox": {"arch": "arm64"},
        "id": schematic_id,
    }

    def evaluate(attribute: str) -> Any:
        line = next(x for x in text.splitlines() if x.strip().startswith(f"{attribute} "))
        expression = line.split("=", 1)[1].strip()
        expression = expression.replace("talos_image_factory_schematic.this[0].id", "var.id")
        expression = expression.replace("local.image_factory", '"https://factory.talos.dev"')
        expression = expression.replace(
            "local.talos_image_name", '"nocloud-${var.proxmox.arch}.qcow2"'
        )
        return _console(tmp_path, expression, variables)

    assert evaluate("url") == (
        f"https://factory.talos.dev/image/{schematic_id}/v1.13.9/nocloud-arm64.qcow2"
    )
    assert evaluate("file_name") == "talos-v1.13.9-abababababab-nocloud-arm64.img"
    image = 'talos_image_name = var.proxmox == null ? "" : "nocloud-${var.proxmox.arch}.qcow2"'
    assert image in text
    assert ".xz" not in "".join(x for x in text.splitlines() if not x.lstrip().startswith("#"))


# --- the inputs: derived by freetier, accepted by terraform -----------------------------------


def test_talos_vars_for_the_proxmox_example() -> None:
    derived = derive_talos_vars(load_stack(PROXMOX_EXAMPLE), OCI_OUTPUTS)
    assert derived["topology"] == "proxmox"
    assert derived["cluster_endpoint"] == "https://10.10.0.11:6443"
    assert derived["bootstrap_node"] == "talos-cp-1"
    assert {n: v["private_ip"] for n, v in derived["nodes"].items()} == {
        "talos-cp-1": "10.10.0.11", "talos-cp-2": "10.10.0.12", "talos-cp-3": "10.10.0.13"
    }  # fmt: skip
    pve = derived["proxmox"]
    assert pve["vms"]["talos-cp-2"] == {
        "node_name": "pve-2",
        "vm_id": 101,
        "cores": 1,
        "memory_mb": 4096,
        "disk_gb": 20,
        "address": "10.10.0.12/24",
    }
    assert pve["hosts"] == {
        "pve-1": {"address": "192.0.2.10", "port": 22, "user": "debian"},
        "pve-2": {"address": "10.0.1.11", "port": 22, "user": "debian"},  # no public address
        "pve-3": {"address": "192.0.2.12", "port": 22, "user": "debian"},
    }
    assert (pve["vm_store"], pve["file_store"], pve["gateway"], pve["tcg"]) == (
        "vm-storage", "local", "10.10.0.1", False
    )  # fmt: skip
    assert pve["schematic"] == (
        "customization:\n  systemExtensions:\n    officialExtensions:\n    - siderolabs/tailscale\n"
    )


def test_before_the_oci_layer_is_applied_the_talos_plan_waits_for_it() -> None:
    """The hosts are oci instances: without the oci outputs the talos layer is not planned yet
    (UpstreamNotApplied: a warning in the pull request, not a failure)."""
    from freetier.tofu.vars import UpstreamNotApplied

    with pytest.raises(UpstreamNotApplied) as caught:
        derive_talos_vars(load_stack(PROXMOX_EXAMPLE), {})
    assert caught.value.problems == (
        "tofu/oci: no instance_private_ips output yet: apply the oci layer first "
        "(freetier apply --layer oci, or merge its plan)",
    )


def test_the_direct_topology_has_no_proxmox_input() -> None:
    from tests.conftest import SHIPPED_STACK
    from tests.tofu.test_talos_layer import OCI_OUTPUTS as DIRECT

    derived = derive_talos_vars(load_stack(SHIPPED_STACK), DIRECT)
    assert (derived["topology"], derived["proxmox"]) == ("direct", None)


def _variable_validations(name: str) -> list[str]:
    """The raw HCL conditions of variables.tf's `name` (python-hcl2 re-quotes strings)."""
    text = (LAYER / "variables.tf").read_text()
    start = text.index(f'variable "{name}"')
    end = text.find("\nvariable ", start + 1)
    body = text[start : end if end > 0 else len(text)]
    return [line.split("=", 1)[1].strip() for line in body.splitlines() if "condition " in line]


@pytest.mark.parametrize(
    ("change", "accepted"),
    [
        (lambda v: v, True),
        (lambda v: {**v, "topology": "direct"}, False),
        (lambda v: _vm(v, "talos-cp-1", node_name="pve-9"), False),
        (lambda v: _vm(v, "talos-cp-2", vm_id=100), False),
        (lambda v: _vm(v, "talos-cp-3", address="10.10.0.13"), False),
        (lambda v: {**v, "proxmox": {**v["proxmox"], "arch": "riscv64"}}, False),
        (lambda v: {"topology": "direct", "proxmox": None}, True),
    ],
    ids=["derived", "wrong-topology", "unknown-host", "duplicate-vmid", "no-prefix", "arch",
         "direct"],
)  # fmt: skip
def test_terraform_accepts_what_freetier_derives_and_refuses_bad_input(
    tmp_path: Path, change, accepted: bool
) -> None:
    derived = derive_talos_vars(load_stack(PROXMOX_EXAMPLE), OCI_OUTPUTS)
    variables = change({"topology": derived["topology"], "proxmox": derived["proxmox"]})
    expression = "alltrue([" + ", ".join(_variable_validations("proxmox")) + "])"
    assert _console(tmp_path, expression, variables) is accepted


def _vm(variables: dict[str, Any], name: str, **changes: Any) -> dict[str, Any]:
    pve = variables["proxmox"]
    vms = {**pve["vms"], name: {**pve["vms"][name], **changes}}
    return {**variables, "proxmox": {**pve, "vms": vms}}
