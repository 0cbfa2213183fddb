"""`freetier state unlock`: show a layer's state lock, and remove it when its run is gone."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from freetier.cli.common import SubParsers, add_format, print_json
from freetier.layers import LAYERS

if TYPE_CHECKING:
    from datetime import datetime

    from freetier.tofu.lock import FoundLock

# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "state": "the layers' remote state: show and remove a stale lock",
}

# What `unlock` did -> (text line, exit code).
OUTCOMES = {
    "none": ("no lock", 0),
    "deleted": ("removed", 0),
    "gone": ("already gone: nothing to remove", 0),
    "dry-run": ("not removed (--dry-run)", 0),
    "declined": ("not removed", 1),
    "changed": ("not removed: another run took the lock meanwhile", 1),
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    state = sub.add_parser(
        "state",
        help=COMMANDS["state"],
        description="freetier locks a layer's remote state while plan, apply and deploy use it "
        "(an object beside the state, <key>.freetier.lock, in its bucket).",
    )
    state_sub = state.add_subparsers(title="commands", metavar="COMMAND")
    unlock = state_sub.add_parser(
        "unlock",
        help="show a layer's state lock and remove it",
        description="Show who holds the layer's state lock (run, commit, command, age), then "
        "remove it after confirmation, or with --yes; --dry-run only shows it. Only for a lock "
        "whose run is over: a job killed outright leaves its lock behind. Exit 0 when the lock "
        "is gone (or --dry-run), 1 when it stays, 2 for bad input.",
    )
    unlock.add_argument("--layer", choices=LAYERS, required=True)
    unlock.add_argument(
        "--backend-config",
        type=Path,
        metavar="FILE",
        required=True,
        help="settings of the S3-compatible state backend (see tofu/oci/README.md)",
    )
    unlock.add_argument("--yes", action="store_true", help="remove the lock without asking")
    unlock.add_argument("--dry-run", action="store_true", help="show the lock, remove nothing")
    add_format(unlock)
    unlock.set_defaults(handler=cmd_state_unlock)


def cmd_state_unlock(args: argparse.Namespace) -> int:
    from freetier.tofu.lock import lock_site, read_lock, release

    site = lock_site(args.backend_config, args.layer)
    found = read_lock(site)
    from dataclasses import asdict
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    if args.format == "text":
        print(f"{args.layer}: {_shown(found, now) if found else f'no state lock at {site}'}")
    if found is None:
        outcome = "none"
    elif args.dry_run:
        outcome = "dry-run"
    elif args.yes or _confirmed():
        outcome = release(found)
    else:
        outcome = "declined"
    line, code = OUTCOMES[outcome]
    if args.format == "json":
        print_json(
            {
                "layer": args.layer,
                "lock": str(site),
                "holder": asdict(found.holder) if found and found.holder else None,
                "age": found.holder.age(now) if found and found.holder else None,
                "outcome": outcome,
            }
        )
    elif found is not None:
        print(f"{args.layer}: {line}")
    return code


def _shown(found: FoundLock, now: datetime) -> str:
    if found.holder is None:
        return f"state lock {found.site}, not written by freetier"
    return f"state lock {found.site}, held by {found.holder.describe(now)}"


def _confirmed() -> bool:
    from freetier.errors import ConfigError

    if not sys.stdin.isatty():
        raise ConfigError(["--yes: needed to remove the lock when there is no terminal to ask on"])
    print("Remove it? Only if that run is over. [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")
