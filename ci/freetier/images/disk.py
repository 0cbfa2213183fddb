"""The disk: a GPT with an EFI system partition (FAT) and an ext4 root, assembled in a plain
file without loop devices (mkfs.fat and mke2fs write at an offset, mtools copies into the
FAT, sgdisk writes the table last), then compressed to qcow2.

Every identifier (disk and partition GUIDs, the root UUID, the ESP serial) derives from the
image name and architecture, so rebuilding gives the same fstab and the same loader config.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

from freetier.images.options import MIB

SECTOR = 512
ALIGN = MIB  # partitions start on MiB boundaries
ESP_TYPE_GUID = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
_NAMESPACE = uuid.UUID("6f1c1d3e-8a52-4c43-9a3e-2f0f4e9e6a10")  # freetier's image namespace
_GPT_SIGNATURE = b"EFI PART"
_EXT4_MAGIC = 0xEF53


@dataclass(frozen=True)
class DiskIds:
    disk_guid: str
    esp_guid: str
    root_guid: str
    root_uuid: str  # the ext4 filesystem's UUID (fstab, kernel command line, GRUB)
    esp_serial: str  # FAT volume ID, 8 hex digits; fstab spells it XXXX-XXXX

    @property
    def esp_uuid(self) -> str:
        return f"{self.esp_serial[:4]}-{self.esp_serial[4:]}".upper()


def derive_ids(name: str, arch: str) -> DiskIds:
    """Stable identifiers for NAME-ARCH: the same on every rebuild, different per image."""

    def guid(what: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{name}:{arch}:{what}"))

    serial = hashlib.sha256(f"{name}:{arch}:esp".encode()).hexdigest()[:8]
    return DiskIds(
        disk_guid=guid("disk"),
        esp_guid=guid("esp-partition"),
        root_guid=guid("root-partition"),
        root_uuid=guid("root-filesystem"),
        esp_serial=serial,
    )


@dataclass(frozen=True)
class Layout:
    """Byte offsets and sizes of the two partitions in a disk of `size` bytes."""

    size: int
    esp_offset: int
    esp_size: int
    root_offset: int
    root_size: int
    root_type_guid: str
    ids: DiskIds

    @property
    def esp_sectors(self) -> tuple[int, int]:
        return self.esp_offset // SECTOR, (self.esp_offset + self.esp_size) // SECTOR - 1

    @property
    def root_sectors(self) -> tuple[int, int]:
        return self.root_offset // SECTOR, (self.root_offset + self.root_size) // SECTOR - 1


def plan_layout(size_gb: float, esp_mb: int, root_type_guid: str, ids: DiskIds) -> Layout:
    """ESP from 1 MiB, root right after it up to 1 MiB before the end (backup GPT)."""
    size = int(size_gb * 1024) * MIB
    esp_size = esp_mb * MIB
    root_offset = ALIGN + esp_size
    root_size = size - ALIGN - root_offset
    if root_size < 256 * MIB:
        raise ValueError(f"disk of {size_gb} GB leaves no room for the root filesystem")
    return Layout(size, ALIGN, esp_size, root_offset, root_size, root_type_guid, ids)


def mkfs_fat_argv(layout: Layout, disk: Path) -> tuple[str, ...]:
    return (
        "mkfs.fat",
        "-F",
        "32",
        "-s",
        "1",  # 512-byte clusters: enough of them for FAT32 in a small ESP
        "-n",
        "ESP",
        "--invariant",  # fixed timestamps; before -i, which it would override
        "-i",
        layout.ids.esp_serial,
        "--mbr=n",
        f"--offset={layout.esp_offset // SECTOR}",
        "-h",
        str(layout.esp_offset // SECTOR),
        str(disk),
        str(layout.esp_size // 1024),
    )


def mcopy_argv(layout: Layout, disk: Path, entries: list[Path]) -> tuple[str, ...]:
    """Copy files and folders (recursively, keeping times) into the ESP's root."""
    return (
        "mcopy",
        "-i",
        f"{disk}@@{layout.esp_offset}",
        "-s",
        "-p",
        "-m",
        "-Q",
        *(str(e) for e in entries),
        "::/",
    )


def mdir_argv(layout: Layout, disk: Path, folder: str) -> tuple[str, ...]:
    return ("mdir", "-i", f"{disk}@@{layout.esp_offset}", "-b", f"::{folder}")


def mkfs_ext4_argv(layout: Layout, disk: Path, rootfs: Path) -> tuple[str, ...]:
    """ext4 from the root filesystem folder, written at the root partition's offset."""
    uid = layout.ids.root_uuid
    return (
        "mkfs.ext4",
        "-q",
        "-F",
        "-L",
        "root",
        "-U",
        uid,
        "-E",
        f"offset={layout.root_offset},hash_seed={uid},nodiscard",
        "-d",
        str(rootfs),
        str(disk),
        f"{layout.root_size // 1024}k",
    )


