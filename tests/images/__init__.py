"""Helpers shared by the images tests: the `images` CLI in-process, and one real build of the
base image (amd64, third-party repositories off) shared by every test module of a session."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from freetier.cli import main
from tests.conftest import ROOT, SHIPPED_STACK

BUILD_NAME, BUILD_ARCH = "base", "amd64"
BUILT_MARK = "built.json"


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str

    @property
    def errors(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("freetier: error:")]


def run_images(argv: Sequence[str]) -> CliRun:
    """`freetier.cli.main` in-process, its output captured: FreetierError becomes
    `freetier: error: ...` lines and its exit code; anything else is a bug and propagates."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return CliRun(code, out.getvalue(), err.getvalue())


@dataclass(frozen=True)
class Built:
    """The real build: the qcow2, its manifest, and the disk converted back to raw."""

    out: Path
    qcow2: Path
    manifest: Path
    raw: Path
    stdout: str
    stderr: str

    def manifest_json(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.manifest.read_text(encoding="utf-8"))
        return data


def build_once(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Build base-amd64 through the CLI once per session (later callers reuse it).

    The .debs are kept in $FREETIER_DEB_CACHE when set (a rerun then downloads nothing),
    else in the session's temp folder."""
    if os.geteuid() != 0:
        pytest.skip("images build needs root (mmdebstrap --mode=root, chroot)")
    base = tmp_path_factory.getbasetemp()
    out = base / "images-build"
    mark = out / BUILT_MARK
    if not mark.exists():
        cache = Path(os.environ.get("FREETIER_DEB_CACHE") or base / "debs")
        run = run_images(
            [
                "images", "build", BUILD_NAME, "--arch", BUILD_ARCH, "--out", str(out),
                "--no-third-party", "--no-lynis", "--deb-cache", str(cache),
                "--stack", str(SHIPPED_STACK), "--recipes", str(ROOT / "images"),
            ]
        )  # fmt: skip
        assert run.code == 0, run.err
        qcow2 = out / f"{BUILD_NAME}-{BUILD_ARCH}.qcow2"
        raw = out / "disk.raw"
        subprocess.run(
            ["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(qcow2), str(raw)], check=True
        )
        mark.write_text(json.dumps({"stdout": run.out, "stderr": run.err}), encoding="utf-8")
    logs = json.loads(mark.read_text(encoding="utf-8"))
    stem = f"{BUILD_NAME}-{BUILD_ARCH}"
    return Built(
        out, out / f"{stem}.qcow2", out / f"{stem}.manifest.json", out / "disk.raw",
        logs["stdout"], logs["stderr"],
    )  # fmt: skip


def extract(raw: Path, offset: int, size: int, dest: Path) -> Path:
    """Copy one partition out of a raw disk, copying only its data (SEEK_DATA/SEEK_HOLE):
    the root filesystem is mostly holes."""
    end = offset + size
    with raw.open("rb") as src, dest.open("wb") as out:
        fd = src.fileno()
        pos = offset
        while pos < end:
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:  # no data after pos
                break
            if data >= end:
                break
            hole = min(os.lseek(fd, data, os.SEEK_HOLE), end)
            src.seek(data)
            out.seek(data - offset)
            left = hole - data
            while left:
                chunk = src.read(min(left, 1 << 22))
                out.write(chunk)
                left -= len(chunk)
            pos = hole
        out.truncate(size)
    return dest


def debugfs_cat(image: Path, path: str) -> str:
    """A file's contents from an ext4 image, read by e2fsprogs' debugfs (no mount)."""
    done = subprocess.run(
        ["debugfs", "-R", f"cat {path}", str(image)], capture_output=True, text=True, check=True
    )
    return done.stdout
