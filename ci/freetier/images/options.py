"""What the images stage lets a user choose, as plain data: the architectures, the Talos Image
Factory assets and the upload's parallelism. Nothing here imports the oci SDK, so the CLI
builds its parser from these without loading the stage."""

from __future__ import annotations

from typing import Literal

MIB = 1024**2

Arch = Literal["arm64", "amd64"]
ARCHES: tuple[Arch, ...] = ("arm64", "amd64")

TalosFormat = Literal["qcow2", "qcow2.xz", "raw.xz", "raw"]
FORMATS: tuple[TalosFormat, ...] = ("qcow2", "qcow2.xz", "raw.xz", "raw")

DEFAULT_PARALLEL = 4  # multipart parts in flight
