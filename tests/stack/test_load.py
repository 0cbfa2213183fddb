"""load_stack on the shipped files and on a corpus of bad inputs, one problem each."""

from __future__ import annotations

from pathlib import Path

import pytest

from freetier.errors import ConfigError
from freetier.stack import load_stack
from tests.conftest import PROXMOX_EXAMPLE, SHIPPED_STACK


def test_shipped_stack_is_the_direct_example_within_the_2026_allowance() -> None:
    stack = load_stack(SHIPPED_STACK)
    assert stack.topology == "direct"
    assert [(i.ocpus, i.memory_gb, i.boot_volume_gb) for i in stack.instances] == [
        (1, 6, 50),
        (1, 6, 50),
    ]
    assert stack.bastion.enabled and stack.bastion.shape == "VM.Standard.E2.1.Micro"
    assert stack.free_tier.profile == "always-free-2026-06"


def test_proxmox_example_shows_the_design_documents_topology() -> None:
    stack = load_stack(PROXMOX_EXAMPLE)
    assert stack.topology == "proxmox"
    assert stack.proxmox is not None
    assert [h.instance for h in stack.proxmox.hosts] == ["pve-1", "pve-2", "pve-3"]
    assert len(stack.proxmox.talos_vms) == 3
    assert stack.proxmox.ceph.replicas == 3


