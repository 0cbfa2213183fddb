"""`images talos`: the Talos oracle image from a local stand-in for the Image Factory (Range
requests, a connection cut mid-body), converted by the real qemu-img, published to the fake
OCI by the real oci SDK."""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from freetier.errors import ConfigError, RemoteError
from freetier.images.talos import (
    FACTORY_ENV,
    VANILLA_SCHEMATIC,
    factory_base,
    fetch_talos,
    publish_talos,
)
from freetier.images.talos_fetch import Fetching, download
from tests.images import run_images
from tests.images.conftest_publish import MIB, OPTIONS, World, world

NO_WAIT = Fetching(attempts=3, timeout_seconds=5.0, backoff_seconds=0.0)
RAW_SIZE = 8 * MIB


@dataclass
class Factory:
    """Serves `files` by path with Range support; cuts the first `cut` bodies halfway."""

    files: dict[str, bytes] = field(default_factory=dict)
    cut: int = 0
    ranges: list[str | None] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    url: str = ""


def _handler(factory: Factory) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            factory.paths.append(self.path)
            factory.ranges.append(self.headers.get("Range"))
            data = factory.files.get(self.path)
            if data is None:
                self._reply(404, b"not found", {})
                return
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if match:
                start = int(match.group(1))
                if start >= len(data):
                    self._reply(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                    return
            body = data[start:]
            headers = {"Content-Type": "application/octet-stream"}
            status = 200
            if match:
                status = 206
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            if factory.cut:
                factory.cut -= 1
                self._reply(status, body[: len(body) // 2], headers, length=len(body))
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._reply(status, body, headers)

        def _reply(
            self, status: int, body: bytes, headers: dict[str, str], length: int | None = None
        ) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


@pytest.fixture
def factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[Factory]:
    served = Factory()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}/factory"
    monkeypatch.setenv(FACTORY_ENV, served.url)
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with world(tmp_path, monkeypatch) as running:
        running.fake.import_polls = 1
        yield running


def qemu_img() -> str:
    exe = shutil.which("qemu-img")
    if exe is None:
        pytest.fail("qemu-img must be installed for this test (Debian package qemu-utils)")
    return exe


def raw_disk() -> bytes:
    """A small raw disk: zeros with a few random blocks, like a mostly empty image."""
    disk = bytearray(RAW_SIZE)
    for offset in (0, 3 * MIB, RAW_SIZE - 64 * 1024):
        disk[offset : offset + 64 * 1024] = os.urandom(64 * 1024)
    return bytes(disk)


def _path(version: str, asset: str, schematic: str = VANILLA_SCHEMATIC) -> str:
    return f"/factory/image/{schematic}/{version}/{asset}"


def pinned(world: World, version: str) -> World:
    """`world` whose stack (the model and its file) pins Talos `version`, whatever the
    shipped stack pins."""
    stack_file = world.root / "stack.yaml"
    text = re.sub(r"(?m)^(  talos: ).*$", rf"\g<1>{version}", stack_file.read_text())
    stack_file.write_text(text)
    versions = world.stack.versions.model_copy(update={"talos": version})
    world.stack = world.stack.model_copy(update={"versions": versions})
    return world


def test_raw_xz_is_resumed_converted_and_published(
    env: World, factory: Factory, tmp_path: Path
) -> None:
    pinned(env, "v1.13.9")
    qemu = qemu_img()
    raw = raw_disk()
    packed = lzma.compress(raw, preset=1)
    factory.files[_path("v1.13.9", "oracle-arm64.raw.xz")] = packed
    factory.cut = 1  # the first response dies halfway through the body

    image, result = publish_talos(
        env.stack,
        env.config,
        arch="arm64",
        directory=tmp_path / "images",
        fmt="raw.xz",
        part_size=MIB,
        tofu_dir=env.tofu_dir,
        options=OPTIONS,
        fetching=NO_WAIT,
    )

    # Downloaded: resumed from where the cut left it, sha256 recorded beside it.
    assert factory.ranges[0] is None
    assert factory.ranges[1] == f"bytes={len(packed) // 2}-"
    assert image.download.resumed
    assert image.download.sha256 == hashlib.sha256(packed).hexdigest()
    sidecar = image.download.path.with_name(image.download.path.name + ".sha256")
    assert sidecar.read_text() == f"{image.download.sha256}  {image.download.path.name}\n"
    assert image.url == f"{factory.url}/image/{VANILLA_SCHEMATIC}/v1.13.9/oracle-arm64.raw.xz"
    # Converted by the real qemu-img: a qcow2 holding exactly the raw disk.
    info = json.loads(
        subprocess.run(
            [qemu, "info", "--output=json", str(image.qcow2)],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    )
    assert (info["format"], info["virtual-size"]) == ("qcow2", RAW_SIZE)
    back = tmp_path / "back.raw"
    subprocess.run(
        [qemu, "convert", "-f", "qcow2", "-O", "raw", str(image.qcow2), str(back)], check=True
    )
    assert back.read_bytes() == raw
    assert not list((tmp_path / "images").glob("*.raw"))  # the temporary raw is gone
    # Published as Talos 1.13.9, UEFI on A1.
    published = env.fake.image(result.image_ocid)
    assert (published["operatingSystem"], published["operatingSystemVersion"]) == (
        "Talos",
        "1.13.9",
    )
    assert published["launchOptions"]["firmware"] == "UEFI_64"
    assert list(env.fake.image_shapes[result.image_ocid]) == ["VM.Standard.A1.Flex"]
    assert result.display_name.startswith("talos-arm64-")
    assert env.fake.objects == {}
    tfvars = json.loads((env.tofu_dir / "images.auto.tfvars.json").read_text())
    assert tfvars == {"image_ocids": {"arm64": result.image_ocid}}


def test_a_rerun_downloads_and_converts_nothing_again(
    env: World, factory: Factory, tmp_path: Path
) -> None:
    pinned(env, "v1.13.9")
    qemu_img()
    factory.files[_path("v1.13.9", "oracle-arm64.raw.xz")] = lzma.compress(raw_disk(), preset=1)
    first = fetch_talos(env.stack, arch="arm64", directory=tmp_path, fmt="raw.xz", fetching=NO_WAIT)
    made = first.qcow2.stat().st_mtime_ns

    again = fetch_talos(env.stack, arch="arm64", directory=tmp_path, fmt="raw.xz", fetching=NO_WAIT)

    assert len(factory.paths) == 1
    assert again.qcow2 == first.qcow2 and again.qcow2.stat().st_mtime_ns == made
    assert again.download.sha256 == first.download.sha256


def test_the_stack_schematic_and_a_qcow2_asset(
    env: World, factory: Factory, tmp_path: Path
) -> None:
    pinned(env, "v1.13.9")
    schematic = "ab" * 32
    stack = env.stack.model_copy(
        update={"images": env.stack.images.model_copy(update={"talos_schematic": schematic})}
    )
    factory.files[_path("v1.13.9", "oracle-arm64.qcow2", schematic)] = b"QFI\xfb" + b"\0" * 100

    image = fetch_talos(stack, arch="arm64", directory=tmp_path, fetching=NO_WAIT)

    assert factory.paths == [_path("v1.13.9", "oracle-arm64.qcow2", schematic)]
    assert image.qcow2 == image.download.path  # already a qcow2: published as downloaded


def test_a_partial_file_from_an_earlier_run_is_resumed(factory: Factory, tmp_path: Path) -> None:
    data = os.urandom(3 * MIB)
    factory.files["/factory/x.raw"] = data
    (tmp_path / "x.raw.part").write_bytes(data[:MIB])

    got = download(f"{factory.url}/x.raw", tmp_path / "x.raw", fetching=NO_WAIT)

    assert factory.ranges == [f"bytes={MIB}-"]
    assert got.resumed and got.path.read_bytes() == data


def test_a_missing_image_is_one_line_and_not_retried(factory: Factory, tmp_path: Path) -> None:
    with pytest.raises(RemoteError) as info:
        download(
            f"{factory.url}/image/x/v9.9.9/oracle-arm64.qcow2", tmp_path / "x", fetching=NO_WAIT
        )
    assert str(info.value).endswith("oracle-arm64.qcow2: HTTP 404 Not Found")
    assert len(factory.paths) == 1


def test_a_connection_that_keeps_dying_keeps_the_partial_file(
    factory: Factory, tmp_path: Path
) -> None:
    factory.files["/factory/x.raw"] = os.urandom(MIB)
    factory.cut = 10

    with pytest.raises(RemoteError, match=r"download failed after 3 attempts .* next run resumes"):
        download(f"{factory.url}/x.raw", tmp_path / "x.raw", fetching=NO_WAIT)

    assert (tmp_path / "x.raw.part").stat().st_size > 0
    assert not (tmp_path / "x.raw").exists()


def test_a_wrong_sha256_is_refused(factory: Factory, tmp_path: Path) -> None:
    factory.files["/factory/x.raw"] = b"talos"
    with pytest.raises(RemoteError, match="is not the expected"):
        download(
            f"{factory.url}/x.raw", tmp_path / "x.raw", fetching=NO_WAIT, expected_sha256="00" * 32
        )
    assert not (tmp_path / "x.raw").exists()


def test_factory_base_must_be_a_plain_url() -> None:
    assert factory_base({}) == "https://factory.talos.dev"
    assert factory_base({FACTORY_ENV: "http://127.0.0.1:8080/"}) == "http://127.0.0.1:8080"
    with pytest.raises(ConfigError, match=FACTORY_ENV):
        factory_base({FACTORY_ENV: "https://user:pw@mirror.example"})


def test_cli_talos_prints_the_source_and_the_image(
    env: World, factory: Factory, tmp_path: Path
) -> None:
    pinned(env, "v1.13.9")
    factory.files[_path("v1.13.9", "oracle-arm64.qcow2")] = b"QFI\xfb" + os.urandom(2 * MIB)

    run = run_images(
        [
            "images",
            "talos",
            "--stack",
            str(env.root / "stack.yaml"),
            "--dir",
            str(tmp_path / "talos"),
        ]
    )

    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == f"talos: {factory.url}/image/{VANILLA_SCHEMATIC}/v1.13.9/oracle-arm64.qcow2"
    assert lines[1].startswith("talos: sha256 ")
    assert lines[2].startswith("talos: imported as oci (no source type, UEFI_64, PARAVIRTUALIZED)")
    assert lines[3].startswith("talos-arm64: image ocid1.image.")
