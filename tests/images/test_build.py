"""`images build`: one real build of the base image from Debian packages (amd64, third-party
off, the same code path as a real build) checked from the outside, the pure parts of the
build, and bad input."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from freetier.errors import ConfigError, ToolError
from freetier.images import disk
from freetier.images.build import (
    BUILD_TOOLS,
    BuildPlan,
    ThirdPartyKey,
    check_tools,
    debian_sources,
    mmdebstrap_argv,
    parse_packages,
    source_date_epoch,
    template_values,
    third_party_sources,
)
from freetier.images.recipe import ARCHES, Hook, ThirdPartyRepo, load_recipe
from freetier.stack import load_stack
from tests.conftest import ROOT, SHIPPED_STACK
from tests.images import Built, build_once, debugfs_cat, extract, run_images

X86_ROOT = "4f68bce3-e8cd-4db1-96e7-fbcaf984b709"


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_once(tmp_path_factory)


@pytest.fixture(scope="session")
def root_fs(built: Built) -> Path:
    """The root partition of the built disk as its own ext4 image."""
    table = disk.read_gpt(built.raw)
    root = table.partitions[1]
    dest = built.out / "root.ext4"
    if not dest.exists():
        extract(built.raw, root.offset, root.size, dest)
    return dest


# ---- the real build ------------------------------------------------------------------


def test_build_writes_the_qcow2_and_its_manifest(built: Built) -> None:
    assert f"wrote {built.qcow2}" in built.stdout
    assert f"wrote {built.manifest}" in built.stdout
    head = built.qcow2.read_bytes()[:4]
    assert head == b"QFI\xfb"
    info = subprocess.run(
        ["qemu-img", "info", str(built.qcow2)], capture_output=True, text=True, check=True
    ).stdout
    assert "file format: qcow2" in info
    assert "compression type: zlib" in info  # what OCI's importer reads
    assert not list(built.out.glob(".*.build"))  # the work folder is gone


def test_partition_table_is_gpt_with_esp_and_x86_64_root(built: Built) -> None:
    table = disk.read_gpt(built.raw)
    esp, root = table.partitions
    assert (esp.type_guid, esp.name) == (disk.ESP_TYPE_GUID, "ESP")
    assert (root.type_guid, root.name) == (X86_ROOT, "root")
    assert esp.first_lba == 2048 and esp.size == 128 * disk.MIB
    assert root.first_lba == esp.last_lba + 1
    ids = disk.derive_ids("base", "amd64")
    assert (table.disk_guid, esp.guid, root.guid) == (ids.disk_guid, ids.esp_guid, ids.root_guid)
    # and sgdisk, reading the same disk, agrees
    printed = subprocess.run(
        ["sgdisk", "-p", str(built.raw)], capture_output=True, text=True, check=True
    ).stdout
    assert "EF00  ESP" in printed and "8304  root" in printed
    verify = subprocess.run(["sgdisk", "-v", str(built.raw)], capture_output=True, text=True)
    assert "No problems found" in verify.stdout


def test_efi_loader_is_at_the_removable_fallback_path(built: Built) -> None:
    esp = disk.read_gpt(built.raw).partitions[0]
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    listing = subprocess.run(
        ["mdir", "-i", f"{built.raw}@@{esp.offset}", "-b", "::/EFI/BOOT"],
        capture_output=True, text=True, check=True, env=env,
    ).stdout  # fmt: skip
    assert "::/EFI/BOOT/BOOTX64.EFI" in listing.split()
    loader = subprocess.run(
        ["mtype", "-i", f"{built.raw}@@{esp.offset}", "::/EFI/BOOT/BOOTX64.EFI"],
        capture_output=True, check=True, env=env,
    ).stdout  # fmt: skip
    assert loader[:2] == b"MZ"  # a PE/COFF EFI application
    assert b"grub" in loader.lower()


def test_fstab_mounts_root_and_esp_by_their_uuids(built: Built, root_fs: Path) -> None:
    esp = disk.read_gpt(built.raw).partitions[0]
    root_uuid = disk.read_ext4_uuid(root_fs)
    serial = disk.read_fat_serial(built.raw, esp.offset)
    entries = [
        line.split() for line in debugfs_cat(root_fs, "/etc/fstab").splitlines()
        if line.strip() and not line.startswith("#")
    ]  # fmt: skip
    mounts = {fields[1]: fields for fields in entries}
    assert mounts["/"][0] == f"UUID={root_uuid}" and mounts["/"][2] == "ext4"
    assert mounts["/boot/efi"][0] == f"UUID={serial[:4].upper()}-{serial[4:].upper()}"
    assert mounts["/boot/efi"][2] == "vfat"


def test_grub_boots_the_root_uuid_with_a_serial_console(built: Built, root_fs: Path) -> None:
    root_uuid = disk.read_ext4_uuid(root_fs)
    cfg = debugfs_cat(root_fs, "/boot/grub/grub.cfg")
    assert f"search --no-floppy --fs-uuid --set=root {root_uuid}" in cfg
    assert f"linux /vmlinuz root=UUID={root_uuid} ro console=tty0 console=ttyS0,115200" in cfg
    listing = subprocess.run(
        ["debugfs", "-R", "ls -l /", str(root_fs)], capture_output=True, text=True, check=True
    ).stdout
    assert "vmlinuz" in listing and "initrd.img" in listing


def test_cloud_init_uses_the_oracle_datasource(root_fs: Path) -> None:
    cfg = yaml.safe_load(debugfs_cat(root_fs, "/etc/cloud/cloud.cfg.d/90-freetier.cfg"))
    assert cfg["datasource_list"] == ["Oracle", "NoCloud", "None"]
    assert cfg["system_info"]["network"]["renderers"] == ["networkd"]
    assert cfg["growpart"]["mode"] == "auto" and cfg["resize_rootfs"] is True


def test_image_has_no_host_keys_and_an_empty_machine_id(root_fs: Path) -> None:
    listing = subprocess.run(
        ["debugfs", "-R", "ls /etc/ssh", str(root_fs)], capture_output=True, text=True, check=True
    ).stdout
    assert "ssh_host_" not in listing
    assert debugfs_cat(root_fs, "/etc/machine-id") == ""
    nft = debugfs_cat(root_fs, "/etc/nftables.conf")
    assert "elements = { 203.0.113.10/32 }" in nft  # stack.network.admin_cidrs


def test_audit_passed_and_was_printed(built: Built) -> None:
    audit = built.manifest_json()["audit"]
    assert isinstance(audit, dict)
    assert audit["passed"] == audit["total"] and audit["total"] >= 30
    ids = {c["id"] for c in audit["checks"]}
    assert {"sshd.passwordauthentication", "nftables.syntax", "sudo.no_nopasswd"} <= ids
    assert f"base-amd64: audit score {audit['passed']}/{audit['total']} (100%)" in built.stdout
    assert "images: audit score" in built.stderr  # progress lines


def test_manifest_records_packages_hash_and_identifiers(built: Built) -> None:
    data = built.manifest_json()
    assert data["sha256"] == hashlib.sha256(built.qcow2.read_bytes()).hexdigest()
    assert data["size_bytes"] == built.qcow2.stat().st_size
    assert (data["image"], data["arch"], data["suite"], data["snapshot"]) == (
        "base", "amd64", "bookworm", None,
    )  # fmt: skip
    assert data["third_party"] == []
    packages = {p["name"]: p for p in data["packages"]}  # type: ignore[attr-defined]
    for name in (
        "linux-image-cloud-amd64",
        "openssh-server",
        "cloud-init",
        "nftables",
        "auditd",
        "grub-efi-amd64-bin",
        "libpam-ssh-agent-auth",
        "unattended-upgrades",
    ):
        assert name in packages, name
    assert "tailscale" not in packages
    assert data["disk"]["root"]["uuid"] == disk.derive_ids("base", "amd64").root_uuid  # type: ignore[index]
    assert str(data["source_date_epoch"]).isdigit()
    assert "mmdebstrap" in data["tools"]["mmdebstrap"]  # type: ignore[index]


# ---- pure parts ----------------------------------------------------------------------


def _plan(tmp_path: Path, **kw: object) -> BuildPlan:
    hooks = (
        Hook("essential", "base/hooks/essential-1.sh", Path("/r/essential-1.sh")),
        Hook("customize", "base/hooks/customize-1.sh", Path("/r/customize-1.sh")),
    )
    values: dict[str, object] = {
        "arch": "arm64",
        "suite": "bookworm",
        "variant": "minbase",
        "packages": ("linux-image-cloud-arm64", "openssh-server"),
        "sources": debian_sources("bookworm", None),
        "hooks": hooks,
        "work": tmp_path / "work dir",
        "dpkg_path_exclude": ("/usr/share/doc/*",),
        "dpkg_path_include": ("/usr/share/doc/*/copyright",),
    }
    values.update(kw)
    return BuildPlan(**values)  # type: ignore[arg-type]


def test_mmdebstrap_argv_orders_options_hooks_and_sources(tmp_path: Path) -> None:
    argv = mmdebstrap_argv(_plan(tmp_path))
    assert argv[:5] == (
        "mmdebstrap", "--mode=root", "--format=directory", "--variant=minbase",
        "--architectures=arm64",
    )  # fmt: skip
    assert "--include=linux-image-cloud-arm64,openssh-server" in argv
    assert '--aptopt=APT::Install-Recommends "false"' in argv
    assert "--dpkgopt=path-exclude=/usr/share/doc/*" in argv
    assert argv[-5:] == ("bookworm", str(tmp_path / "work dir/rootfs"),
                         *debian_sources("bookworm", None))  # fmt: skip
    essential = [a for a in argv if a.startswith("--essential-hook=")]
    customize = [a for a in argv if a.startswith("--customize-hook=")]
    assert len(essential) == 1 and "base/hooks/essential-1.sh" in essential[0]
    # the files are copied in first, then the recipe's customize hooks run
    assert customize[0].startswith("--customize-hook=tar -C ")
    assert "'" + str(tmp_path / "work dir/files") + "'" in customize[0]  # quoted: a space
    assert customize[1].endswith('/r/customize-1.sh "$1"')
    assert not any("essential/unlink" in a for a in argv)


def test_mmdebstrap_argv_with_a_deb_cache_keeps_and_syncs_debs(tmp_path: Path) -> None:
    argv = mmdebstrap_argv(_plan(tmp_path, deb_cache=tmp_path / "debs"))
    assert "--skip=essential/unlink" in argv
    setup = [a for a in argv if a.startswith("--setup-hook=")]
    customize = [a for a in argv if a.startswith("--customize-hook=")]
    assert len(setup) == 1 and str(tmp_path / "debs") in setup[0]
    assert str(tmp_path / "debs") in customize[0]  # saved before any recipe hook can fail


def test_snapshot_sources_pin_the_mirror_and_the_epoch() -> None:
    lines = debian_sources("bookworm", "20261101T000000Z")
    assert lines == (
        "deb [check-valid-until=no] http://snapshot.debian.org/archive/debian/20261101T000000Z/"
        " bookworm main",
        "deb [check-valid-until=no] http://snapshot.debian.org/archive/debian/20261101T000000Z/"
        " bookworm-updates main",
        "deb [check-valid-until=no] http://snapshot.debian.org/archive/debian-security/"
        "20261101T000000Z/ bookworm-security main",
    )
    assert source_date_epoch({}, "20261101T000000Z", 0) == 1793491200
    assert source_date_epoch({"SOURCE_DATE_EPOCH": "42"}, "20261101T000000Z", 0) == 42
    assert source_date_epoch({}, None, 1_800_000_123.5) == 1_799_971_200  # that day, 00:00 UTC


def test_parse_packages_keeps_installed_ones_sorted() -> None:
    out = "zstd\t1.5\tamd64\tii \nabc\t2\tall\tii \ngone\t1\tamd64\trc \n"
    assert parse_packages(out) == [
        {"name": "abc", "version": "2", "arch": "all"},
        {"name": "zstd", "version": "1.5", "arch": "amd64"},
    ]


def test_template_values_derive_from_the_stack_and_the_arch() -> None:
    stack = load_stack(SHIPPED_STACK)
    recipe = load_recipe("base", ROOT / "images")
    ids = disk.derive_ids("base", "arm64")
    values = template_values(recipe, stack, ARCHES["arm64"], ids, "bookworm")
    assert values["admin_cidrs"] == "203.0.113.10/32"
    assert values["kernel_cmdline"] == "ro console=tty0 console=ttyAMA0,115200"
    assert (values["efi_loader"], values["grub_target"]) == ("BOOTAA64.EFI", "arm64-efi")
    assert values["root_uuid"] == ids.root_uuid != disk.derive_ids("base", "amd64").root_uuid


def test_third_party_sources_use_the_key_outside_and_stage_it_inside(tmp_path: Path) -> None:
    repo = ThirdPartyRepo(
        "tailscale",
        "https://pkgs.example/debian",
        "${suite}",
        ("main",),
        "https://pkgs.example/${suite}.gpg",
        None,
        ("tailscale",),
    )
    asked: list[str] = []

    def fetch(r: ThirdPartyRepo, url: str) -> bytes:
        asked.append(url)
        return b"\x99binary keyring"

    work, staging = tmp_path / "work", tmp_path / "files"
    third = third_party_sources([repo], {"suite": "bookworm"}, work, staging, fetch)
    assert asked == ["https://pkgs.example/bookworm.gpg"]
    digest = hashlib.sha256(b"\x99binary keyring").hexdigest()
    assert third.keys == [
        ThirdPartyKey("tailscale", "https://pkgs.example/bookworm.gpg", digest, pinned=False)
    ]
    pinned = third_party_sources(
        [dataclasses.replace(repo, key_sha256=digest)], {"suite": "x"}, work, staging, fetch
    )
    assert pinned.keys[0].pinned
    assert third.lines == [
        f"deb [signed-by={work}/keyrings/tailscale.gpg] https://pkgs.example/debian bookworm main"
    ]
    sources = (staging / "etc/apt/sources.list.d/tailscale.sources").read_text()
    assert "Signed-By: /usr/share/keyrings/freetier-tailscale.gpg" in sources
    assert (staging / "usr/share/keyrings/freetier-tailscale.gpg").read_bytes()[:1] == b"\x99"


def test_check_tools_names_the_missing_tool_and_its_package(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as err:
        check_tools({"mmdebstrap": "mmdebstrap"}, path=str(tmp_path))
    assert err.value.missing and err.value.exit_code == 2
    assert str(err.value) == "mmdebstrap: not found on PATH (install the Debian package mmdebstrap)"


def test_disk_layout_and_gpt_round_trip(tmp_path: Path) -> None:
    ids = disk.derive_ids("base", "arm64")
    assert ids == disk.derive_ids("base", "arm64")  # stable
    layout = disk.plan_layout(1, 64, ARCHES["arm64"].root_type_guid, ids)
    assert (layout.esp_offset, layout.esp_size) == (disk.MIB, 64 * disk.MIB)
    assert layout.root_offset + layout.root_size == layout.size - disk.MIB
    raw = tmp_path / "disk.raw"
    disk.create_sparse(raw, layout.size)
    subprocess.run(disk.sgdisk_argv(layout, raw), check=True, capture_output=True)
    table = disk.read_gpt(raw)
    assert table.disk_guid == ids.disk_guid
    assert [(p.guid, p.offset, p.size) for p in table.partitions] == [
        (ids.esp_guid, layout.esp_offset, layout.esp_size),
        (ids.root_guid, layout.root_offset, layout.root_size),
    ]
    # no filesystems yet: the check says so instead of passing
    assert disk.check_layout(raw, layout) == [
        f"{raw}: no ext4 superblock at offset {layout.root_offset}"
    ]
    with pytest.raises(ValueError):
        disk.plan_layout(0.2, 128, X86_ROOT, ids)


# ---- bad input -----------------------------------------------------------------------


def _build_args(tmp_path: Path, name: str = "base", arch: str = "amd64") -> list[str]:
    return ["images", "build", name, "--arch", arch, "--out", str(tmp_path / "out"),
            "--no-third-party", "--stack", str(SHIPPED_STACK),
            "--recipes", str(ROOT / "images")]  # fmt: skip


def test_unknown_image_name_exits_2_with_one_line(tmp_path: Path) -> None:
    run = run_images(_build_args(tmp_path, name="windows"))
    assert run.code == 2
    assert run.errors == [
        f"freetier: error: windows: unknown image (known in {ROOT / 'images'}: base, proxmox)"
    ]
    assert not (tmp_path / "out").exists()


def test_unknown_arch_exits_2_with_one_line(tmp_path: Path) -> None:
    run = run_images(_build_args(tmp_path, arch="riscv64"))
    assert run.code == 2
    assert run.errors == [
        "freetier: error: --arch riscv64: unknown architecture (known: amd64, arm64)"
    ]


@pytest.mark.parametrize("missing", ["mmdebstrap", "qemu-img"])
def test_missing_tool_exits_2_with_one_line(
    missing: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PATH holds every build tool but one (links to the real ones where they exist)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in BUILD_TOOLS:
        real = shutil.which(tool)
        if tool != missing and real:
            (bin_dir / tool).symlink_to(real)
    monkeypatch.setenv("PATH", str(bin_dir))
    run = run_images(_build_args(tmp_path))
    assert run.code == 2
    package = BUILD_TOOLS[missing]
    assert run.errors == [
        f"freetier: error: {missing}: not found on PATH (install the Debian package {package})"
    ]


def test_failing_recipe_hook_exits_2_naming_the_hook(tmp_path: Path) -> None:
    """A real mmdebstrap run whose setup hook fails (before anything is downloaded)."""
    if os.geteuid() != 0 or shutil.which("mmdebstrap") is None:
        pytest.skip("needs root and mmdebstrap")
    recipes = tmp_path / "images"
    hooks = recipes / "broken" / "hooks"
    hooks.mkdir(parents=True)
    (recipes / "broken" / "recipe.yaml").write_text(
        "hooks:\n  setup: [hooks/setup-10-fail.sh]\naudit: {lynis: false}\n"
    )
    hook = hooks / "setup-10-fail.sh"
    hook.write_text("#!/bin/sh\necho 'about to fail' >&2\nexit 3\n")
    hook.chmod(0o755)
    args = _build_args(tmp_path, name="broken")
    args[args.index("--recipes") + 1] = str(recipes)
    run = run_images(args)
    assert run.code == 2, run.err
    assert run.errors == [
        "freetier: error: recipe hook broken/hooks/setup-10-fail.sh failed with exit code 3"
    ]
    assert not list((tmp_path / "out").iterdir())  # work folder removed, no image


def test_recipe_suite_mismatch_is_bad_input(tmp_path: Path) -> None:
    stack = SHIPPED_STACK.read_text().replace(
        "free_tier:", "images:\n  debian_suite: trixie\n\nfree_tier:"
    )
    (tmp_path / "stack.yaml").write_text(stack)
    recipes = tmp_path / "images"
    (recipes / "old").mkdir(parents=True)
    (recipes / "old" / "recipe.yaml").write_text("suites: [bookworm]\n")
    args = _build_args(tmp_path, name="old")
    args[args.index("--stack") + 1] = str(tmp_path / "stack.yaml")
    args[args.index("--recipes") + 1] = str(recipes)
    run = run_images(args)
    assert run.code == 2
    assert run.errors == [
        "freetier: error: images.debian_suite: trixie: recipe old supports bookworm"
    ]


def test_config_error_type_for_bad_key_url() -> None:
    from freetier.images.build import fetch_key

    repo = ThirdPartyRepo("x", "https://x", "s", ("main",), "http://x", None, ())
    with pytest.raises(ConfigError):
        fetch_key(repo, "http://insecure.example/key.gpg")