# (id, old text, new text, expected line: "stack.yaml:LINE: path: message" fragments)
TEXT_CASES = [
    (
        "typo-key",
        "  boot_volume_gb: 50\n\nnetwork:",
        "  boot_volum_gb: 50\n\nnetwork:",
        "bastion.boot_volum_gb: unknown key (a typo?)",
    ),
    (
        "overlapping-cidr",
        "pod_cidr: 10.244.0.0/16",
        "pod_cidr: 10.0.128.0/17",
        "network.pod_cidr: 10.0.128.0/17 overlaps vcn_cidr 10.0.0.0/16",
    ),
    (
        "fractional-a1-ocpus",
        "    ocpus: 1\n    memory_gb: 6\n    boot_volume_gb: 50\n  - name: node-2",
        "    ocpus: 1.5\n    memory_gb: 6\n    boot_volume_gb: 50\n  - name: node-2",
        "instances[0].ocpus: A1 OCPUs must be a whole number (got 1.5)",
    ),
    (
        "fractional-budget",
        "  amount: 1\n",
        "  amount: 1.5\n",
        "budget.amount: Input should be a valid integer (got 1.5)",
    ),
    (
        "missing-required",
        "budget:\n  alert_email: you@example.com\n",
        "budget:\n",
        "budget.alert_email: required field is missing",
    ),
    (
        "invalid-yaml",
        "  branch: main\n",
        "  branch: main\n  - stray\n",
        "invalid YAML: while parsing a block mapping",
    ),
    (
        "quoted-number",
        "    memory_gb: 6\n    boot_volume_gb: 50\n  - name: node-2",
        "    memory_gb: '6'\n    boot_volume_gb: 50\n  - name: node-2",
        "instances[0].memory_gb: Input should be a valid integer (got '6')",
    ),
    (
        "service-overlaps-pods",
        "service_cidr: 10.96.0.0/12",
        "service_cidr: 10.244.0.0/20",
        "network.service_cidr: 10.244.0.0/20 overlaps pod_cidr 10.244.0.0/16",
    ),
    (
        "subnet-outside-vcn",
        "subnet_cidr: 10.0.1.0/24",
        "subnet_cidr: 10.1.1.0/24",
        "network.subnet_cidr: 10.1.1.0/24 is not inside vcn_cidr 10.0.0.0/16",
    ),
    (
        "cidr-host-bits",
        "vcn_cidr: 10.0.0.0/16",
        "vcn_cidr: 10.0.0.1/16",
        "network.vcn_cidr: Value error, not a CIDR block: 10.0.0.1/16 has host bits set",
    ),
    (
        "name-not-dns-safe",
        "  - name: node-2",
        "  - name: Node_2",
        "instances[1].name: String should match pattern",
    ),
    (
        "duplicate-name",
        "  - name: node-2",
        "  - name: node-1",
        "instances[1].name: duplicate name 'node-1'",
    ),
    (
        "even-controlplanes",
        "    role: worker",
        "    role: controlplane",
        "instances: 2 controlplanes: use an odd number",
    ),
    (
        "unknown-profile",
        "profile: always-free-2026-06",
        "profile: always-free-2019",
        "free_tier.profile: Input should be 'always-free-2026-06' or 'always-free-legacy'",
    ),
    (
        "proxmox-without-hosts",
        "topology: direct",
        "topology: proxmox",
        "proxmox.hosts: topology proxmox needs at least one host",
    ),
    (
        "a1-memory-ratio",
        "    memory_gb: 6\n    boot_volume_gb: 50\n  - name: node-2",
        "    memory_gb: 100\n    boot_volume_gb: 50\n  - name: node-2",
        "instances[0].memory_gb: 100 GB is outside 1-64 GB per OCPU",
    ),
    (
        "duplicate-key",
        "topology: direct\n",
        "topology: direct\ntopology: proxmox\n",
        "invalid YAML",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [pytest.param(old, new, expected, id=case) for case, old, new, expected in TEXT_CASES],
)
def test_each_bad_stack_gives_one_line_naming_path_and_problem(
    stack_text: str, write_stack, old: str, new: str, expected: str
) -> None:
    assert old in stack_text, "the shipped stack.yaml changed; update this case"
    path = write_stack(stack_text.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_stack(path)
    assert len(info.value.problems) == 1, info.value.problems
    line = info.value.problems[0]
    assert line.startswith(f"{path}:"), line
    assert expected in line, line


def test_empty_file(write_stack) -> None:
    path = write_stack("\n  \n")
    with pytest.raises(ConfigError, match=r"stack\.yaml: file is empty$"):
        load_stack(path)


def test_comment_only_file(write_stack) -> None:
    with pytest.raises(ConfigError, match="holds no YAML document"):
        load_stack(write_stack("# nothing here\n"))


def test_top_level_list(write_stack) -> None:
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_stack(write_stack("- a\n- b\n"))


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory, expected a YAML file"):
        load_stack(tmp_path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_stack(tmp_path / "nope.yaml")


def test_non_utf8_file_names_the_byte_and_offset(stack_text: str, write_stack) -> None:
    data = stack_text.encode("utf-8").replace(b"you@example.com", b"you\xff@example.com")
    offset = data.index(b"\xff")
    path = write_stack(data)
    with pytest.raises(ConfigError) as info:
        load_stack(path)
    assert info.value.problems == (f"{path}: not UTF-8 text (byte 0xff at offset {offset})",)


def test_several_problems_are_all_reported_one_per_line(stack_text: str, write_stack) -> None:
    text = stack_text.replace("pod_cidr: 10.244.0.0/16", "pod_cidr: 10.0.0.0/8").replace(
        "  - name: node-2", "  - name: node-1"
    )
    with pytest.raises(ConfigError) as info:
        load_stack(write_stack(text))
    # The pod range now covers the VCN and the service range: three problems, three lines.
    assert [p.split(": ", 1)[1] for p in info.value.problems] == [
        "instances[1].name: duplicate name 'node-1'",
        "network.pod_cidr: 10.0.0.0/8 overlaps vcn_cidr 10.0.0.0/16; it must lie outside the VCN",
        "network.service_cidr: 10.96.0.0/12 overlaps pod_cidr 10.0.0.0/8",
    ]


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        pytest.param(
            "  boot_volume_gb: 50\n\nnetwork:",
            "  boot_volum_gb: 50\n\nnetwork:",
            "boot_volum_gb",
            id="unknown-key",
        ),
        pytest.param("ocpus: 1\n", "ocpus: 2.5\n", "ocpus: 2.5", id="nested-list-item"),
        pytest.param(
            "  branch: main\n", "  branch: main\n  - stray\n", "- stray", id="yaml-syntax"
        ),
    ],
)
def test_errors_point_at_the_line_of_the_field(
    stack_text: str, write_stack, old: str, new: str, needle: str
) -> None:
    text = stack_text.replace(old, new, 1)
    path = write_stack(text)
    with pytest.raises(ConfigError) as info:
        load_stack(path)
    assert info.value.problems[0].startswith(f"{path}:{_line_of(text, needle)}:")
