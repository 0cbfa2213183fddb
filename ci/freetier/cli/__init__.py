"""`freetier`: a thin argparse layer over the library, one module per command group.

Each module has a `register(subparsers)` that adds its commands, and handlers that import
their stage only when they run, so `freetier --help` loads no stage at all. Exit codes: 0 ok,
1 findings that block, 2 bad input or a missing tool.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from freetier import __version__
from freetier.cli import (
    comment,
    deploy,
    doctor,
    flux,
    guard,
    images,
    images_publish,
    plans,
    pr,
    schema,
    secrets,
    stack,
    tofu,
)
from freetier.errors import FreetierError

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.handler(args)
    except FreetierError as exc:
        if args.debug:
            traceback.print_exc()
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"freetier: error: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("freetier: interrupted", file=sys.stderr)
        return 130
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="freetier",
        description="Build, plan, check and run a $0 Kubernetes platform on OCI Always Free.",
        epilog="Exit codes: 0 ok, 1 findings that block, 2 bad input or missing tool.",
    )
    parser.add_argument("--version", action="version", version=f"freetier {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.set_defaults(debug=False)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    # The order of `freetier --help`.
    for group in (stack, schema, doctor, pr, guard, tofu, plans, comment, deploy, flux, secrets):
        group.register(sub)
    images_publish.register(images.register(sub))
    return parser
