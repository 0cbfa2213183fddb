"""Recipes as data: loading images/ (bases folded in), the files they stage, bad recipes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from freetier.errors import ConfigError
from freetier.images import disk
from freetier.images.audit import check_nftables, cloud_config, sshd_effective
from freetier.images.build import template_values
from freetier.images.recipe import ARCHES, load_recipe, recipe_names, stage_files
from freetier.stack import load_stack
from freetier.stack.model import ProxmoxHost
from tests.conftest import ROOT, SHIPPED_STACK

IMAGES = ROOT / "images"


def test_shipped_recipes() -> None:
    assert recipe_names(IMAGES) == ["base", "proxmox"]
    base = load_recipe("base", IMAGES)
    assert base.chain == ("base",) and base.variant == "minbase"
    assert "linux-image-cloud-{arch}" in base.packages
    assert "linux-image-cloud-arm64" in base.packages_for("arm64")
    assert "grub-efi-amd64-bin" in base.packages_for("amd64")
    assert [h.name for h in base.hooks] == [
        "base/hooks/customize-10-system.sh",
        "base/hooks/customize-20-services.sh",
        "base/hooks/customize-50-bootloader.sh",
    ]
    assert [r.name for r in base.third_party] == ["tailscale"]
    assert base.audit.min_score == 100 and base.disk.size_gb == 4


def test_proxmox_extends_base() -> None:
    base, pve = load_recipe("base", IMAGES), load_recipe("proxmox", IMAGES)
    assert pve.chain == ("base", "proxmox")
    assert set(base.packages) < set(pve.packages)
    assert pve.suites == ("bookworm",)  # PXVIRT 8 is Debian 12
    assert [r.name for r in pve.third_party] == ["tailscale", "pxvirt"]
    assert "proxmox-ve" in pve.third_party[1].packages
    assert pve.file_dirs == (IMAGES / "base/files", IMAGES / "proxmox/files")
    assert [h.name for h in pve.hooks][: len(base.hooks)] == [h.name for h in base.hooks]
    assert pve.disk.size_gb > base.disk.size_gb
    assert "postfix" in pve.audit.allow_services


@pytest.mark.parametrize("name", ["base", "proxmox"])
def test_shipped_files_render_and_pass_the_static_checks(name: str, tmp_path: Path) -> None:
    recipe = load_recipe(name, IMAGES)
    stack = load_stack(SHIPPED_STACK)
    values = template_values(
        recipe, stack, ARCHES["arm64"], disk.derive_ids(name, "arm64"), "bookworm"
    )
    written = stage_files(recipe, values, tmp_path)
    assert "etc/nftables.conf" in written and "etc/fstab" in written
    templates = [f.relative_to(d).as_posix().removesuffix(".tmpl")
                 for d in recipe.file_dirs for f in d.rglob("*.tmpl")]  # fmt: skip
    assert templates and not [t for t in templates if "${" in (tmp_path / t).read_text()]
    nft = check_nftables((tmp_path / "etc/nftables.conf").read_text(), ["203.0.113.10/32"])
    assert all(c.ok for c in nft), nft
    assert sshd_effective(tmp_path) == {}  # the drop-in alone is not included without the main
    config = cloud_config(tmp_path)
    assert config["datasource_list"] == ["Oracle", "NoCloud", "None"]
    # The bootstrap logs in as the image's user: stack.yaml's default must be that user.
    assert config["system_info"]["default_user"]["name"] == ProxmoxHost(name="h").ssh_user
    assert "console=ttyAMA0,115200" in (tmp_path / "boot/grub/grub.cfg").read_text()
    mode = stat.S_IMODE((tmp_path / "etc/sudoers.d/10-freetier").stat().st_mode)
    assert mode == 0o440
    script = tmp_path / "var/lib/cloud/scripts/per-instance/10-freetier-sudo-keys"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755


def test_admin_cidrs_from_the_stack_reach_the_firewall(tmp_path: Path) -> None:
    text = SHIPPED_STACK.read_text().replace(
        "    - 203.0.113.10/32", "    - 203.0.113.10/32\n    - 198.51.100.0/24"
    )
    (tmp_path / "stack.yaml").write_text(text)
    stack = load_stack(tmp_path / "stack.yaml")
    recipe = load_recipe("base", IMAGES)
    values = template_values(recipe, stack, ARCHES["amd64"], disk.derive_ids("b", "amd64"), "x")
    out = tmp_path / "files"
    out.mkdir()
    stage_files(recipe, values, out)
    conf = (out / "etc/nftables.conf").read_text()
    assert "elements = { 203.0.113.10/32, 198.51.100.0/24 }" in conf
    checks = check_nftables(conf, ["203.0.113.10/32", "198.51.100.0/24"])
    assert all(c.ok for c in checks)


# ---- bad recipes ---------------------------------------------------------------------


def _recipe(tmp_path: Path, text: str, name: str = "r") -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recipe.yaml").write_text(text)
    return folder


def test_unknown_recipe_lists_the_known_ones(tmp_path: Path) -> None:
    _recipe(tmp_path, "{}\n", "one")
    with pytest.raises(ConfigError) as err:
        load_recipe("two", tmp_path)
    assert err.value.problems == (f"two: unknown image (known in {tmp_path}: one)",)


def test_unknown_key_is_named_with_the_file(tmp_path: Path) -> None:
    _recipe(tmp_path, "pakages: packages.txt\n")
    with pytest.raises(ConfigError) as err:
        load_recipe("r", tmp_path)
    assert err.value.problems == (
        f"{tmp_path / 'r/recipe.yaml'}: pakages: Extra inputs are not permitted",
    )


def test_hook_must_exist_be_executable_and_stay_inside(tmp_path: Path) -> None:
    folder = _recipe(tmp_path, "hooks:\n  customize: [hooks/x.sh]\n")
    with pytest.raises(ConfigError, match=r"hooks\.customize: hooks/x\.sh: no such file"):
        load_recipe("r", tmp_path)
    (folder / "hooks").mkdir()
    (folder / "hooks/x.sh").write_text("#!/bin/sh\n")
    with pytest.raises(ConfigError, match="hook is not executable"):
        load_recipe("r", tmp_path)
    _recipe(tmp_path, "hooks:\n  customize: [../../etc/passwd]\n")
    with pytest.raises(ConfigError, match="outside the recipe folder"):
        load_recipe("r", tmp_path)


def test_bad_package_name_names_file_and_line(tmp_path: Path) -> None:
    folder = _recipe(tmp_path, "packages: packages.txt\n")
    (folder / "packages.txt").write_text("# comment\nopenssh-server\nrm -rf /\n")
    with pytest.raises(ConfigError) as err:
        load_recipe("r", tmp_path)
    assert err.value.problems == (
        f"{folder / 'packages.txt'}:3: 'rm -rf /': not a Debian package name",
    )


def test_base_cycle_and_missing_base(tmp_path: Path) -> None:
    _recipe(tmp_path, "base: b\n", "a")
    _recipe(tmp_path, "base: a\n", "b")
    with pytest.raises(ConfigError, match="cycle"):
        load_recipe("a", tmp_path)
    _recipe(tmp_path, "base: nowhere\n", "c")
    with pytest.raises(ConfigError, match="base: nowhere: no such recipe"):
        load_recipe("c", tmp_path)


def test_unknown_template_value_names_the_file(tmp_path: Path) -> None:
    folder = _recipe(tmp_path, "files: files\n")
    (folder / "files/etc").mkdir(parents=True)
    (folder / "files/etc/motd.tmpl").write_text("hello ${nobody}\n")
    recipe = load_recipe("r", tmp_path)
    with pytest.raises(ConfigError) as err:
        stage_files(recipe, {"name": "r"}, tmp_path / "out")
    assert err.value.problems == (
        f"{folder / 'files/etc/motd.tmpl'}: unknown template value ${{nobody}} (known: name)",
    )


def test_mode_for_a_missing_file_is_an_error(tmp_path: Path) -> None:
    folder = _recipe(tmp_path, "files: files\nmodes:\n  etc/nothing: '0600'\n")
    (folder / "files").mkdir()
    recipe = load_recipe("r", tmp_path)
    (tmp_path / "out").mkdir()
    with pytest.raises(ConfigError, match="modes: etc/nothing: no such file"):
        stage_files(recipe, {}, tmp_path / "out")


def test_third_party_file_is_validated(tmp_path: Path) -> None:
    folder = _recipe(tmp_path, "third_party: tp.yaml\n")
    (folder / "tp.yaml").write_text(
        "repos:\n  - name: x\n    uri: http://plain.example\n    suite: s\n"
        "    components: [main]\n    key_url: https://k\n"
    )
    with pytest.raises(ConfigError) as err:
        load_recipe("r", tmp_path)
    assert err.value.problems[0].startswith(f"{folder / 'tp.yaml'}: repos.0.uri: String should")
