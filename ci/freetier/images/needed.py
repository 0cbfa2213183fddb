"""Which image each architecture of a stack boots: what the images workflow builds or fetches.

tofu/oci chooses an instance's image by its architecture alone (`image_ocids[arch]`, A1
shapes arm64, the rest amd64), so a stack boots one image per architecture. Instances in the
`direct` topology run Talos's own image; Proxmox hosts run the `proxmox` recipe; the bastion
runs the hardened `base`. Two of those on one architecture cannot both be served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from freetier.errors import ConfigError
from freetier.stack.model import Stack

# GitHub-hosted runners of each architecture: images build natively, never under emulation.
RUNNERS = {"arm64": "ubuntu-24.04-arm", "amd64": "ubuntu-24.04"}


@dataclass(frozen=True)
class NeededImage:
    name: str  # a recipe of images/ (built), or "talos" (fetched from the Image Factory)
    arch: str
    used_by: tuple[str, ...]

    @property
    def source(self) -> Literal["build", "talos"]:
        return "talos" if self.name == "talos" else "build"

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "arch": self.arch,
            "source": self.source,
            "runner": RUNNERS[self.arch],
            "used_by": list(self.used_by),
        }


def shape_arch(shape: str) -> str:
    """The same rule as tofu/oci's locals.tf: Ampere A1 shapes are arm64, the rest amd64."""
    return "arm64" if ".A1." in shape else "amd64"


def needed_images(stack: Stack, source: str = "stack.yaml") -> list[NeededImage]:
    """One image per architecture the stack's instances and bastion use, in arch order."""
    wanted: dict[str, dict[str, list[str]]] = {}  # arch -> image -> nodes

    def want(arch: str, image: str, node: str) -> None:
        wanted.setdefault(arch, {}).setdefault(image, []).append(node)

    for inst in stack.instances:
        want(
            shape_arch(inst.shape), "proxmox" if inst.role == "proxmox-host" else "talos", inst.name
        )
    if stack.bastion.enabled:
        want(shape_arch(stack.bastion.shape), "base", stack.bastion.name)
    problems = [
        f"{source}: instances: {arch} nodes need "
        + " and ".join(f"{image} ({', '.join(nodes)})" for image, nodes in images.items())
        + f"; tofu/oci boots one image per architecture (image_ocids.{arch})"
        for arch, images in sorted(wanted.items())
        if len(images) > 1
    ]
    if problems:
        raise ConfigError(problems)
    return [
        NeededImage(image, arch, tuple(nodes))
        for arch, images in sorted(wanted.items())
        for image, nodes in images.items()
    ]


def needed_json(images: list[NeededImage]) -> dict[str, list[dict[str, object]]]:
    """The workflow's matrices: images to build on a native runner, and Talos to fetch."""
    return {
        "build": [i.to_json() for i in images if i.source == "build"],
        "talos": [i.to_json() for i in images if i.source == "talos"],
    }
