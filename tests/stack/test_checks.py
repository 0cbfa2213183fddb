"""Cross-field rules of the proxmox topology, driven on the parsed example."""

from __future__ import annotations

from typing import Any

import pytest

from freetier.stack import Stack, check_stack, format_path
from freetier.stack.load import parse_yaml, to_plain
from tests.conftest import PROXMOX_EXAMPLE


def _example() -> dict[str, Any]:
    data: dict[str, Any] = to_plain(parse_yaml(PROXMOX_EXAMPLE))
    return data


def _problems(data: dict[str, Any]) -> list[str]:
    return [f"{format_path(p.path)}: {p.message}" for p in check_stack(Stack.model_validate(data))]


def test_the_example_has_no_problems() -> None:
    assert _problems(_example()) == []


def test_ceph_replicas_need_as_many_hosts() -> None:
    data = _example()
    data["proxmox"]["hosts"] = data["proxmox"]["hosts"][:2]
    data["proxmox"]["talos_vms"] = [
        vm for vm in data["proxmox"]["talos_vms"] if vm["host"] != "pve-3"
    ]
    data["proxmox"]["talos_vms"].pop()
    assert _problems(data) == [
        "proxmox.ceph.replicas: 3 replicas need at least 3 hosts (have 2); "
        "Ceph would never reach HEALTH_OK"
    ]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            lambda d: d["proxmox"]["hosts"][0].update(address="192.0.2.10"),
            "proxmox.hosts[0]: set exactly one of address or instance",
            id="address-and-instance",
        ),
        pytest.param(
            lambda d: d["proxmox"]["hosts"][0].update(instance="pve-9"),
            "proxmox.hosts[0].instance: no instance named 'pve-9'",
            id="unknown-instance",
        ),
        pytest.param(
            lambda d: d["proxmox"]["talos_vms"][2].update(host="pve-7"),
            "proxmox.talos_vms[2].host: no host named 'pve-7'",
            id="vm-on-unknown-host",
        ),
        pytest.param(
            lambda d: d["instances"][0].update(role="worker"),
            "proxmox.hosts[0].instance: 'pve-1' has role worker",
            id="host-is-not-a-proxmox-instance",
        ),
    ],
)
def test_proxmox_rules(edit, expected: str) -> None:
    data = _example()
    edit(data)
    assert expected in _problems(data)


def test_direct_topology_rejects_a_proxmox_section() -> None:
    data = _example()
    data["topology"] = "direct"
    problems = _problems(data)
    assert "proxmox: only used with topology: proxmox" in problems
    assert "instances[0].role: proxmox-host needs topology: proxmox" in problems


def test_fixed_shape_takes_no_ocpus() -> None:
    data = _example()
    data["instances"][0].update(shape="VM.Standard.E2.1.Micro")
    assert "instances[0].ocpus: VM.Standard.E2.1.Micro is a fixed shape; remove ocpus" in (
        _problems(data)
    )


def test_availability_domain_must_be_one_the_stack_uses() -> None:
    data = _example()
    data["instances"][1]["availability_domain"] = 2
    assert _problems(data) == [
        "instances[1].availability_domain: AD 2 is not in oci.availability_domains [1]"
    ]


@pytest.mark.parametrize(
    ("cidrs", "expected"),
    [
        (["0.0.0.0/0"], ["network.admin_cidrs[0]: 0.0.0.0/0 is wider than /8"]),
        (["203.0.113.7/32", "10.0.0.0/7"], ["network.admin_cidrs[1]: 10.0.0.0/7 is wider than /8"]),
        (["10.0.0.0/8", "198.51.100.0/24"], []),
    ],
    ids=["the-internet", "wider-than-8", "8-and-narrower"],
)
def test_admin_cidrs_never_open_the_admin_ports_to_the_internet(
    cidrs: list[str], expected: list[str]
) -> None:
    data = _example()
    data["network"]["admin_cidrs"] = cidrs
    found = [p.split(": the admin ports")[0] for p in _problems(data)]
    assert found == expected


def test_proxmox_vm_ids_min_size_and_osd_hosts_are_checked() -> None:
    import yaml

    from freetier.stack.checks import check_stack
    from freetier.stack.model import Stack

    data = yaml.safe_load(PROXMOX_EXAMPLE.read_text())
    data["proxmox"]["talos_vms"][2]["vmid"] = 101  # talos-cp-2's default id
    data["proxmox"]["ceph"]["min_size"] = 4
    data["proxmox"]["hosts"][2]["osd_devices"] = []
    problems = [
        f"{'.'.join(map(str, p.path))}: {p.message}"
        for p in check_stack(Stack.model_validate(data, strict=False))
    ]
    assert problems == [
        "proxmox.talos_vms.2.vmid: VM id 101 is also talos-cp-2's",
        "proxmox.ceph.min_size: 4 is more than replicas (3)",
        "proxmox.hosts: 2 host(s) list osd_devices; the pool's 3 replicas need OSDs on 3 "
        "distinct hosts",
    ]


@pytest.mark.parametrize(
    ("vm_network", "expected"),
    [
        ({}, []),
        (
            {"cidr": "10.10.0.0/29", "first_host": 5},
            ["proxmox.vm_network.cidr: 10.10.0.0/29 has no host number 7 for talos_vms[2] "
             "(first_host 5)"],
        ),
        (
            {"gateway_host": 12},
            ["proxmox.vm_network.gateway_host: host number 12 is also a Talos VM's address"],
        ),
        ({"cidr": "10.10.0.0/30", "gateway_host": 3, "first_host": 1}, [
            "proxmox.vm_network.cidr: 10.10.0.0/30 has no host number 3 for talos_vms[2] "
            "(first_host 1)",
            "proxmox.vm_network.gateway_host: not a host of 10.10.0.0/30",
        ]),
    ],
    ids=["defaults", "too-small", "gateway-is-a-vm", "both"],
)  # fmt: skip
def test_every_talos_vm_has_an_address_on_the_vm_network(
    vm_network: dict[str, Any], expected: list[str]
) -> None:
    import yaml

    from freetier.stack.checks import check_stack
    from freetier.stack.model import Stack

    data = yaml.safe_load(PROXMOX_EXAMPLE.read_text())
    data["proxmox"]["vm_network"] = vm_network
    problems = [
        f"{'.'.join(map(str, p.path))}: {p.message}"
        for p in check_stack(Stack.model_validate(data, strict=False))
        if p.path[:2] == ("proxmox", "vm_network")
    ]
    assert problems == expected
