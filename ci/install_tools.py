#!/usr/bin/env python3
"""Install the pinned tofu and kubectl release binaries `./dev setup` needs when missing.

Standard library only: it runs before the virtualenv has anything in it. Each tool is the
project's official release artefact, checked against the sha256 pinned below before a byte of
it is installed; a tool already on PATH (terraform counts for tofu) is left alone. Every
failure is one line on stderr and exit 2, and nothing is left half-installed.

    python3 ci/install_tools.py --dest .venv/bin [--pins FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

# name -> {version, also (names that do the same job), artefacts: {arch: {url, sha256, member}}}
# `member` is the file inside a .tar.gz; empty for a bare binary.
PINS: dict[str, Any] = {
    "tofu": {
        "version": "1.13.1",
        "also": ["terraform"],
        # sha256 from the v1.13.1 release's tofu_1.13.1_SHA256SUMS
        # (https://github.com/opentofu/opentofu/releases/tag/v1.13.1).
        "artefacts": {
            "amd64": {
                "url": "https://github.com/opentofu/opentofu/releases/download/v1.13.1/"
                "tofu_1.13.1_linux_amd64.tar.gz",
                "sha256": "378ada19d4bc70c43732004e8159be771b23b9a5afdf059e5f8a2b3fa2c70a69",
                "member": "tofu",
            },
            "arm64": {
                "url": "https://github.com/opentofu/opentofu/releases/download/v1.13.1/"
                "tofu_1.13.1_linux_arm64.tar.gz",
                "sha256": "9c1ef375aa1852db0b2888aa921b640c71f8140d4682aa4fec99378a64fa7dc3",
                "member": "tofu",
            },
        },
        "manual": "https://opentofu.org/docs/intro/install/deb/",
    },
    "kubectl": {
        "version": "1.36.3",
        "also": [],
        # sha256 from https://dl.k8s.io/release/v1.36.3/bin/linux/amd64/kubectl.sha256.
        "artefacts": {
            "amd64": {
                "url": "https://dl.k8s.io/release/v1.36.3/bin/linux/amd64/kubectl",
                "sha256": "ebbd080e7c2e275093b55915722043257eb24004363e20acb3c4d71919f88336",
                "member": "",
            },
        },
        "manual": "https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/",
    },
}
ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
# Both artefacts are tens of MB; a server sending more is not the release.
MAX_BYTES = 300 * 1024 * 1024
TIMEOUT_S = 60


class InstallError(Exception):
    """One line for the user: what failed and what to do."""


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def fetch(url: str) -> bytes:
    """The artefact's bytes, at most MAX_BYTES (proxies from the environment apply)."""
    if not url.startswith("https://"):
        raise InstallError(f"{url}: only https downloads are allowed")
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310
            body: bytes = response.read(MAX_BYTES + 1)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise InstallError(f"download of {url} failed: {reason}") from None
    if len(body) > MAX_BYTES:
        raise InstallError(f"{url}: larger than {MAX_BYTES // 2**20} MB, not the release")
    return body


def extract(body: bytes, member: str, url: str) -> bytes:
    """The regular file `member` of a .tar.gz, or the body itself for a bare binary."""
    if not member:
        return body
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
            info = tar.getmember(member)
            handle = tar.extractfile(info) if info.isreg() else None
            if handle is None:
                raise InstallError(f"{url}: {member} in the archive is not a regular file")
            return handle.read()
    except (tarfile.TarError, KeyError, EOFError, OSError) as exc:
        raise InstallError(f"{url}: cannot read {member} from the archive: {exc}") from None


def install(name: str, pin: dict[str, Any], arch: str, dest: Path) -> Path:
    artefact = pin["artefacts"].get(arch)
    if artefact is None:
        raise InstallError(
            f"{name}: no pinned release for linux/{arch}; install it ({pin['manual']}) and rerun"
        )
    url, want = artefact["url"], artefact["sha256"]
    say(f"downloading {name} {pin['version']} (linux/{arch}) from {url}")
    try:
        body = fetch(url)
    except InstallError as exc:
        raise InstallError(f"{name}: {exc}; install it ({pin['manual']}) and rerun") from None
    got = hashlib.sha256(body).hexdigest()
    if got != want:
        raise InstallError(f"{name}: sha256 of {url} is {got}, pinned {want}; not installed")
    binary = extract(body, artefact["member"], url)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / name
    # Staged beside the target and renamed: a reader sees the old file or the whole new one.
    fd, staged_name = tempfile.mkstemp(prefix=f".{name}-", dir=dest)
    staged = Path(staged_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(binary)
        staged.chmod(0o755)
        staged.replace(target)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    say(f"installed {target}")
    return target


def missing(pins: dict[str, Any], dest: Path) -> list[str]:
    """Tools neither on PATH nor already in `dest`."""
    path = os.pathsep.join([str(dest), os.environ.get("PATH", "")])
    return [
        name
        for name, pin in pins.items()
        if not any(shutil.which(n, path=path) for n in (name, *pin.get("also", [])))
    ]


def load_pins(path: Path | None) -> dict[str, Any]:
    if path is None:
        return PINS
    try:
        pins: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InstallError(f"{path}: cannot read pins: {exc}") from None
    return pins


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, required=True, help="folder to install into")
    parser.add_argument("--pins", type=Path, help="JSON pins instead of the built-in ones")
    args = parser.parse_args(argv)
    try:
        pins = load_pins(args.pins)
        arch = ARCHES.get(platform.machine().lower(), platform.machine().lower())
        for name in missing(pins, args.dest):
            install(name, pins[name], arch, args.dest)
    except InstallError as exc:
        print(f"install_tools: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("install_tools: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
