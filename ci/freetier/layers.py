"""The tofu layers, in the order they are applied, and where each one's folder is.

Every stage finds a layer through `layer_folder`, so the repository's layout (`tofu/LAYER/`
beside stack.yaml, a layer being a folder with `versions.tf`) is written down once."""

from __future__ import annotations

from pathlib import Path

LAYERS = ("oci",)  # dependency order: deploy applies them in this order
LAYER_MARKER = "versions.tf"


def layer_folder(stack_file: Path, layer: str) -> Path:
    """`tofu/LAYER` beside the stack file, whether or not it exists."""
    return stack_file.parent / "tofu" / layer


def present_layers(stack_file: Path) -> list[str]:
    """The layers of LAYERS this repository has (their folder holds `versions.tf`), in order."""
    return [n for n in LAYERS if (layer_folder(stack_file, n) / LAYER_MARKER).is_file()]
