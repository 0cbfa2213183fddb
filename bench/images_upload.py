"""Image upload throughput: 4 parts in flight against one part at a time.

A 64 MiB file goes through `freetier.images.publish_upload.upload_file` and the real oci SDK to
the fake Object Storage (tests/fakes/oci_server.py), throttled per request as a real endpoint
limits each connection. The fake runs in its own process, as the service runs on another
machine: in this one it would share the client's GIL. Both uploads run one after the other in
one invocation; the figure is their ratio. Target: parallel >= 3 x single-stream.
Run: .venv/bin/python bench/images_upload.py
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from tests.fakes.oci_server import FakeOci, write_oci_credentials  # noqa: E402

from freetier.images.objectstore import object_client, open_bucket  # noqa: E402
from freetier.images.publish_upload import upload_file  # noqa: E402
from freetier.oci_clients import RetryPolicy, load_oci_config  # noqa: E402

MIB = 1024**2
SIZE = 64 * MIB
PART = 8 * MIB
RATE = 8 * MIB  # bytes per second, per request
BUCKET = "bench"
TARGET = 3.0


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


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        credentials = write_oci_credentials(folder)
        source = folder / "disk.qcow2"
        source.write_bytes(os.urandom(SIZE))
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
    print(f"throttle {RATE / MIB:.0f} MiB/s per request, parts of {PART / MIB:.0f} MiB")
    print(f"ratio parallel/single: {ratio:.2f}x (target >= {TARGET:g}x)")
    return 0 if ratio >= TARGET else 1


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
        assert pipe.recv() == SIZE, "the fake does not hold the whole object"
        rates[parallel] = result.size / MIB / result.seconds
        print(
            f"{parallel} part(s) in flight: {result.size / MIB:.0f} MiB in "
            f"{result.seconds:.2f} s = {rates[parallel]:.1f} MiB/s"
        )
    return rates


if __name__ == "__main__":
    sys.exit(main())
