"""`freetier guard`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from freetier.cli.common import SubParsers, add_format, add_stack

# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "guard": "prove the stack and its plans stay within Always Free ($0)",
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    guard = sub.add_parser(
        "guard",
        help=COMMANDS["guard"],
        description="Classify every resource the stack, its tofu plans and (with --live) the "
        "tenancy hold: free within a limit, always free, may be billed, or paid. Limits are per "
        "tenancy, so everything is counted together. Exit 0 free, 1 blocking or may be billed, "
        "2 bad input.",
    )
    add_stack(guard)
    guard.add_argument(
        "--plan",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="a layer's `tofu show -json` output (repeatable); an `oci` plan replaces what the "
        "guard derives from the stack",
    )
    guard.add_argument(
        "--live",
        action="store_true",
        help="also count the tenancy's existing resources (OCI credentials required)",
    )
    guard.add_argument("--profile", help="limit profile (default: the stack's free_tier.profile)")
    add_format(guard, ("text", "json", "markdown"))
    guard.set_defaults(handler=cmd_guard)


def cmd_guard(args: argparse.Namespace) -> int:
    from freetier.errors import ConfigError
    from freetier.guard.profile import profile_names
    from freetier.guard.render import render_guard_json, render_guard_markdown, render_guard_text
    from freetier.guard.run import parse_plan_spec, run_guard
    from freetier.stack import load_stack

    if args.profile is not None and args.profile not in profile_names():
        known = ", ".join(profile_names())
        raise ConfigError([f"--profile {args.profile}: unknown free-tier profile (known: {known})"])
    stack = load_stack(args.stack)
    plans = [parse_plan_spec(spec) for spec in args.plan]
    live = []
    if args.live:
        from freetier.tenancy import read_tenancy

        live = read_tenancy(stack, os.environ, Path.home())
    from freetier.flux.render import tree_load_balancers

    # The load balancers the Flux tree beside stack.yaml asks for (the ingress Gateway's, and
    # any LoadBalancer Service in it) replace the one derived from the stack.
    cluster = tree_load_balancers(Path(args.stack).parent)
    result = run_guard(stack, plans, live=live, cluster=cluster, profile_name=args.profile)
    render = {
        "text": render_guard_text,
        "json": render_guard_json,
        "markdown": render_guard_markdown,
    }[args.format]
    sys.stdout.write(render(result))
    return result.exit_code
