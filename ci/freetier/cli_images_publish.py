"""The CLI of the image upload half: `images publish` and `images talos`.

`register_publish(images_subparsers)` adds both to the `images` command's subparsers; the
handlers return the exit code and let FreetierError reach `freetier.cli.main`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

from freetier.errors import ConfigError
from freetier.images.importer import ARCHES, Waiting
from freetier.images.publish import PublishOptions, PublishResult, abort_publish, publish_image
from freetier.images.publish_upload import DEFAULT_PARALLEL, MIB
from freetier.images.talos import FORMATS, publish_talos
from freetier.images.talos_fetch import Fetching
from freetier.oci_clients import load_oci_config
from freetier.stack import load_stack

DEFAULT_STACK = Path("stack.yaml")
DEFAULT_DIR = Path("out/images")
DEFAULT_PART_MIB = 32
DEFAULT_IMPORT_MINUTES = 90.0
IMAGE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")
# Debian release numbers for the stack's `images.debian_suite`: the OS version OCI shows.
DEBIAN_VERSIONS = {"bookworm": "12", "trixie": "13"}
TFVARS_HINT = "tofu/oci/images.auto.tfvars.json"


def register_publish(images: Any) -> None:
    publish = images.add_parser(
        "publish",
        help="upload a built image and import it as an OCI custom image",
        description="Upload DIR/NAME-ARCH.qcow2 to the stack's bucket (multipart, parts in "
        "parallel, resumable: a rerun sends only the missing parts), import it as a custom "
        "image (QCOW2, PARAVIRTUALIZED), wait for it, delete the object, add the shape "
        "compatibility (and UEFI firmware on arm64), and write the OCID to "
        f"{TFVARS_HINT}. An interrupted upload is kept for the next run; --abort discards "
        "it. Exit 0 published, 1 a failed upload or import, 2 bad input or credentials.",
    )
    publish.add_argument("name", help="the image name, e.g. base or proxmox")
    publish.add_argument("--arch", required=True, choices=ARCHES)
    publish.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR, help=f"where NAME-ARCH.qcow2 is ({DEFAULT_DIR})"
    )
    publish.add_argument("--os-name", default="Debian", help="OS name shown by OCI (Debian)")
    publish.add_argument(
        "--os-version", help="OS version shown by OCI (default: from images.debian_suite)"
    )
    publish.add_argument(
        "--abort",
        action="store_true",
        help="abort the unfinished upload of NAME-ARCH instead of publishing",
    )
    _common(publish)
    publish.set_defaults(handler=cmd_publish)

    talos = images.add_parser(
        "talos",
        help="fetch the Talos oracle image for the stack's version and publish it",
        description="Download oracle-ARCH from the Talos Image Factory for versions.talos "
        "and images.talos_schematic (vanilla when unset), resuming an interrupted download, "
        "convert it to qcow2, and publish it like `images publish`. FREETIER_TALOS_FACTORY "
        "overrides the factory URL.",
    )
    talos.add_argument("--arch", default="arm64", choices=ARCHES, help="default: arm64")
    talos.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR, help=f"download folder ({DEFAULT_DIR})"
    )
    talos.add_argument(
        "--format",
        dest="fmt",
        default="qcow2",
        choices=FORMATS,
        help="the factory asset to fetch (default qcow2)",
    )
    talos.add_argument("--sha256", help="refuse a download whose SHA-256 is not this")
    _common(talos)
    talos.set_defaults(handler=cmd_talos)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", type=Path, default=DEFAULT_STACK, help="default: stack.yaml")
    parser.add_argument(
        "--part-size",
        type=_part_mib,
        default=DEFAULT_PART_MIB,
        metavar="MIB",
        help=f"multipart part size in MiB, 10 or more (default {DEFAULT_PART_MIB})",
    )
    parser.add_argument(
        "--parallel",
        type=_parallel,
        default=DEFAULT_PARALLEL,
        metavar="N",
        help=f"parts in flight (default {DEFAULT_PARALLEL})",
    )
    parser.add_argument(
        "--import-timeout",
        type=_minutes,
        default=DEFAULT_IMPORT_MINUTES,
        metavar="MINUTES",
        help=f"give up an import still running after this (default {DEFAULT_IMPORT_MINUTES:g})",
    )


def cmd_publish(args: argparse.Namespace) -> int:
    name = _image_name(args.name)
    stack = load_stack(args.stack)
    config = load_oci_config(os.environ, Path.home())
    if args.abort:
        aborted = abort_publish(stack, config, name=name, arch=args.arch)
        print(f"{name}-{args.arch}: {len(aborted)} unfinished upload(s) aborted")
        return 0
    qcow2 = args.dir / f"{name}-{args.arch}.qcow2"
    if not qcow2.is_file():
        raise ConfigError(
            [f"{qcow2}: not found (run `freetier images build {name} --arch {args.arch}`)"]
        )
    result = publish_image(
        qcow2,
        stack=stack,
        config=config,
        name=name,
        arch=args.arch,
        os_name=args.os_name,
        os_version=args.os_version or DEBIAN_VERSIONS[stack.images.debian_suite],
        progress=sys.stderr,
        part_size=args.part_size * MIB,
        parallel=args.parallel,
        tofu_dir=args.stack.parent / "tofu" / "oci",
        options=_options(args),
    )
    _print_result(f"{name}-{args.arch}", result)
    return 0


def cmd_talos(args: argparse.Namespace) -> int:
    stack = load_stack(args.stack)
    config = load_oci_config(os.environ, Path.home())
    image, result = publish_talos(
        stack,
        config,
        arch=args.arch,
        directory=args.dir,
        fmt=args.fmt,
        progress=sys.stderr,
        part_size=args.part_size * MIB,
        parallel=args.parallel,
        tofu_dir=args.stack.parent / "tofu" / "oci",
        options=_options(args),
        fetching=Fetching(),
        expected_sha256=args.sha256,
    )
    print(f"talos: {image.url}")
    print(f"talos: sha256 {image.download.sha256} ({image.download.path.name})")
    _print_result(f"talos-{args.arch}", result)
    return 0


def _options(args: argparse.Namespace) -> PublishOptions:
    return PublishOptions(waiting=Waiting(timeout_seconds=args.import_timeout * 60))


def _print_result(label: str, result: PublishResult) -> None:
    how = (
        "already imported"
        if result.reused
        else f"{result.uploaded_parts} part(s) uploaded, {result.skipped_parts} resumed, "
        f"{result.bytes / MIB:.1f} MiB sent"
    )
    print(f"{label}: image {result.image_ocid} ({result.display_name}; {how})")
    print(f"{label}: OCID written to {TFVARS_HINT}")


def _image_name(value: str) -> str:
    if not IMAGE_NAME.match(value):
        raise ConfigError(
            [f"image name {value!r}: lower-case letters, digits and '-', at most 32 characters"]
        )
    return value


def _part_mib(value: str) -> int:
    number = _int(value)
    if number < 10:
        raise argparse.ArgumentTypeError(f"{value}: at least 10 MiB")
    return number


def _parallel(value: str) -> int:
    number = _int(value)
    if not 1 <= number <= 32:
        raise argparse.ArgumentTypeError(f"{value}: between 1 and 32")
    return number


def _minutes(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value}: not a number of minutes") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value}: must be more than 0")
    return number


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value}: not a whole number") from None
