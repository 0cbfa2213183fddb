"""Build the base image for arm64, the A1 production target, on this host (cross-architecture
through qemu-user-static when the host is amd64), and print the build time and the size of
the compressed qcow2. Target: qcow2 <= 1 GB (the design document allowed 8 GB).

Third-party repositories are left out (unreachable here); Lynis runs as in a real build.
Needs root and the Debian packages of `./dev setup`. Run:
    .venv/bin/python bench/images_build.py [--arch arm64] [--deb-cache DIR] [--out DIR]
A --deb-cache that already holds the .debs measures the build without the downloads.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from freetier.images.build import build_image, host_arch
from freetier.stack import load_stack

ROOT = Path(__file__).resolve().parents[1]
TARGET_BYTES = 1_000_000_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="arm64", choices=("arm64", "amd64"))
    parser.add_argument("--out", type=Path, help="keep the image here (default: a temp dir)")
    parser.add_argument("--deb-cache", type=Path, help="reuse downloaded .debs")
    parser.add_argument("--no-lynis", action="store_true")
    args = parser.parse_args(argv)
    stack = load_stack(ROOT / "stack.yaml")
    started = time.monotonic()

    def progress(line: str) -> None:
        print(f"{time.monotonic() - started:7.1f}s  {line}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="freetier-bench-") as tmp:
        out = args.out or Path(tmp)
        result = build_image(
            "base",
            args.arch,
            out,
            stack,
            third_party=False,
            progress=progress,
            images_dir=ROOT / "images",
            deb_cache=args.deb_cache,
            lynis=False if args.no_lynis else None,
        )
        size = result.qcow2.stat().st_size
        manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    how = "native" if host_arch() == args.arch else f"cross from {host_arch()} (qemu-user)"
    print(f"base-{args.arch}: {how}, {len(manifest['packages'])} packages")
    print(f"build time: {result.seconds:.0f} s")
    verdict = "ok" if size <= TARGET_BYTES else "OVER"
    virtual = manifest["virtual_size_bytes"] / 2**30
    print(f"qcow2: {size / 1e6:.0f} MB compressed, {virtual:.0f} GiB virtual")
    print(f"target: <= {TARGET_BYTES / 1e6:.0f} MB compressed: {verdict}")
    print(result.audit.summary())
    return 0 if size <= TARGET_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
