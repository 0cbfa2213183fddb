"""The import recipe table (pure) and what each recipe uploads: an .oci archive with its
metadata, a stream-optimized VMDK made by the real qemu-img, imported into the fake OCI by the
real oci SDK, which holds the import to the recipe's source-type and firmware rules."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from freetier.errors import ConfigError
from freetier.images.importer import ImportFailed
from freetier.images.oci_archive import image_metadata, recipe_file
from freetier.images.publish import publish_image
from freetier.images.recipes import (
    PV_ENCRYPTION_IN_TRANSIT,
    TALOS_OCI_ARCHIVE,
    TALOS_VMDK_BIOS,
    built_recipe,
    talos_recipe,
)
from tests.images.conftest_publish import MIB, OPTIONS, World, world
from tests.images.test_talos import qemu_img


@pytest.mark.parametrize(
    ("version", "kind", "source_type", "firmware"),
    [
        ("v1.13.0", "oci", None, "UEFI_64"),
        ("v1.13.9", "oci", None, "UEFI_64"),
        ("1.13.9", "oci", None, "UEFI_64"),
        ("v1.14.0-rc.1", "vmdk", "VMDK", "BIOS"),
        ("v1.14.2", "vmdk", "VMDK", "BIOS"),
        ("v1.15.0", "vmdk", "VMDK", "BIOS"),
        ("v2.0.0", "vmdk", "VMDK", "BIOS"),
    ],
)
def test_the_pinned_version_chooses_the_recipe(
    version: str, kind: str, source_type: str | None, firmware: str
) -> None:
    recipe = talos_recipe(version)
    assert (recipe.kind, recipe.source_image_type, recipe.firmware) == (
        kind,
        source_type,
        firmware,
    )
    assert recipe.launch_mode == "PARAVIRTUALIZED"
    assert recipe.set_firmware is None  # in the archive, or OCI's default for a VMDK
    assert "oracle.mdx" in recipe.source or "#12557" in recipe.source


@pytest.mark.parametrize(
    ("version", "problem"),
    [
        ("v1.12.5", "has no OCI import recipe that boots (from v1.13; siderolabs/talos#12557)"),
        ("v1.7.6", "has no OCI import recipe that boots (from v1.13; siderolabs/talos#12557)"),
        ("latest", "is not a Talos version like v1.13.9"),
        ("v1.x.0", "is not a Talos version like v1.13.9"),
    ],
)
def test_versions_without_a_recipe_are_one_line(version: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        talos_recipe(version)
    (line,) = info.value.problems
    assert line.startswith("versions.talos: ") and version in line and line.endswith(problem)


def test_built_images_are_qcow2_with_uefi_on_arm64_only() -> None:
    arm, amd = built_recipe("arm64"), built_recipe("amd64")
    assert (arm.kind, arm.source_image_type, arm.set_firmware) == ("qcow2", "QCOW2", "UEFI_64")
    assert (amd.kind, amd.source_image_type, amd.set_firmware) == ("qcow2", "QCOW2", None)


def test_no_recipe_turns_in_transit_encryption_on() -> None:
    assert PV_ENCRYPTION_IN_TRANSIT is False
    for recipe in (TALOS_OCI_ARCHIVE, TALOS_VMDK_BIOS, built_recipe("arm64")):
        assert recipe.pv_encryption_in_transit is False


def test_the_archive_metadata_allows_uefi_only_on_a1() -> None:
    meta = image_metadata(TALOS_OCI_ARCHIVE, "Talos", "1.13.9")
    caps = json.loads(meta["imageCapabilityData"])["capabilities"]
    assert caps["Compute.Firmware"] == {
        "descriptorType": "enumstring",
        "values": ["UEFI_64"],
        "defaultValue": "UEFI_64",
    }
    assert caps["Compute.LaunchMode"]["values"] == ["PARAVIRTUALIZED"]
    assert caps["Storage.ParaVirtualization.EncryptionInTransit"]["defaultValue"] is False
    assert meta["externalLaunchOptions"]["firmware"] == "UEFI_64"
    assert meta["externalLaunchOptions"]["pvEncryptionInTransitEnabled"] is False
    assert meta["additionalMetadata"]["shapeCompatibilities"][0]["internalShapeName"] == (
        "VM.Standard.A1.Flex"
    )
    assert (meta["operatingSystem"], meta["operatingSystemVersion"]) == ("Talos", "1.13.9")


# --- the uploads, against the fake ------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with world(tmp_path, monkeypatch) as running:
        running.fake.import_polls = 1
        yield running


@pytest.fixture
def qcow2(tmp_path: Path) -> Path:
    """A real 8 MiB qcow2 with data in it, made by qemu-img."""
    qemu = qemu_img()
    raw = tmp_path / "disk.raw"
    raw.write_bytes(b"talos" * (MIB // 5) + bytes(7 * MIB))
    out = tmp_path / "out" / "talos-oracle-arm64.qcow2"
    out.parent.mkdir()
    subprocess.run([qemu, "convert", "-f", "raw", "-O", "qcow2", str(raw), str(out)], check=True)
    return out


def _publish(env: World, path: Path, recipe: object) -> object:
    return publish_image(
        path,
        stack=env.stack,
        config=env.config,
        name="talos",
        arch="arm64",
        os_name="Talos",
        os_version="1.13.9",
        part_size=MIB,
        tofu_dir=env.tofu_dir,
        options=OPTIONS,
        recipe=recipe,  # type: ignore[arg-type]
    )


def test_v1_13_uploads_an_oci_archive_imported_without_a_source_type(
    env: World, qcow2: Path
) -> None:
    upload = recipe_file(TALOS_OCI_ARCHIVE, qcow2, "Talos", "1.13.9")

    assert upload.name == "talos-oracle-arm64.oci"
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(upload.read_bytes()))) as tar:
        names = tar.getnames()
        member = tar.extractfile("image_metadata.json")
        assert member is not None
        meta = json.loads(member.read())
        disk = tar.extractfile("talos-oracle-arm64.qcow2")
        assert disk is not None and disk.read() == qcow2.read_bytes()
    assert names == ["image_metadata.json", "talos-oracle-arm64.qcow2"]
    assert meta["externalLaunchOptions"]["firmware"] == "UEFI_64"
    # The same qcow2 gives the same bytes (its SHA names the image): made once, kept.
    made = upload.stat().st_mtime_ns
    assert recipe_file(TALOS_OCI_ARCHIVE, qcow2, "Talos", "1.13.9").stat().st_mtime_ns == made

    result = _publish(env, upload, TALOS_OCI_ARCHIVE)

    image = env.fake.image(result.image_ocid)  # type: ignore[attr-defined]
    assert image["_source"] == "OCI"  # CreateImage left sourceImageType out
    assert image["lifecycleState"] == "AVAILABLE"
    assert image["launchOptions"]["firmware"] == "UEFI_64"
    assert image["_capabilities"]["Compute.Firmware"]["values"] == ["UEFI_64"]
    # No capability schema was created: the archive carries the firmware.
    assert env.fake.state["computeImageCapabilitySchemas"] == []
    assert list(env.fake.image_shapes[image["id"]]) == ["VM.Standard.A1.Flex"]


def test_v1_14_uploads_a_stream_optimized_vmdk_imported_with_bios(env: World, qcow2: Path) -> None:
    qemu = qemu_img()
    upload = recipe_file(TALOS_VMDK_BIOS, qcow2, "Talos", "1.14.0")

    info = json.loads(
        subprocess.run(
            [qemu, "info", "--output=json", str(upload)], capture_output=True, check=True, text=True
        ).stdout
    )
    assert info["format"] == "vmdk"
    assert info["format-specific"]["data"]["create-type"] == "streamOptimized"
    back = qcow2.parent / "back.raw"
    subprocess.run([qemu, "convert", "-O", "raw", str(upload), str(back)], check=True)
    assert back.read_bytes()[:10] == b"talostalos"

    result = _publish(env, upload, TALOS_VMDK_BIOS)

    image = env.fake.image(result.image_ocid)  # type: ignore[attr-defined]
    assert (image["_source"], image["lifecycleState"]) == ("VMDK", "AVAILABLE")
    assert image["launchOptions"]["firmware"] == "BIOS"
    assert env.fake.state["computeImageCapabilitySchemas"] == []  # UEFI_64 never set


def test_the_fake_refuses_a_file_that_is_not_the_declared_type(env: World, qcow2: Path) -> None:
    """A qcow2 declared VMDK, an .oci archive declared QCOW2: the import ends DISABLED, and
    publish deletes what it made."""
    archive = recipe_file(TALOS_OCI_ARCHIVE, qcow2, "Talos", "1.13.9")
    with pytest.raises(ImportFailed, match="ended DISABLED"):
        _publish(env, qcow2, TALOS_VMDK_BIOS)
    with pytest.raises(ImportFailed, match="ended DISABLED"):
        _publish(env, archive, built_recipe("arm64"))
    assert env.fake.objects == {}


def test_the_fake_refuses_a_vmdk_of_several_files(env: World, qcow2: Path, tmp_path: Path) -> None:
    flat = tmp_path / "flat.vmdk"
    subprocess.run(
        [qemu_img(), "convert", "-O", "vmdk", "-o", "subformat=monolithicFlat", str(qcow2),
         str(flat)],
        check=True,
    )  # fmt: skip
    with pytest.raises(ImportFailed, match="ended DISABLED"):
        _publish(env, flat, TALOS_VMDK_BIOS)
