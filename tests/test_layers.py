"""The layers, their order and each one's own state key from the one backend settings file."""

from __future__ import annotations

import doctest

import pytest

from freetier import layers
from freetier.layers import LAYERS, UPSTREAM, state_key
from freetier.tofu.run import init_argv


def test_doctests() -> None:
    assert doctest.testmod(layers).failed == 0


def test_oci_then_talos_which_reads_oci() -> None:
    assert LAYERS == ("oci", "talos")
    assert UPSTREAM == {"talos": "oci"}


def test_the_proxmox_topology_forms_its_cluster_between_oci_and_talos() -> None:
    assert layers.topology_layers("proxmox") == ("oci", "proxmox", "talos")
    assert layers.topology_layers("direct") == ("oci", "talos")
    # no tofu folder for it: `--layer` of the tofu commands never offers it
    assert "proxmox" not in LAYERS and layers.BOOTSTRAP_LAYERS == ("proxmox",)


@pytest.mark.parametrize(
    ("key", "talos"),
    [
        ("oci/terraform.tfstate", "talos/terraform.tfstate"),
        ("prod/oci/terraform.tfstate", "prod/talos/terraform.tfstate"),
        ("oci/nested/oci/x.tfstate", "oci/nested/talos/x.tfstate"),
        ("state.tfstate", "talos/state.tfstate"),
        ("prod/state.tfstate", "prod/talos/state.tfstate"),
    ],
)
def test_every_layer_gets_its_own_key(key: str, talos: str) -> None:
    assert state_key(key, "oci") == key
    assert state_key(key, "talos") == talos != key


def test_init_overrides_the_files_key_with_the_layers() -> None:
    from pathlib import Path

    argv = init_argv(backend_config=Path("b.hcl"), key="talos/terraform.tfstate")
    assert argv[-2:] == ["-backend-config=b.hcl", "-backend-config=key=talos/terraform.tfstate"]
