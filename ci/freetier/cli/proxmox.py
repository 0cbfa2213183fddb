"""`freetier proxmox bootstrap`: the proxmox layer over SSH."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from freetier.cli.common import SubParsers, add_backend, add_format, add_stack, minutes, print_json

# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "proxmox": "the Proxmox VE cluster with Ceph on the proxmox topology's hosts, over SSH",
}
TAILSCALE_ENV = "TS_AUTH_KEY"
# How long the bootstrap waits (minutes): its flags' defaults, and what `deploy` uses.
HEALTH_WAIT_MIN = 15.0
QUORUM_WAIT_MIN = 2.0


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    proxmox = sub.add_parser(
        "proxmox",
        help=COMMANDS["proxmox"],
        description="The proxmox topology's layer 2: Debian hosts with the Proxmox image "
        "become a Proxmox VE cluster with Ceph.",
    )
    proxmox_sub = proxmox.add_subparsers(title="commands", metavar="COMMAND")
    boot = proxmox_sub.add_parser(
        "bootstrap",
        help="form the cluster: preflight, create/join, QDevice, Ceph, Tailscale, migration",
        description="Over SSH, as each host's image user with sudo (the key in a private "
        "agent, forwarded for sudo): preflight (Debian, architecture, /dev/kvm, OSD disks, "
        "clock, packages), `pvecm create` on the first host, `pvecm add` for the others one "
        "at a time with quorum after each, a QDevice on the bastion for an even host count, "
        "Ceph (monitors, managers, OSDs on free disks only, the pool at the stack's "
        "size/min_size, its RBD storage, HEALTH_OK), a Tailscale container per host, and a "
        "migration test with VM 999. Each step reads the state first and changes only what is "
        "missing or wrong, so a rerun continues where a failure stopped. Host keys are pinned "
        "in proxmox.known_hosts beside the stack (first use records them; a changed key is "
        "refused). Exit 0 done, 1 a step failed (the report says which host and step), 2 bad "
        "input before anything changed.",
    )
    add_stack(boot)
    boot.add_argument(
        "--ssh-key", type=Path, metavar="FILE", help="private key of the image user (required)"
    )
    boot.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="NAME",
        help="only this host's per-host steps (repeatable; the first host is always read)",
    )
    boot.add_argument(
        "--dry-run",
        action="store_true",
        help="read every host and list what would change; change nothing",
    )
    boot.add_argument(
        "--tailscale-authkey-env",
        default=TAILSCALE_ENV,
        metavar="NAME",
        help=f"environment variable holding the Tailscale auth key (default {TAILSCALE_ENV})",
    )
    boot.add_argument(
        "--wait",
        type=minutes,
        default=HEALTH_WAIT_MIN,
        metavar="MINUTES",
        help=f"how long to wait for HEALTH_OK (default {HEALTH_WAIT_MIN:g})",
    )
    boot.add_argument(
        "--quorum-wait",
        type=minutes,
        default=QUORUM_WAIT_MIN,
        metavar="MINUTES",
        help=(
            "how long to wait for quorum after each join before stopping "
            f"(default {QUORUM_WAIT_MIN:g})"
        ),
    )
    add_backend(
        boot,
        config_help="backend settings, to read the oci layer's outputs (instance addresses)",
        no_backend_help="read the oci layer's local state",
    )
    add_format(boot)
    boot.set_defaults(handler=cmd_bootstrap)


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from freetier.cli.common import progress
    from freetier.proxmox.run import run_bootstrap

    result = run_bootstrap(
        args.stack,
        ssh_key=args.ssh_key,
        host_names=args.host,
        dry_run=args.dry_run,
        tailscale_key=os.environ.get(args.tailscale_authkey_env) or None,
        health_wait=args.wait * 60,
        quorum_wait=args.quorum_wait * 60,
        backend=not args.no_backend,
        backend_config=args.backend_config,
        say=progress("proxmox"),
    )
    if args.format == "json":
        print_json(result.json)
    else:
        sys.stdout.write(result.text)
    return result.exit_code
