"""`freetier images build|gate|boot-test|boot-check|needed`: the images built from packages,
their size gates, their boot test under QEMU, the boot check of an imported image on OCI, and
which image each architecture of the stack boots.

`register(sub)` returns the `images` subparsers so `cli.images_publish` adds the upload half
(publish, talos, propose) beside them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from freetier.cli.common import SubParsers, add_format, add_stack, minutes, progress

DEFAULT_OUT = Path("out/images")


# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "images": "build, check and boot the VM images",
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> SubParsers[argparse.ArgumentParser]:
    images = sub.add_parser(
        "images",
        help=COMMANDS["images"],
        description="Hardened Debian images built from packages (mmdebstrap), their size "
        "gates and a boot test under QEMU.",
    )
    images_sub = images.add_subparsers(title="commands", metavar="COMMAND")

    build = images_sub.add_parser(
        "build",
        help="build NAME-ARCH.qcow2 and its manifest from images/NAME",
        description="Build images/NAME into OUT/NAME-ARCH.qcow2 and NAME-ARCH.manifest.json: "
        "mmdebstrap root filesystem (qemu-user for a foreign architecture), hardening audit "
        "(fails below the recipe's audit.min_score), GPT disk with an EFI system partition, "
        "compressed qcow2. Runs as root. Exit 0 built, 1 failed step or audit, 2 bad input "
        "or missing tool.",
    )
    build.add_argument("name", help="the recipe: a folder of images/ (base, proxmox)")
    _arch_arg(build, required=True)
    build.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    build.add_argument(
        "--no-third-party",
        action="store_true",
        help="leave out third-party apt repositories (Tailscale, PXVIRT)",
    )
    build.add_argument(
        "--deb-cache",
        type=Path,
        metavar="DIR",
        help="keep downloaded .debs here between builds (default: $FREETIER_DEB_CACHE, none)",
    )
    build.add_argument(
        "--no-lynis", action="store_true", help="skip Lynis even if the recipe asks for it"
    )
    add_stack(build)
    build.add_argument(
        "--recipes",
        type=Path,
        metavar="DIR",
        help="recipe folder (default: images/ beside the stack file)",
    )
    build.set_defaults(handler=cmd_images_build)

    gate_cmd = images_sub.add_parser(
        "gate",
        help="check image sizes against the stack's size gates",
        description="Check each image in DIR against its gate (images.gates.base_gb, "
        "proxmox_gb) and all of them together against total_gb. With --live the bucket's "
        "current usage counts too (OCI credentials required). Exit 0 within, 1 over, 2 bad "
        "input.",
    )
    gate_cmd.add_argument("--dir", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    gate_cmd.add_argument(
        "--live", action="store_true", help="add the bucket's current usage (oci SDK)"
    )
    add_format(gate_cmd)
    add_stack(gate_cmd)
    gate_cmd.set_defaults(handler=cmd_images_gate)

    boot = images_sub.add_parser(
        "boot-test",
        help="boot NAME-ARCH.qcow2 under QEMU and check the hardening from inside",
        description="Boot DIR/NAME-ARCH.qcow2 (left unchanged: the VM writes to an overlay) "
        "with UEFI firmware from Debian (OVMF, AAVMF), KVM when it can and TCG otherwise, and "
        "a NoCloud seed holding a fresh SSH key; wait for SSH on 127.0.0.1, run the hardening "
        "checks inside, power off. Exit 0 passed, 1 failed, 2 bad input or missing tool.",
    )
    boot.add_argument("name", help="the image name (base, proxmox)")
    _arch_arg(boot, required=False)
    boot.add_argument("--dir", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    boot.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="MINUTES",
        help="deadline for boot + checks (default: 5 with KVM, 30 under TCG)",
    )
    boot.add_argument(
        "--accel",
        choices=("auto", "kvm", "tcg"),
        default="auto",
        help="auto: KVM when /dev/kvm works for this architecture, else (or when the VM "
        "dies under KVM) TCG",
    )
    add_stack(boot)
    boot.set_defaults(handler=cmd_images_boot_test)

    _register_boot_check(images_sub)

    needed = images_sub.add_parser(
        "needed",
        help="which image each architecture of the stack boots",
        description="One image per architecture the stack's instances and bastion use: Talos "
        "(fetched) for the direct topology's nodes, the proxmox recipe for Proxmox hosts, "
        "base for the bastion. JSON: the images workflow's matrices, {build: [...], talos: "
        "[...]}, each entry with name, arch, source, runner and used_by. Exit 0, or 2 when "
        "two images would need the same architecture.",
    )
    needed.add_argument("--format", choices=("text", "json"), default="text")
    add_stack(needed)
    needed.set_defaults(handler=cmd_images_needed)
    return images_sub


def _register_boot_check(images_sub: SubParsers[argparse.ArgumentParser]) -> None:
    check = images_sub.add_parser(
        "boot-check",
        help="launch one instance of an imported image on OCI and read its serial console",
        description="Launch one instance of the imported image NAME (its OCID, or the "
        "display name `images publish` gave it) in the stack's compartment, as tofu/oci "
        "launches nodes but without a public IP, only when the free-tier guard counts room "
        "for it in the tenancy; capture its serial console history until it shows the OS's "
        "boot lines (Talos: `[talos]`; other images: the kernel's `Linux version`), the UEFI "
        "shell, or the deadline passes; report the in-transit encryption the instance got; "
        "and terminate the instance, also on an error or Ctrl-C. OCI shows RUNNING whether "
        "the image booted or not. Exit 0 it boots, 1 it does not (UEFI shell, empty console, "
        "no boot lines) or a step failed, 2 bad input or credentials, 3 no room in the free "
        "allowance (the limit is named), 130 interrupted (the instance terminated).",
    )
    check.add_argument("name", metavar="NAME", help="image OCID or display name")
    check.add_argument(
        "--arch",
        default="arm64",
        metavar="arm64|amd64",
        help="the image's architecture: its Always Free shape (default: arm64, A1)",
    )
    check.add_argument(
        "--subnet", metavar="OCID", help="subnet to launch in (default: the oci layer's public)"
    )
    check.add_argument(
        "--timeout",
        type=minutes,
        default=10.0,
        metavar="MINUTES",
        help="deadline for a verdict (default 10); termination has its own 5 minutes",
    )
    check.add_argument(
        "--interval",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="how often OCI is polled and the console captured again (default 10)",
    )
    add_format(check)
    add_stack(check)
    check.set_defaults(handler=cmd_images_boot_check)


def cmd_images_boot_check(args: argparse.Namespace) -> int:
    from freetier.cli.common import print_json
    from freetier.images.boot_check import CheckOptions, Timing, boot_check
    from freetier.images.publish import check_arch
    from freetier.oci_clients import load_oci_config
    from freetier.stack import load_stack

    arch = check_arch(args.arch)
    stack = load_stack(args.stack)
    config = load_oci_config(os.environ, Path.home())
    timing = Timing(deadline_seconds=args.timeout * 60, interval_seconds=args.interval)
    options = CheckOptions(arch=arch, subnet_id=args.subnet, timing=timing)
    report = boot_check(stack, config, args.name, options=options, say=progress("boot-check"))
    if args.format == "json":
        print_json(report.as_json())
    else:
        print("\n".join(report.lines()))
    return report.exit_code


def _seconds(text: str) -> float:
    """A number of seconds between 0.01 and 600 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.01 <= value <= 600:
        raise argparse.ArgumentTypeError("must be between 0.01 and 600 seconds")
    return value


