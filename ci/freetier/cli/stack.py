"""`freetier stack validate`."""

from __future__ import annotations

import argparse
from pathlib import Path

from freetier.cli.common import DEFAULT_STACK, SubParsers, add_format, print_json

# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "stack": "work with stack.yaml",
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    stack = sub.add_parser("stack", help=COMMANDS["stack"], description="Work with stack.yaml.")
    stack_sub = stack.add_subparsers(title="commands", metavar="COMMAND")
    validate = stack_sub.add_parser(
        "validate",
        help="check stack.yaml: types, unknown keys, CIDRs, shapes, topology",
        description="Check a stack file and print what it asks OCI for, and the free-tier "
        "guard's verdict on the current Always Free allowance with the figures (exit 0 either "
        "way: `freetier guard` is the gate). Writes nothing.",
    )
    validate.add_argument(
        "file", nargs="?", type=Path, default=DEFAULT_STACK, help="default: stack.yaml"
    )
    add_format(validate)
    validate.set_defaults(handler=cmd_stack_validate)


def cmd_stack_validate(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from freetier.errors import ConfigError
    from freetier.guard.render import verdict_with_figures
    from freetier.guard.run import current_verdict
    from freetier.stack import load_stack
    from freetier.stack.derive import describe_stack, stack_totals

    try:
        stack = load_stack(args.file)
    except ConfigError as exc:
        if args.format == "json":
            print_json({"file": str(args.file), "valid": False, "errors": list(exc.problems)})
        raise
    verdict = current_verdict(stack)
    if args.format == "json":
        totals = asdict(stack_totals(stack))
        print_json(
            {
                "file": str(args.file),
                "valid": True,
                "name": stack.name,
                "topology": stack.topology,
                "totals": totals,
                "free_tier": {
                    "profile": verdict.profile.name,
                    "free": verdict.free,
                    "verdict": verdict_with_figures(verdict),
                },
            }
        )
    else:
        print(f"{args.file}: valid: {stack.name}: {describe_stack(stack)}")
        print(f"{args.file}: {verdict_with_figures(verdict)}")
    return 0