def sgdisk_argv(layout: Layout, disk: Path) -> tuple[str, ...]:
    ids = layout.ids
    e1, e2 = layout.esp_sectors
    r1, r2 = layout.root_sectors
    return (
        "sgdisk",
        "--clear",
        f"--disk-guid={ids.disk_guid}",
        f"--new=1:{e1}:{e2}",
        f"--typecode=1:{ESP_TYPE_GUID}",
        f"--partition-guid=1:{ids.esp_guid}",
        "--change-name=1:ESP",
        f"--new=2:{r1}:{r2}",
        f"--typecode=2:{layout.root_type_guid}",
        f"--partition-guid=2:{ids.root_guid}",
        "--change-name=2:root",
        str(disk),
    )


def qemu_img_convert_argv(raw: Path, qcow2: Path) -> tuple[str, ...]:
    """Compressed qcow2 (zlib: what OCI's importer reads), version 3."""
    return (
        "qemu-img",
        "convert",
        "-c",
        "-f",
        "raw",
        "-O",
        "qcow2",
        "-o",
        "compat=1.1",
        str(raw),
        str(qcow2),
    )


def create_sparse(path: Path, size: int) -> None:
    with path.open("wb") as fh:
        fh.truncate(size)


@dataclass(frozen=True)
class GptPartition:
    number: int
    type_guid: str
    guid: str
    first_lba: int
    last_lba: int
    name: str

    @property
    def offset(self) -> int:
        return self.first_lba * SECTOR

    @property
    def size(self) -> int:
        return (self.last_lba - self.first_lba + 1) * SECTOR


@dataclass(frozen=True)
class GptTable:
    disk_guid: str
    partitions: tuple[GptPartition, ...]


def read_gpt(path: Path) -> GptTable:
    """Parse the primary GPT of a raw disk image (512-byte sectors)."""
    with path.open("rb") as fh:
        fh.seek(SECTOR)
        header = fh.read(92)
        if header[:8] != _GPT_SIGNATURE:
            raise ValueError(f"{path}: no GPT header at LBA 1")
        disk_guid = str(uuid.UUID(bytes_le=header[56:72]))
        entries_lba, count, entry_size = struct.unpack_from("<QII", header, 72)
        fh.seek(entries_lba * SECTOR)
        table = fh.read(count * entry_size)
    parts = []
    for i in range(count):
        entry = table[i * entry_size : (i + 1) * entry_size]
        type_guid = uuid.UUID(bytes_le=entry[0:16])
        if type_guid.int == 0:
            continue
        first, last = struct.unpack_from("<QQ", entry, 32)
        name = entry[56:128].decode("utf-16-le").rstrip("\0")
        parts.append(
            GptPartition(
                i + 1, str(type_guid), str(uuid.UUID(bytes_le=entry[16:32])), first, last, name
            )
        )
    return GptTable(disk_guid, tuple(parts))


def read_ext4_uuid(path: Path, offset: int = 0) -> str:
    """The UUID in an ext2/3/4 superblock at `offset` bytes into the file."""
    with path.open("rb") as fh:
        fh.seek(offset + 1024)
        sb = fh.read(1024)
    (magic,) = struct.unpack_from("<H", sb, 0x38)
    if magic != _EXT4_MAGIC:
        raise ValueError(f"{path}: no ext4 superblock at offset {offset}")
    return str(uuid.UUID(bytes=sb[0x68:0x78]))


def read_fat_serial(path: Path, offset: int = 0) -> str:
    """The FAT32 volume ID (8 hex digits) of the filesystem at `offset`."""
    with path.open("rb") as fh:
        fh.seek(offset)
        boot = fh.read(512)
    if boot[510:512] != b"\x55\xaa" or boot[82:87] != b"FAT32":
        raise ValueError(f"{path}: no FAT32 boot sector at offset {offset}")
    (serial,) = struct.unpack_from("<I", boot, 67)
    return f"{serial:08x}"


def check_layout(path: Path, layout: Layout) -> list[str]:
    """What differs between the disk file and the planned layout (empty when it matches)."""
    problems: list[str] = []
    try:
        table = read_gpt(path)
    except ValueError as exc:
        return [str(exc)]
    if table.disk_guid != layout.ids.disk_guid:
        problems.append(f"disk GUID {table.disk_guid} != {layout.ids.disk_guid}")
    want = [
        (ESP_TYPE_GUID, layout.ids.esp_guid, layout.esp_offset, layout.esp_size),
        (layout.root_type_guid, layout.ids.root_guid, layout.root_offset, layout.root_size),
    ]
    got = [(p.type_guid, p.guid, p.offset, p.size) for p in table.partitions]
    if got != want:
        problems.append(f"partitions {got} != {want}")
        return problems
    try:
        if (fs := read_ext4_uuid(path, layout.root_offset)) != layout.ids.root_uuid:
            problems.append(f"root filesystem UUID {fs} != {layout.ids.root_uuid}")
        if (serial := read_fat_serial(path, layout.esp_offset)) != layout.ids.esp_serial:
            problems.append(f"ESP serial {serial} != {layout.ids.esp_serial}")
    except ValueError as exc:
        problems.append(str(exc))
    return problems