def _arch_arg(parser: argparse.ArgumentParser, *, required: bool) -> None:
    # Checked by the handler, not `choices`, so a wrong value is one line, exit 2.
    parser.add_argument(
        "--arch",
        required=required,
        default=None if required else "amd64",
        metavar="arm64|amd64",
        help="target architecture" + ("" if required else " (default: amd64)"),
    )


def cmd_images_build(args: argparse.Namespace) -> int:
    from freetier.images.build import build_image, image_stem
    from freetier.images.recipe import arch_info
    from freetier.stack import load_stack

    arch_info(args.arch)
    stack = load_stack(args.stack)
    recipes = args.recipes or args.stack.parent / "images"
    cache = args.deb_cache or (Path(c) if (c := os.environ.get("FREETIER_DEB_CACHE")) else None)
    result = build_image(
        args.name,
        args.arch,
        args.out,
        stack,
        third_party=not args.no_third_party,
        progress=progress("images"),
        images_dir=recipes,
        deb_cache=cache,
        lynis=False if args.no_lynis else None,
    )
    print(f"{image_stem(args.name, args.arch)}: {result.audit.summary()}")
    print(f"wrote {result.qcow2}")
    print(f"wrote {result.manifest}")
    return 0


def cmd_images_gate(args: argparse.Namespace) -> int:
    from freetier.errors import ConfigError
    from freetier.images.gate import find_images, gate, render_gate_json, render_gate_text
    from freetier.stack import load_stack

    stack = load_stack(args.stack)
    if not args.dir.is_dir():
        raise ConfigError([f"--dir {args.dir}: no such folder"])
    images = find_images(args.dir)
    if not images:
        raise ConfigError([f"--dir {args.dir}: no images (*.qcow2, *.oci) to gate"])
    usage = 0.0
    if args.live:
        from freetier.images.objectstore import bucket_usage_gb
        from freetier.oci_clients import load_oci_config

        config = load_oci_config(os.environ, Path.home())
        usage = bucket_usage_gb(stack, config, env=os.environ)
    result = gate(images, stack.images.gates, usage)
    sys.stdout.write(
        render_gate_json(result) if args.format == "json" else render_gate_text(result)
    )
    return result.exit_code


def cmd_images_needed(args: argparse.Namespace) -> int:
    from freetier.images.needed import needed_images, needed_json
    from freetier.stack import load_stack

    images = needed_images(load_stack(args.stack), str(args.stack))
    if args.format == "json":
        print(json.dumps(needed_json(images), indent=2))
        return 0
    for image in images:
        how = "fetched from the Talos Image Factory" if image.source == "talos" else "built"
        print(f"{image.arch}: {image.name} ({how}) for {', '.join(image.used_by)}")
    return 0


def cmd_images_boot_test(args: argparse.Namespace) -> int:
    from freetier.errors import ConfigError
    from freetier.images.audit import render_audit
    from freetier.images.boot import boot_test
    from freetier.images.build import image_stem
    from freetier.images.recipe import arch_info
    from freetier.stack import load_stack

    info = arch_info(args.arch)
    stack = load_stack(args.stack)
    image = args.dir / f"{image_stem(args.name, info.name)}.qcow2"
    if not image.is_file():
        raise ConfigError(
            [
                f"{image}: no such image (build it: freetier images build {args.name} "
                f"--arch {info.name} --out {args.dir})"
            ]
        )
    deadline = args.timeout * 60 if args.timeout is not None else None
    report = boot_test(
        image,
        info.name,
        admin_cidrs=stack.network.admin_cidrs,
        progress=progress("images"),
        deadline_s=deadline,
        accel=args.accel,
    )
    sys.stdout.write(render_audit(report))
    return 0 if not report.failed else 1
