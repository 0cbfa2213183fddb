"""The tofu layers, in the order they are applied, and where each one's folder and state are.

Every stage finds a layer through `layer_folder`, so the repository's layout (`tofu/LAYER/`
beside stack.yaml, a layer being a folder with `versions.tf`) is written down once; and every
stage names a layer's remote state through `state_key`, so one backend settings file serves
all layers without two of them ever sharing a state."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

LAYERS = ("oci", "talos")  # the tofu layers, in dependency order: deploy applies them so
# Layers without a tofu folder: the proxmox topology's Proxmox VE cluster, formed by
# `freetier proxmox bootstrap` over SSH; its plan is that command's `--dry-run --format json`
# report.
BOOTSTRAP_LAYERS = ("proxmox",)
LAYER_MARKER = "versions.tf"
# The layer whose outputs a layer's variables are derived from (its upstream).
UPSTREAM: dict[str, str] = {"talos": "oci"}
# The layer whose state key the backend settings file (`--backend-config`) names.
KEYED_LAYER = "oci"


def topology_layers(topology: str) -> tuple[str, ...]:
    """Every layer of a topology, tofu or not, in the order they are applied: the proxmox
    cluster after the instances it runs on and before the Talos VMs on it.

    >>> topology_layers("direct"), topology_layers("proxmox")
    (('oci', 'talos'), ('oci', 'proxmox', 'talos'))
    """
    if topology == "proxmox":
        return ("oci", *BOOTSTRAP_LAYERS, "talos")
    return LAYERS


def layer_folder(stack_file: Path, layer: str) -> Path:
    """`tofu/LAYER` beside the stack file, whether or not it exists."""
    return stack_file.parent / "tofu" / layer


def present_layers(stack_file: Path) -> list[str]:
    """The layers of LAYERS this repository has (their folder holds `versions.tf`), in order."""
    return [n for n in LAYERS if (layer_folder(stack_file, n) / LAYER_MARKER).is_file()]


def state_key(key: str, layer: str) -> str:
    """The state key of `layer`, given the key the backend settings file names (the oci
    layer's, `oci/terraform.tfstate` in tofu/oci/README.md): its last folder named `oci`
    becomes the layer's name, else the layer's name becomes a folder before the file.

    >>> state_key("oci/terraform.tfstate", "oci"), state_key("oci/terraform.tfstate", "talos")
    ('oci/terraform.tfstate', 'talos/terraform.tfstate')
    >>> state_key("prod/oci/state.tfstate", "talos"), state_key("terraform.tfstate", "talos")
    ('prod/talos/state.tfstate', 'talos/terraform.tfstate')
    """
    if layer == KEYED_LAYER:
        return key
    path = PurePosixPath(key)
    folders = list(path.parent.parts) if str(path.parent) != "." else []
    for index in range(len(folders) - 1, -1, -1):
        if folders[index] == KEYED_LAYER:
            folders[index] = layer
            return str(PurePosixPath(*folders, path.name))
    return str(PurePosixPath(*folders, layer, path.name))
