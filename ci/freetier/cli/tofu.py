"""`freetier tofu vars`."""

from __future__ import annotations

import argparse
import sys

from freetier.cli.common import SubParsers, add_backend, add_stack
from freetier.layers import LAYERS

# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "tofu": "inputs of the tofu layers",
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    tofu = sub.add_parser("tofu", help=COMMANDS["tofu"], description="Tofu layers.")
    tofu_sub = tofu.add_subparsers(title="commands", metavar="COMMAND")
    tvars = tofu_sub.add_parser(
        "vars",
        help="write a layer's stack.auto.tfvars.json from stack.yaml",
        description="Derive a layer's variables from stack.yaml and write "
        "tofu/LAYER/stack.auto.tfvars.json (never edit it by hand). --check only compares. "
        "The talos layer's also come from the oci layer's outputs (node addresses), read from "
        "its state: give the backend settings as for `freetier plan`. The Tailscale auth key "
        "is never written: tofu reads it from TF_VAR_tailscale_authkey.",
    )
    tvars.add_argument("--layer", choices=LAYERS, required=True)
    add_stack(tvars)
    add_backend(tvars)
    tvars.add_argument(
        "--check", action="store_true", help="exit 1 if the file is missing or out of date"
    )
    tvars.set_defaults(handler=cmd_tofu_vars)


def cmd_tofu_vars(args: argparse.Namespace) -> int:
    from freetier.stack import load_stack
    from freetier.tofu.layer import vars_drift, write_vars

    stack = load_stack(args.stack)
    where = {"backend": not args.no_backend, "backend_config": args.backend_config}
    if args.check:
        target, drift = vars_drift(stack, args.stack, args.layer, **where)
        if drift is None:
            print(f"{target}: up to date")
            return 0
        print(f"{target}: {drift}; run: freetier tofu vars --layer {args.layer}", file=sys.stderr)
        return 1
    print(f"wrote {write_vars(stack, args.stack, args.layer, **where)}")
    return 0
