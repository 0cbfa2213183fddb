"""Fetch a disk image over HTTP(S), resumably, and turn it into a qcow2.

The download goes to `FILE.part`; an interrupted transfer (a cut connection, a short body, a
5xx) continues from the bytes already there with `Range: bytes=N-`, within the run and in
the next run. The finished file's SHA-256 is recorded beside it as `FILE.sha256`
(sha256sum format). Conversion decompresses `.xz` with Python's lzma (sparse: runs of zeros
are skipped, not written) and runs `qemu-img convert -c -O qcow2` on a raw disk.
"""

from __future__ import annotations

import hashlib
import http.client
import lzma
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freetier.command import Command, run
from freetier.errors import ConfigError, RemoteError
from freetier.images.publish_progress import Progress

CHUNK = 1024 * 1024
ZERO = bytes(CHUNK)
CONVERT_TIMEOUT = 3600.0
# Transient: worth another attempt from where the download stopped.
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Downloaded:
    path: Path
    sha256: str
    size: int
    resumed: bool  # some bytes came from an earlier attempt or run


@dataclass(frozen=True)
class Fetching:
    """Retry and timeout settings of a download."""

    attempts: int = 5
    timeout_seconds: float = 60.0
    backoff_seconds: float = 2.0
    sleep: Callable[[float], None] = time.sleep


DEFAULT_FETCHING = Fetching()


class _Short(Exception):
    """The server closed the body before its announced end."""


def download(
    url: str,
    dest: Path,
    *,
    fetching: Fetching = DEFAULT_FETCHING,
    progress: Progress | None = None,
    expected_sha256: str | None = None,
) -> Downloaded:
    """Download `url` to `dest` (kept when already complete), resuming `dest.part`."""
    sidecar = dest.with_name(dest.name + ".sha256")
    if dest.is_file() and sidecar.is_file():
        recorded = sidecar.read_text(encoding="utf-8").split()[0]
        if expected_sha256 in (None, recorded):
            return Downloaded(dest, recorded, dest.stat().st_size, resumed=True)
    partial = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    resumed = _fetch(url, partial, fetching, progress)
    sha256 = _sha256(partial)
    if expected_sha256 is not None and sha256 != expected_sha256.lower():
        partial.unlink()
        raise RemoteError(f"{url}: SHA-256 {sha256} is not the expected {expected_sha256}")
    partial.replace(dest)
    sidecar.write_text(f"{sha256}  {dest.name}\n", encoding="utf-8")
    if progress is not None:
        progress.finish()
    return Downloaded(dest, sha256, dest.stat().st_size, resumed)


def _fetch(url: str, partial: Path, fetching: Fetching, progress: Progress | None) -> bool:
    """Attempt the download until `partial` is complete or the attempts run out; True when
    an attempt continued from bytes already there."""
    problem = "no attempt"
    resumed = False
    for attempt in range(1, fetching.attempts + 1):
        resumed = resumed or (partial.exists() and partial.stat().st_size > 0)
        try:
            if _attempt(url, partial, fetching.timeout_seconds, progress):
                return resumed
            problem = "the body ended early"
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRY_STATUS:
                raise RemoteError(f"{url}: HTTP {exc.code} {exc.reason}") from None
            problem = f"HTTP {exc.code}"
        except (urllib.error.URLError, http.client.HTTPException, OSError, _Short) as exc:
            problem = type(exc).__name__
        if attempt < fetching.attempts:
            fetching.sleep(fetching.backoff_seconds * attempt)
    raise RemoteError(
        f"{url}: download failed after {fetching.attempts} attempts ({problem}); "
        f"{partial} is kept and the next run resumes it"
    )


def _attempt(url: str, partial: Path, timeout: float, progress: Progress | None) -> bool:
    """One GET from where `partial` ends; True when the file is complete."""
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "freetier"})  # noqa: S310
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) only
    except urllib.error.HTTPError as exc:
        # 416: nothing after `have`; complete if that is the whole file, else start over.
        if exc.code != 416:
            raise
        if have and _range_total(exc.headers.get("content-range")) == have:
            return True
        partial.unlink(missing_ok=True)
        raise _Short() from None
    with response:
        have, total, mode = _resume_point(url, response, have)
        if progress is not None:
            progress.total = total or progress.total
            progress.done = have
        with partial.open(mode) as out:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                have += len(chunk)
                if progress is not None:
                    progress.advance(len(chunk))
    if total is not None and have < total:
        raise _Short()
    return True


def _resume_point(url: str, response: Any, have: int) -> tuple[int, int | None, str]:
    """(bytes kept, total size if known, file mode): append on 206, start over on 200."""
    if response.status == 206:
        content_range = response.headers.get("content-range")
        start = _range_start(content_range)
        if start != have:
            raise RemoteError(f"{url}: asked for bytes from {have}, got from {start}")
        return have, _range_total(content_range), "ab"
    length = response.headers.get("content-length")
    return 0, int(length) if length and length.isdigit() else None, "wb"


def _range_start(header: str | None) -> int | None:
    match = re.match(r"bytes (\d+)-\d+/", header or "")
    return int(match.group(1)) if match else None


def _range_total(header: str | None) -> int | None:
    match = re.match(r"bytes [\d*-]+/(\d+)", header or "")
    return int(match.group(1)) if match else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def decompress_xz(src: Path, dest: Path) -> Path:
    """Decompress `src` (.xz) to `dest`, leaving holes where the image has zeros."""
    tmp = dest.with_name(dest.name + ".tmp")
    try:
        with lzma.open(src) as packed, tmp.open("wb") as out:
            while chunk := packed.read(CHUNK):
                if chunk == ZERO[: len(chunk)]:
                    out.seek(len(chunk), os.SEEK_CUR)
                else:
                    out.write(chunk)
            out.truncate()
    except (lzma.LZMAError, EOFError) as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError([f"{src}: not a valid .xz file ({exc})"]) from None
    tmp.replace(dest)
    return dest


def convert_argv(src: Path, dest: Path, source_format: str) -> tuple[str, ...]:
    """`qemu-img convert` to a compressed qcow2.

    >>> convert_argv(Path("a.raw"), Path("a.qcow2"), "raw")
    ('qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', '-c', 'a.raw', 'a.qcow2')
    """
    return ("qemu-img", "convert", "-f", source_format, "-O", "qcow2", "-c", str(src), str(dest))


def to_qcow2(src: Path, dest: Path) -> Path:
    """`src` (.qcow2, .qcow2.xz, .raw or .raw.xz) as a qcow2: `src` itself when it is one,
    else `dest`, written under a temporary name and renamed when complete."""
    name = src.name
    if name.endswith(".qcow2"):
        return src
    if name.endswith(".xz"):
        inner = decompress_xz(src, dest.with_name(name[: -len(".xz")]))
        if inner.name.endswith(".qcow2"):
            return inner.replace(dest)
        try:
            return to_qcow2(inner, dest)
        finally:
            inner.unlink(missing_ok=True)
    if not name.endswith(".raw"):
        raise ConfigError([f"{src}: unknown image format (.qcow2, .raw, optionally .xz)"])
    tmp = dest.with_name(dest.name + ".tmp")
    run(Command(convert_argv(src, tmp, "raw"), timeout=CONVERT_TIMEOUT))
    return tmp.replace(dest)
