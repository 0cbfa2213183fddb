"""`freetier images publish|talos|propose`: the upload half of the images stage, added to the
`images` subparsers that `cli.images.register` returns. Handlers return the exit code and let
FreetierError reach `freetier.cli.main`."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from freetier.cli.common import SubParsers, add_stack, minutes
from freetier.image_ocids import DEFAULT_BASE, DEFAULT_BRANCH, TFVARS
from freetier.images.options import ARCHES, DEFAULT_PARALLEL, FORMATS, MIB
from freetier.layers import layer_folder

if TYPE_CHECKING:
    from freetier.github.propose import Proposed
    from freetier.images.publish import PublishOptions, PublishResult

DEFAULT_DIR = Path("out/images")
DEFAULT_PART_MIB = 32
DEFAULT_IMPORT_MINUTES = 90.0
IMAGE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")
# Debian release numbers for the stack's `images.debian_suite`: the OS version OCI shows.
DEBIAN_VERSIONS = {"bookworm": "12", "trixie": "13"}
TFVARS_HINT = "tofu/oci/images.auto.tfvars.json"


def register(images: SubParsers[argparse.ArgumentParser]) -> None:
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
        "convert it to qcow2, and publish it the way that Talos version's Oracle page says: "
        "v1.13 an .oci archive (the qcow2 and an image_metadata.json: UEFI_64 only, "
        "paravirtualized, VM.Standard.A1.Flex), v1.14 and later a stream-optimized VMDK "
        "imported with BIOS firmware; older versions are refused. FREETIER_TALOS_FACTORY "
        "overrides the factory URL. Check the result with `images boot-check`. Exit 0 "
        "published, 1 a failed download, upload or import, 2 bad input or credentials.",
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
    _register_propose(images)


def _register_propose(images: SubParsers[argparse.ArgumentParser]) -> None:
    proposal = images.add_parser(
        "propose",
        help="open or update the pull request that carries the published image OCIDs",
        description=f"Commit {TFVARS_HINT} (in the stack file's folder, as `images publish` "
        "wrote it) to BRANCH as one commit on top of BASE that changes only that file, and "
        "open the pull request BASE <- BRANCH, or update the open one; its body lists the "
        "OCIDs that changed. Nothing is written when BASE already has the file as it is, and "
        "no commit is made when BRANCH already holds it. BRANCH belongs to freetier: a new "
        "proposal replaces its commits. The token comes from GITHUB_TOKEN (contents: write, "
        "pull-requests: write), the API URL from GITHUB_API_URL. Run it from the repository's "
        "root. Exit 0 proposed or nothing to propose, 1 GitHub refused, 2 bad input or no "
        "token.",
    )
    proposal.add_argument(
        "--repo", required=True, metavar="OWNER/NAME", help="the repository to propose to"
    )
    proposal.add_argument(
        "--base", default=DEFAULT_BASE, help=f"the branch to merge into (default {DEFAULT_BASE})"
    )
    proposal.add_argument(
        "--branch",
        default=DEFAULT_BRANCH,
        help=f"the branch freetier owns for the proposal (default {DEFAULT_BRANCH})",
    )
    add_stack(proposal, help=f"default: stack.yaml; {TFVARS_HINT} is read from its folder")
    proposal.add_argument(
        "--ocids",
        type=Path,
        metavar="DIR",
        help=f"propose the OCIDs of every {TFVARS} under DIR (one per publish run, as the "
        f"workflow collects them) merged into the stack's {TFVARS}, instead of that file",
    )
    proposal.add_argument(
        "--dry-run", action="store_true", help="say what would be done; write nothing"
    )
    proposal.add_argument("--json", action="store_true", help="print the result as JSON")
    proposal.set_defaults(handler=cmd_propose)


def _common(parser: argparse.ArgumentParser) -> None:
    add_stack(parser)
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
        type=minutes,
        default=DEFAULT_IMPORT_MINUTES,
        metavar="MINUTES",
        help=f"give up an import still running after this (default {DEFAULT_IMPORT_MINUTES:g})",
    )


def cmd_publish(args: argparse.Namespace) -> int:
    from freetier.errors import ConfigError
    from freetier.images.publish import abort_publish, publish_image
    from freetier.oci_clients import load_oci_config
    from freetier.stack import load_stack

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
        tofu_dir=layer_folder(args.stack, "oci"),
        options=_options(args),
    )
    _print_result(f"{name}-{args.arch}", result)
    return 0


def cmd_talos(args: argparse.Namespace) -> int:
    from freetier.images.talos import publish_talos
    from freetier.images.talos_fetch import Fetching
    from freetier.oci_clients import load_oci_config
    from freetier.stack import load_stack

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
        tofu_dir=layer_folder(args.stack, "oci"),
        options=_options(args),
        fetching=Fetching(),
        expected_sha256=args.sha256,
    )
    print(f"talos: {image.url}")
    print(f"talos: sha256 {image.download.sha256} ({image.download.path.name})")
    if image.recipe is not None:
        recipe = image.recipe
        print(
            f"talos: imported as {recipe.kind} ({recipe.source_image_type or 'no source type'}, "
            f"{recipe.firmware}, {recipe.launch_mode}) per {recipe.source}"
        )
    _print_result(f"talos-{args.arch}", result)
    return 0


def cmd_propose(args: argparse.Namespace) -> int:
    from freetier.errors import ConfigError
    from freetier.github.names import check_repo_name
    from freetier.github.propose import check_branches, propose
    from freetier.image_ocids import check_tfvars, proposal_content

    tfvars = layer_folder(args.stack, "oci") / TFVARS
    token = os.environ.get("GITHUB_TOKEN", "")
    problems: list[str] = []
    _collect(problems, check_repo_name, args.repo)
    _collect(problems, check_branches, args.base, args.branch)
    if args.ocids is None:
        _collect(problems, check_tfvars, tfvars)
    elif not any(args.ocids.rglob(TFVARS)):
        problems.append(f"--ocids {args.ocids}: no {TFVARS} in it")
    if not token.strip():
        problems.append(
            "GITHUB_TOKEN: not set; proposing needs a token that may push a branch and open "
            "pull requests (permissions: contents: write, pull-requests: write)"
        )
    if problems:
        raise ConfigError(problems)
    path = _repo_path(tfvars)
    result = propose(
        args.repo,
        proposal_content(tfvars, args.ocids),
        path=path,
        token=token,
        base=args.base,
        branch=args.branch,
        dry_run=args.dry_run,
    )
    if args.json:
        print(json.dumps({**result.to_json(), "base": args.base, "path": path}, indent=2))
    else:
        _print_proposal(result, base=args.base, path=path)
    return 0


def _collect(problems: list[str], check: Callable[..., None], *args: Any) -> None:
    """Run one input check; keep its problems so that every one is reported together."""
    from freetier.errors import ConfigError

    try:
        check(*args)
    except ConfigError as exc:
        problems += exc.problems


def _repo_path(path: Path) -> str:
    """`path` as the repository names it: relative to the current folder, its root."""
    from freetier.errors import ConfigError

    relative = Path(os.path.relpath(path.resolve(), Path.cwd().resolve()))
    if relative.parts[:1] == ("..",):
        raise ConfigError([f"{path}: outside the current folder; run from the repository's root"])
    return relative.as_posix()


def _print_proposal(result: Proposed, *, base: str, path: str) -> None:
    if result.action == "unchanged":
        print(f"{path}: {base} already has it as it is; nothing to propose")
        return
    for change in result.changes:
        print(f"{change.arch}: {change.old or '(none)'} -> {change.new or '(none)'}")
    pull = "a pull request" if result.pr is None else f"pull request #{result.pr}"
    if result.dry_run:
        commit = "commit it to" if result.new_commit else "leave (it holds the file)"
        what = "open" if result.action == "opened" else "update"
        print(f"dry run: would {commit} {result.branch} and {what} {pull}; nothing written")
        return
    if result.commit:
        print(f"{result.branch}: commit {result.commit} on top of {base}")
    else:
        print(f"{result.branch}: already holds {path}; no new commit")
    print(f"{result.action} {pull}: {result.url}")


def _options(args: argparse.Namespace) -> PublishOptions:
    from freetier.images.importer import Waiting
    from freetier.images.publish import PublishOptions

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
    from freetier.errors import ConfigError

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


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value}: not a whole number") from None
