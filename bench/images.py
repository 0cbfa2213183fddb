"""Image pipeline figures: the base image's build time and size, and upload throughput.

Build: the base image for arm64, the A1 production target, built on this host (across
architectures through qemu-user-static when the host is amd64), with its build time and the
size of the compressed qcow2. Target: qcow2 <= 1 GB (the design document allowed 8 GB).
Third-party repositories are left out (unreachable here); Lynis runs as in a real build.
Needs root and the Debian packages of `./dev setup`. A --deb-cache that already holds the
.debs measures the build without the downloads.

Upload: a 64 MiB file goes through `freetier.images.publish_upload.upload_file` and the real
oci SDK to the fake Object Storage (tests/fakes/oci_objectstorage.py), throttled per request
as a real endpoint limits each connection, once with 4 parts in flight and once with one, in
this one invocation; the figure is their ratio. The fake runs in its own process, as the
service runs on another machine: in this one it would share the client's GIL. Target: >= 3x.

Run: .venv/bin/python bench/images.py [--arch arm64] [--deb-cache DIR] [--out DIR]
     [--no-lynis] [--only build|upload]
Exit 0 when every measured figure meets its target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from tests.fakes.oci_server import FakeOci, write_oci_credentials  # noqa: E402

from freetier.images.build import build_image, host_arch  # noqa: E402
from freetier.images.objectstore import object_client, open_bucket  # noqa: E402
from freetier.images.publish_upload import upload_file  # noqa: E402
from freetier.oci_clients import RetryPolicy, load_oci_config  # noqa: E402
from freetier.stack import load_stack  # noqa: E402

TARGET_QCOW2_BYTES = 1_000_000_000
MIB = 1024**2
UPLOAD_BYTES = 64 * MIB
PART = 8 * MIB
RATE = 8 * MIB  # bytes per second, per request
BUCKET = "bench"
TARGET_RATIO = 3.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="arm64", choices=("arm64", "amd64"))
    parser.add_argument("--out", type=Path, help="keep the image here (default: a temp dir)")
    parser.add_argument("--deb-cache", type=Path, help="reuse downloaded .debs")
    parser.add_argument("--no-lynis", action="store_true")
    parser.add_argument("--only", choices=("build", "upload"), help="measure just one part")
    args = parser.parse_args(argv)
    ok = True
    if args.only != "build":
        ok = bench_upload() and ok
    if args.only != "upload":
        ok = bench_build(args) and ok
    return 0 if ok else 1


def bench_build(args: argparse.Namespace) -> bool:
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
    print(f"build base-{args.arch}: {how}, {len(manifest['packages'])} packages")
    print(f"build time: {result.seconds:.0f} s")
    verdict = "ok" if size <= TARGET_QCOW2_BYTES else "OVER"
    virtual = manifest["virtual_size_bytes"] / 2**30
    print(f"qcow2: {size / 1e6:.0f} MB compressed, {virtual:.0f} GiB virtual")
    print(f"target: <= {TARGET_QCOW2_BYTES / 1e6:.0f} MB compressed: {verdict}")
    print(result.audit.summary())
    return size <= TARGET_QCOW2_BYTES


def bench_upload() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        credentials = write_oci_credentials(folder)
        source = folder / "disk.qcow2"
        source.write_bytes(os.urandom(UPLOAD_BYTES))
        ours, theirs = multiprocessing.Pipe()
        args = (credentials.tenancy, credentials.key_id, credentials.key_pem, RATE, theirs)
        server = multiprocessing.get_context("spawn").Process(target=serve, args=args)
        server.start()
        try:
            rates = upload_both(ours, credentials.config_file, folder, source)
        finally:
            ours.send(None)
            server.join(timeout=10)
    ratio = rates[4] / rates[1]
    print(f"upload throttled to {RATE / MIB:.0f} MiB/s per request, parts of {PART / MIB:.0f} MiB")
    print(f"upload ratio parallel/single: {ratio:.2f}x (target >= {TARGET_RATIO:g}x)")
    return ratio >= TARGET_RATIO


def serve(tenancy: str, key_id: str, key_pem: bytes, rate: float, pipe: Connection) -> None:
    """The fake in a child process: sends its URL, then answers object sizes until told to stop."""
    private = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    fake = FakeOci(tenancy)
    fake.authorize_key(key_id, private.public_key())
    fake.add_bucket(tenancy, BUCKET)
    fake.throttle_bytes_per_second = rate
    with fake.serve():
        pipe.send(fake.url)
        while (name := pipe.recv()) is not None:
            data = fake.object_data(BUCKET, name)
            pipe.send(None if data is None else len(data))


def upload_both(pipe: Connection, config_file: Path, home: Path, source: Path) -> dict[int, float]:
    env = {"OCI_CLI_CONFIG_FILE": str(config_file), "FREETIER_OCI_ENDPOINT": pipe.recv()}
    config = load_oci_config(env, home)
    retry = RetryPolicy(max_attempts=1)
    rates: dict[int, float] = {}
    for parallel in (1, 4):
        clients = [object_client(config, retry=retry, env=env) for _ in range(parallel)]
        bucket = open_bucket(clients[0], BUCKET)
        name = f"disk-{parallel}.qcow2"
        result = upload_file(bucket, name, source, clients=clients, part_size=PART)
        pipe.send(name)
        assert pipe.recv() == UPLOAD_BYTES, "the fake does not hold the whole object"
        rates[parallel] = result.size / MIB / result.seconds
        print(
            f"upload, {parallel} part(s) in flight: {result.size / MIB:.0f} MiB in "
            f"{result.seconds:.2f} s = {rates[parallel]:.1f} MiB/s"
        )
    return rates


if __name__ == "__main__":
    sys.exit(main())
