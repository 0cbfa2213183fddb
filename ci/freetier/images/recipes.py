"""How an image is imported into OCI, as data: the file uploaded, the `sourceImageType`
CreateImage gets, the firmware set after the import, and what the image accepts at launch.
Pure: the Talos recipe is chosen by the stack's pinned Talos version, every other image
(the Debian base and Proxmox images freetier builds) is a QCOW2 import.

Sources, read 2026-10:

- T13: Talos v1.13 "Oracle" page, siderolabs/docs
  public/talos/v1.13/platform-specific-installations/cloud-platforms/oracle.mdx
  (https://docs.siderolabs.com/talos/v1.13/platform-specific-installations/cloud-platforms/oracle):
  the factory's `oracle-arm64.qcow2` packed with an `image_metadata.json` (firmware
  `UEFI_64` only, paravirtualized devices, shape compatibility `VM.Standard.A1.Flex`) into a
  gzip'd tar `oracle-arm64.oci`.
- T14: Talos v1.14 "Oracle" page, same repository, public/talos/v1.14/.../oracle.mdx (changed by
  siderolabs/docs#659, 2026-07-20): the qcow2 converted with `qemu-img convert -f qcow2 -O vmdk
  -o subformat=streamOptimized`, imported with `--source-image-type VMDK --launch-mode
  PARAVIRTUALIZED`; OCI gives a VMDK import BIOS firmware by default, and the page says not to
  switch it to `UEFI_64`. Why: siderolabs/talos#12557 (QCOW2 + UEFI_64 drops to the UEFI
  shell, QCOW2 + BIOS leaves the serial console empty, OCI shows RUNNING either way).
- SRC: OCI API `ImageSourceDetails.sourceImageType`: "This attribute is not used for exported
  Oracle images with the OCI image format"
  (https://docs.oracle.com/en-us/iaas/tools/typescript/2.8.0/modules/_core_lib_model_image_source_details_.imagesourcedetails.html):
  an `.oci` archive is imported with the field left out.
- PV: in-transit encryption of paravirtualized attachments. Oracle's Block Volume Encryption
  page (https://docs.oracle.com/en-us/iaas/Content/Block/Concepts/blockvolumeencryption.htm)
  offers it for VMs launched from platform images; an imported image has it only where its own
  image capabilities declare `Storage.ParaVirtualization.EncryptionInTransit` (the global
  capability schema, https://docs.oracle.com/iaas/Content/Compute/Tasks/configuringimagecapabilities.htm).
  QCOW2 and VMDK imports declare nothing; the `.oci` archive freetier writes declares it off.
  The provider takes the top-level `is_pv_encryption_in_transit_enabled` at create only
  (oracle/terraform-provider-oci v8.28.0, website/docs/r/core_instance.html.markdown), so one
  value for every kind keeps a Talos version bump from replacing nodes: off, in both places
  tofu/oci/compute.tf sets it (tests/tofu/test_compute_hcl.py holds them to this).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from freetier.errors import ConfigError
from freetier.images.options import Arch

ImageKind = Literal["qcow2", "oci", "vmdk"]

# tofu/oci/compute.tf sets this at the top level and in launch_options of every instance
# (source PV above); `images boot-check` launches with it too.
PV_ENCRYPTION_IN_TRANSIT = False
LAUNCH_MODE = "PARAVIRTUALIZED"
A1_SHAPE = "VM.Standard.A1.Flex"


@dataclass(frozen=True)
class ImportRecipe:
    """One way to import an image: what is uploaded and what CreateImage is told."""

    kind: ImageKind
    source_image_type: str | None  # None: left out of CreateImage (an .oci archive)
    set_firmware: str | None  # an image capability schema set after import; None: keep
    firmware: str  # the firmware the imported image boots with
    launch_mode: str
    pv_encryption_in_transit: bool
    source: str

    @property
    def extension(self) -> str:
        return self.kind


# The built disks boot from an EFI system partition on arm64 (UEFI_64 set after import);
# amd64 keeps OCI's default for an imported QCOW2.
_BUILT_FIRMWARE: dict[Arch, str] = {"arm64": "UEFI_64", "amd64": "BIOS"}


def built_recipe(arch: Arch) -> ImportRecipe:
    """The images freetier builds (Debian base, Proxmox): QCOW2, UEFI_64 set on arm64."""
    firmware = _BUILT_FIRMWARE[arch]
    return ImportRecipe(
        kind="qcow2",
        source_image_type="QCOW2",
        set_firmware="UEFI_64" if arch == "arm64" else None,
        firmware=firmware,
        launch_mode=LAUNCH_MODE,
        pv_encryption_in_transit=PV_ENCRYPTION_IN_TRANSIT,
        source="images/ recipes built by freetier; SRC, PV in freetier.images.recipes",
    )


TALOS_OCI_ARCHIVE = ImportRecipe(
    kind="oci",
    source_image_type=None,  # SRC
    set_firmware=None,  # the archive's image_metadata.json carries it (T13)
    firmware="UEFI_64",
    launch_mode=LAUNCH_MODE,
    pv_encryption_in_transit=PV_ENCRYPTION_IN_TRANSIT,
    source="Talos v1.13 Oracle page (siderolabs/docs public/talos/v1.13/.../oracle.mdx)",
)
TALOS_VMDK_BIOS = ImportRecipe(
    kind="vmdk",
    source_image_type="VMDK",
    set_firmware=None,  # BIOS, OCI's default for a VMDK import (T14)
    firmware="BIOS",
    launch_mode=LAUNCH_MODE,
    pv_encryption_in_transit=PV_ENCRYPTION_IN_TRANSIT,
    source="Talos v1.14 Oracle page (siderolabs/docs#659, siderolabs/talos#12557)",
)

# (first Talos minor it applies to, recipe), newest first: a version takes the first row at or
# below it. Talos before 1.13 has no row: its Oracle page's QCOW2 + UEFI recipe is what
# siderolabs/talos#12557 reports as not booting.
TALOS_RECIPES: tuple[tuple[tuple[int, int], ImportRecipe], ...] = (
    ((1, 14), TALOS_VMDK_BIOS),
    ((1, 13), TALOS_OCI_ARCHIVE),
)


def talos_minor(version: str) -> tuple[int, int]:
    """
    >>> talos_minor("v1.14.0-rc.1"), talos_minor("1.13.9")
    ((1, 14), (1, 13))
    """
    match = re.match(r"^v?(\d+)\.(\d+)(\.\d+)?(-[0-9A-Za-z.-]+)?$", version)
    if match is None:
        raise ConfigError([f"versions.talos: {version!r} is not a Talos version like v1.13.9"])
    return int(match.group(1)), int(match.group(2))


def talos_recipe(version: str) -> ImportRecipe:
    """The import recipe for the pinned Talos version."""
    minor = talos_minor(version)
    for first, recipe in TALOS_RECIPES:
        if minor >= first:
            return recipe
    oldest = ".".join(map(str, TALOS_RECIPES[-1][0]))
    raise ConfigError(
        [
            f"versions.talos: {version} has no OCI import recipe that boots (from v{oldest}; "
            "siderolabs/talos#12557)"
        ]
    )
