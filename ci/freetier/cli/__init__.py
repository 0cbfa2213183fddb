"""`freetier`: a thin argparse layer over the library, one module per command group.

Each module has a `register(subparsers)` that adds its commands, and handlers that import
their stage only when they run, so `freetier --help` loads no stage at all. Exit codes: 0 ok,
1 findings that block, 2 bad input or a missing tool.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from freetier import __version__
from freetier.cli import (
    bootstrap,
    comment,
    deploy,
    doctor,
    flux,
    guard,
    images,
    images_publish,
    init,
    plans,
    pr,
    proxmox,
    schema,
    secrets,
    stack,
    state,
    talos,
    tofu,
    validate,
)
from freetier.errors import FreetierError

__all__ = ["build_parser", "main"]


# Command groups in the order of `freetier --help`; `images_publish` adds to `images`.
GROUPS = (
    init,
    stack,
    schema,
    doctor,
    pr,
    guard,
    tofu,
    plans,
    comment,
    deploy,
    state,
    flux,
    secrets,
    images,
    talos,
    proxmox,
    bootstrap,
    validate,
)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(sys.argv[1:] if argv is None else list(argv))
    except KeyboardInterrupt:  # at any moment, start-up included
        print("freetier: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`freetier talos config | head`): stop quietly, like other
        # Unix tools, and keep Python's exit-time flush of stdout from raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the signal


def _run(argv: list[str]) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.handler(args)
    except FreetierError as exc:
        if args.debug:
            import traceback

            traceback.print_exc()
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"freetier: error: {line}", file=sys.stderr)
        return exc.exit_code
    return code


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole command tree; given the `argv` about to be parsed, the tree of the one
    command it runs, and every other command as its name and help line alone (all that
    `freetier --help` lists), so a run imports no more than it uses."""
    parser = argparse.ArgumentParser(
        prog="freetier",
        description="Build, plan, check and run a $0 Kubernetes platform on OCI Always Free.",
        epilog="Exit codes: 0 ok, 1 findings that block, 2 bad input or missing tool.",
    )
    parser.add_argument("--version", action="version", version=f"freetier {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.set_defaults(debug=False)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    command = None if argv is None else _command_of(argv)
    for group in GROUPS:
        if argv is not None and command not in group.COMMANDS:
            for name, line in group.COMMANDS.items():
                sub.add_parser(name, help=line)
        elif group is images:
            images_publish.register(images.register(sub))
        else:
            group.register(sub)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The command `argv` runs (its first word that is not an option), or None: then no
    command's own arguments are needed."""
    return next((word for word in argv if not word.startswith("-")), None)
