"""`freetier images talos`: the official Talos `oracle-<arch>` image for the stack's Talos
version, from the Image Factory, published as a custom image the way that version's Oracle
page says (`freetier.images.recipes`: an `.oci` archive for v1.13, a stream-optimized VMDK
imported with BIOS from v1.14).

    https://factory.talos.dev/image/<schematic>/<version>/oracle-arm64.<format>

The schematic is `stack.images.talos_schematic`, or the factory's vanilla one (no
extensions). `FREETIER_TALOS_FACTORY` replaces the factory's base URL (a mirror, a local test
server).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from freetier.errors import ConfigError
from freetier.images.oci_archive import recipe_file
from freetier.images.options import DEFAULT_PARALLEL, FORMATS
from freetier.images.publish import PublishOptions, PublishResult, check_arch, publish_image
from freetier.images.publish_progress import Progress
from freetier.images.publish_upload import DEFAULT_PART_SIZE
from freetier.images.recipes import ImportRecipe, talos_recipe
from freetier.images.talos_fetch import DEFAULT_FETCHING, Downloaded, Fetching, download, to_qcow2
from freetier.stack.model import Stack

FACTORY_ENV = "FREETIER_TALOS_FACTORY"
DEFAULT_FACTORY = "https://factory.talos.dev"
# The schematic with no customization (`customization: {}`), as the factory documents it.
VANILLA_SCHEMATIC = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
OS_NAME = "Talos"
IMAGE_NAME = "talos"


@dataclass(frozen=True)
class TalosImage:
    """The factory download, the qcow2 made from it, and what the recipe uploads."""

    url: str
    download: Downloaded
    qcow2: Path
    recipe: ImportRecipe | None = None
    upload: Path | None = None


def factory_base(env: Mapping[str, str] | None = None) -> str:
    value = (os.environ if env is None else env).get(FACTORY_ENV, "").strip()
    if not value:
        return DEFAULT_FACTORY
    if not re.match(r"^https?://[^/\s@]+(/\S*)?$", value):
        raise ConfigError([f"{FACTORY_ENV}: must be an http(s) URL without credentials"])
    return value.rstrip("/")


def talos_version(stack: Stack) -> str:
    """The factory's spelling of the stack's Talos version: with its `v`."""
    version = stack.versions.talos
    return version if version.startswith("v") else f"v{version}"


def factory_url(base: str, schematic: str, version: str, arch: str, fmt: str) -> str:
    """
    >>> factory_url("https://factory.talos.dev", VANILLA_SCHEMATIC[:8], "v1.13.9", "arm64",
    ...             "qcow2")
    'https://factory.talos.dev/image/37656798/v1.13.9/oracle-arm64.qcow2'
    """
    return f"{base}/image/{schematic}/{version}/oracle-{arch}.{fmt}"


def fetch_talos(
    stack: Stack,
    *,
    arch: str,
    directory: Path,
    fmt: str = "qcow2",
    env: Mapping[str, str] | None = None,
    fetching: Fetching = DEFAULT_FETCHING,
    expected_sha256: str | None = None,
    progress: TextIO | None = None,
) -> TalosImage:
    """Download the stack's Talos image (resuming) and make it a qcow2 in `directory`."""
    arch_ = check_arch(arch)
    if fmt not in FORMATS:
        raise ConfigError([f"--format: unknown format {fmt!r} ({', '.join(FORMATS)})"])
    schematic = stack.images.talos_schematic or VANILLA_SCHEMATIC
    version = talos_version(stack)
    url = factory_url(factory_base(env), schematic, version, arch_, fmt)
    stem = f"talos-{version}-{schematic[:12]}-oracle-{arch_}"
    shown = Progress(progress, f"download {stem}.{fmt}", 0)
    got = download(
        url,
        directory / f"{stem}.{fmt}",
        fetching=fetching,
        progress=shown,
        expected_sha256=expected_sha256,
    )
    qcow2 = directory / f"{stem}.qcow2"
    stamp = qcow2.with_name(qcow2.name + ".source-sha256")
    if fmt != "qcow2" and not (qcow2.is_file() and _read(stamp) == got.sha256):
        to_qcow2(got.path, qcow2)
        stamp.write_text(got.sha256 + "\n", encoding="utf-8")
    return TalosImage(url, got, got.path if fmt == "qcow2" else qcow2)


def publish_talos(
    stack: Stack,
    config: Mapping[str, Any],
    *,
    arch: str = "arm64",
    directory: Path,
    fmt: str = "qcow2",
    progress: TextIO | None = None,
    part_size: int = DEFAULT_PART_SIZE,
    parallel: int = DEFAULT_PARALLEL,
    tofu_dir: Path = Path("tofu/oci"),
    options: PublishOptions | None = None,
    fetching: Fetching = DEFAULT_FETCHING,
    expected_sha256: str | None = None,
) -> tuple[TalosImage, PublishResult]:
    """Fetch and publish the Talos image: OS name Talos, version the stack's, imported as the
    version's recipe says."""
    recipe = talos_recipe(stack.versions.talos)
    env = options.env if options is not None else None
    image = fetch_talos(
        stack,
        arch=arch,
        directory=directory,
        fmt=fmt,
        env=env,
        fetching=fetching,
        expected_sha256=expected_sha256,
        progress=progress,
    )
    os_version = talos_version(stack).removeprefix("v")
    upload = recipe_file(recipe, image.qcow2, OS_NAME, os_version)
    image = replace(image, recipe=recipe, upload=upload)
    result = publish_image(
        upload,
        stack=stack,
        config=config,
        name=IMAGE_NAME,
        arch=arch,
        os_name=OS_NAME,
        os_version=os_version,
        progress=progress,
        part_size=part_size,
        parallel=parallel,
        tofu_dir=tofu_dir,
        options=options,
        recipe=recipe,
    )
    return image, result


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
