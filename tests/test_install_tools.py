"""ci/install_tools.py, the part of `./dev setup` that fetches tofu and kubectl: it installs
only bytes whose sha256 matches the pin, over verified https, and leaves nothing behind when
it refuses. Driven as a subprocess against a release site on 127.0.0.1 with its own CA."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import INSTALL_TOOLS, install_tools_module
from tests.fakes.release_host import ReleaseHost
from tests.fakes.tls import self_signed

TOFU_SCRIPT = b"#!/bin/sh\necho 'OpenTofu v1.13.1'\n"
KUBECTL_SCRIPT = b"#!/bin/sh\necho 'Client Version: v1.36.3'\n"


def _tarball(members: dict[str, bytes], symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
    return buf.getvalue()


TOFU_TGZ = _tarball({"LICENSE": b"MPL-2.0\n", "tofu": TOFU_SCRIPT})


def _arch() -> str:
    arches: dict[str, str] = install_tools_module().ARCHES
    return arches[os.uname().machine]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[ReleaseHost, Path]]:
    ca, context = self_signed(tmp_path)
    host = ReleaseHost()
    host.tls = context
    host.files = {"/tofu.tar.gz": TOFU_TGZ, "/kubectl": KUBECTL_SCRIPT}
    with host.serve():
        yield host, ca


def _pins(root: str, **sha: str) -> dict[str, Any]:
    arch = _arch()
    return {
        "tofu": {
            "version": "1.13.1",
            "also": ["terraform"],
            "manual": "https://opentofu.org/docs/intro/install/deb/",
            "artefacts": {
                arch: {
                    "url": f"{root}/tofu.tar.gz",
                    "sha256": sha.get("tofu", hashlib.sha256(TOFU_TGZ).hexdigest()),
                    "member": "tofu",
                }
            },
        },
        "kubectl": {
            "version": "1.36.3",
            "also": [],
            "manual": "https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/",
            "artefacts": {
                arch: {
                    "url": f"{root}/kubectl",
                    "sha256": sha.get("kubectl", hashlib.sha256(KUBECTL_SCRIPT).hexdigest()),
                    "member": "",
                }
            },
        },
    }


def _run(
    tmp_path: Path, pins: dict[str, Any], ca: Path | None, path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    pins_file = tmp_path / "pins.json"
    pins_file.write_text(json.dumps(pins))
    empty = tmp_path / "empty-path"
    empty.mkdir(exist_ok=True)
    env = {"PATH": str(path or empty), "HOME": str(tmp_path)}
    if ca is not None:
        env["SSL_CERT_FILE"] = str(ca)
    return subprocess.run(
        [
            sys.executable,
            str(INSTALL_TOOLS),
            "--dest",
            str(tmp_path / "bin"),
            "--pins",
            str(pins_file),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def _installed(tmp_path: Path) -> list[str]:
    dest = tmp_path / "bin"
    return sorted(p.name for p in dest.iterdir()) if dest.exists() else []


def test_installs_verified_binaries_and_a_rerun_downloads_nothing(
    site: tuple[ReleaseHost, Path], tmp_path: Path
) -> None:
    host, ca = site
    result = _run(tmp_path, _pins(host.root), ca)
    assert result.returncode == 0, result.stderr
    assert _installed(tmp_path) == ["kubectl", "tofu"]
    tofu = subprocess.run([tmp_path / "bin/tofu"], capture_output=True, text=True, check=True)
    assert tofu.stdout == "OpenTofu v1.13.1\n"
    assert (tmp_path / "bin/kubectl").read_bytes() == KUBECTL_SCRIPT
    assert "downloading tofu 1.13.1" in result.stderr
    assert sorted(host.requests) == ["/kubectl", "/tofu.tar.gz"]

    again = _run(tmp_path, _pins(host.root), ca)
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""
    assert len(host.requests) == 2


def test_a_tampered_artefact_is_refused_and_nothing_is_installed(
    site: tuple[ReleaseHost, Path], tmp_path: Path
) -> None:
    host, ca = site
    host.files["/tofu.tar.gz"] = _tarball({"tofu": b"#!/bin/sh\necho owned\n"})
    result = _run(tmp_path, _pins(host.root, tofu=hashlib.sha256(TOFU_TGZ).hexdigest()), ca)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert re.fullmatch(
        r"install_tools: tofu: sha256 of https://127\.0\.0\.1:\d+/tofu\.tar\.gz is [0-9a-f]{64}, "
        r"pinned [0-9a-f]{64}; not installed",
        lines[-1],
    ), lines
    assert _installed(tmp_path) == []


def test_a_link_in_place_of_the_binary_is_refused(
    site: tuple[ReleaseHost, Path], tmp_path: Path
) -> None:
    host, ca = site
    evil = _tarball({}, symlink="tofu")
    host.files["/tofu.tar.gz"] = evil
    result = _run(tmp_path, _pins(host.root, tofu=hashlib.sha256(evil).hexdigest()), ca)
    assert result.returncode == 2
    assert "tofu in the archive is not a regular file" in result.stderr
    assert _installed(tmp_path) == []


def test_an_untrusted_certificate_is_refused(
    site: tuple[ReleaseHost, Path], tmp_path: Path
) -> None:
    host, _ = site
    result = _run(tmp_path, _pins(host.root), ca=None)
    assert result.returncode == 2
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr
    assert host.requests == []
    assert _installed(tmp_path) == []


def test_a_tool_already_on_path_is_left_alone(
    site: tuple[ReleaseHost, Path], tmp_path: Path
) -> None:
    host, ca = site
    path = tmp_path / "path"
    path.mkdir()
    for name in ("terraform", "kubectl"):
        (path / name).write_text("#!/bin/sh\n")
        (path / name).chmod(0o755)
    result = _run(tmp_path, _pins(host.root), ca, path=path)
    assert result.returncode == 0, result.stderr
    assert host.requests == []
    assert _installed(tmp_path) == []


def test_an_unreachable_site_is_one_line_naming_the_manual_route(tmp_path: Path) -> None:
    result = _run(tmp_path, _pins("https://127.0.0.1:9"), ca=None)
    assert result.returncode == 2
    progress, error = result.stderr.splitlines()
    assert progress.startswith("==> downloading tofu 1.13.1")
    assert re.fullmatch(
        r"install_tools: tofu: download of https://127\.0\.0\.1:9/tofu\.tar\.gz failed: .+; "
        r"install it \(https://opentofu\.org/docs/intro/install/deb/\) and rerun",
        error,
    ), error


def test_an_arch_without_a_pin_names_the_manual_route(tmp_path: Path) -> None:
    pins = _pins("https://127.0.0.1:9")
    pins["kubectl"]["artefacts"] = {}
    del pins["tofu"]
    result = _run(tmp_path, pins, ca=None)
    assert result.returncode == 2
    assert result.stderr == (
        f"install_tools: kubectl: no pinned release for linux/{_arch()}; install it "
        "(https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/) and rerun\n"
    )


def test_plain_http_is_refused(tmp_path: Path) -> None:
    result = _run(tmp_path, _pins("http://127.0.0.1:9"), ca=None)
    assert result.returncode == 2
    assert "only https downloads are allowed" in result.stderr


def test_shipped_pins_are_official_https_releases_with_a_sha256() -> None:
    pins = install_tools_module().PINS
    official = {
        "tofu": "https://github.com/opentofu/opentofu/releases/download/v",
        "kubectl": "https://dl.k8s.io/release/v",
    }
    assert set(pins) == set(official)
    for name, pin in pins.items():
        assert "amd64" in pin["artefacts"]
        for arch, artefact in pin["artefacts"].items():
            assert artefact["url"].startswith(official[name] + pin["version"] + "/"), name
            assert arch in artefact["url"]
            assert re.fullmatch(r"[0-9a-f]{64}", artefact["sha256"]), name
