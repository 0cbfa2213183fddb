"""The doctor against real binaries, linked into a PATH the test controls."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from freetier.doctor.probe import blocked_stages, probe_tool, probe_tools
from freetier.doctor.tools import TOOLS

TOOL = {t.key: t for t in TOOLS}


def _bin_dir(tmp_path: Path, links: dict[str, str], scripts: dict[str, str] | None = None) -> str:
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, real in links.items():
        found = shutil.which(real)
        assert found, f"{real} must be installed for this test (./dev setup installs it)"
        (folder / name).symlink_to(found)
    for name, body in (scripts or {}).items():
        script = folder / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
    return str(folder)


def test_real_git_and_ssh_are_found_with_their_versions(tmp_path: Path) -> None:
    path = _bin_dir(tmp_path, {"git": "git", "ssh": "ssh"})
    git = probe_tool(TOOL["git"], path=path)
    ssh = probe_tool(TOOL["ssh"], path=path)
    assert (git.status, git.binary) == ("found", "git")
    assert git.version and git.version[0].isdigit()
    assert ssh.status == "found" and ssh.version  # OpenSSH prints its version on stderr


def test_terraform_stands_in_for_tofu(tmp_path: Path) -> None:
    if shutil.which("terraform") is None and shutil.which("tofu") is None:
        pytest.fail("terraform or tofu must be installed for this test")
    real = "tofu" if shutil.which("tofu") else "terraform"
    status = probe_tool(TOOL["tofu"], path=_bin_dir(tmp_path, {real: real}))
    assert status.status == "found"
    assert status.binary == real


def test_tofu_is_preferred_over_terraform(tmp_path: Path) -> None:
    path = _bin_dir(
        tmp_path,
        {},
        {"tofu": "echo 'OpenTofu v1.10.6'", "terraform": "echo 'Terraform v1.11.4'"},
    )
    status = probe_tool(TOOL["tofu"], path=path)
    assert (status.binary, status.version) == ("tofu", "1.10.6")


def test_missing_tools_block_their_stages(tmp_path: Path) -> None:
    statuses = probe_tools(path=_bin_dir(tmp_path, {"git": "git"}))
    by_key = {s.tool.key: s for s in statuses}
    assert by_key["git"].ok
    assert by_key["sops"].status == "missing"
    assert by_key["sops"].detail == "none of sops on PATH"
    assert blocked_stages(statuses) == [
        "images",
        "oci",
        "proxmox",
        "talos",
        "flux",
        "secrets",
        "pr",
        "dagger",
    ]


def test_too_old_and_broken_tools_are_not_ok(tmp_path: Path) -> None:
    path = _bin_dir(
        tmp_path,
        {},
        {"terraform": "echo 'Terraform v1.2.9'", "sops": "echo boom >&2; exit 3"},
    )
    old = probe_tool(TOOL["tofu"], path=path)
    broken = probe_tool(TOOL["sops"], path=path)
    assert (old.status, old.version, old.detail) == ("too-old", "1.2.9", "need 1.6.0 or newer")
    assert broken.status == "broken"
    assert "exit code 3" in broken.detail
