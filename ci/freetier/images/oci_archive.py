"""The files a recipe uploads, made from a qcow2: an `.oci` archive (the qcow2 and an
`image_metadata.json`, gzip'd tar, as the Talos v1.13 Oracle page packs it), or a
stream-optimized VMDK (`qemu-img convert`, as the v1.14 page converts it). Sources in
`freetier.images.recipes`.

The archive is written byte for byte the same from the same qcow2 (fixed mtimes, owners and
order), so its SHA-256, which names the uploaded object and the image, is stable across runs.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from freetier.command import Command, run
from freetier.images.recipes import A1_SHAPE, ImportRecipe

METADATA_NAME = "image_metadata.json"
CONVERT_TIMEOUT = 3600.0
# The format identifier of `imageCapabilityData` in OCI's exported-image metadata, as the
# Talos v1.13 Oracle page writes it.
CAPS_FORMAT_VERSION = "0eacf73b-5e10-4b69-a5d2-afd3f37fdd45"
PV = "PARAVIRTUALIZED"


def _enum(values: list[str], default: str) -> dict[str, Any]:
    return {"descriptorType": "enumstring", "values": values, "defaultValue": default}


def image_metadata(recipe: ImportRecipe, os_name: str, os_version: str) -> dict[str, Any]:
    """`image_metadata.json` for an `.oci` archive: the recipe's firmware as the only one the
    image allows, every device paravirtualized, A1 as its shape; in-transit encryption as the
    recipe says."""
    capabilities = {
        "Compute.Firmware": _enum([recipe.firmware], recipe.firmware),
        "Compute.LaunchMode": _enum([recipe.launch_mode], recipe.launch_mode),
        "Storage.BootVolumeType": _enum([PV], PV),
        "Storage.RemoteDataVolumeType": _enum([PV], PV),
        "Storage.LocalDataVolumeType": _enum([PV], PV),
        "Network.AttachmentType": _enum([PV], PV),
        "Storage.ParaVirtualization.EncryptionInTransit": {
            "descriptorType": "boolean",
            "defaultValue": recipe.pv_encryption_in_transit,
        },
    }
    return {
        "version": 2,
        "externalLaunchOptions": {
            "firmware": recipe.firmware,
            "networkType": PV,
            "bootVolumeType": PV,
            "remoteDataVolumeType": PV,
            "localDataVolumeType": PV,
            "launchOptionsSource": PV,
            "pvAttachmentVersion": 2,
            "pvEncryptionInTransitEnabled": recipe.pv_encryption_in_transit,
            "consistentVolumeNamingEnabled": True,
        },
        "imageCapabilityData": json.dumps({"capabilities": capabilities}, sort_keys=True),
        "imageCapsFormatVersion": CAPS_FORMAT_VERSION,
        "operatingSystem": os_name,
        "operatingSystemVersion": os_version,
        "additionalMetadata": {
            "shapeCompatibilities": [
                {"internalShapeName": A1_SHAPE, "ocpuConstraints": None, "memoryConstraints": None}
            ]
        },
    }


def write_oci_archive(qcow2: Path, dest: Path, metadata: dict[str, Any], disk_name: str) -> Path:
    """`dest`: a gzip'd tar of `metadata` as image_metadata.json and `qcow2` as `disk_name`,
    written under a temporary name and renamed when complete."""
    tmp = dest.with_name(dest.name + ".tmp")
    body = json.dumps(metadata, indent=2, sort_keys=True).encode() + b"\n"
    try:
        with (
            tmp.open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed,
            tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as tar,
            qcow2.open("rb") as disk,
        ):
            tar.addfile(_member(METADATA_NAME, len(body)), io.BytesIO(body))
            tar.addfile(_member(disk_name, qcow2.stat().st_size), disk)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp.replace(dest)


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def vmdk_argv(src: Path, dest: Path) -> tuple[str, ...]:
    """The Talos v1.14 page's conversion.

    >>> vmdk_argv(Path("a.qcow2"), Path("a.vmdk"))[1:]
    ('convert', '-f', 'qcow2', '-O', 'vmdk', '-o', 'subformat=streamOptimized', 'a.qcow2', 'a.vmdk')
    """
    return (
        "qemu-img", "convert", "-f", "qcow2", "-O", "vmdk",
        "-o", "subformat=streamOptimized", str(src), str(dest),
    )  # fmt: skip


def to_vmdk(src: Path, dest: Path) -> Path:
    tmp = dest.with_name(dest.name + ".tmp")
    try:
        run(Command(vmdk_argv(src, tmp), timeout=CONVERT_TIMEOUT))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp.replace(dest)


def recipe_file(recipe: ImportRecipe, qcow2: Path, os_name: str, os_version: str) -> Path:
    """The file the recipe uploads, made beside `qcow2` (the qcow2 itself for a QCOW2 import).
    Made again only when `qcow2` changed (its size and mtime, recorded beside the result)."""
    if recipe.kind == "qcow2":
        return qcow2
    dest = qcow2.with_suffix(f".{recipe.extension}")
    stamp = dest.with_name(dest.name + ".source")
    source_id = f"{qcow2.stat().st_size}:{qcow2.stat().st_mtime_ns}:{os_version}"
    if dest.is_file() and _read(stamp) == source_id:
        return dest
    if recipe.kind == "oci":
        write_oci_archive(
            qcow2, dest, image_metadata(recipe, os_name, os_version), f"{qcow2.stem}.qcow2"
        )
    else:
        to_vmdk(qcow2, dest)
    stamp.write_text(source_id + "\n", encoding="utf-8")
    return dest


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
