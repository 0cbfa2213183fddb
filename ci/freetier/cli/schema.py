"""`freetier schema`."""

from __future__ import annotations

import argparse
import sys

from freetier.cli.common import SubParsers

# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "schema": "print the JSON Schema of stack.yaml",
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    schema = sub.add_parser(
        "schema",
        help=COMMANDS["schema"],
        description="Print the JSON Schema of stack.yaml (committed as stack.schema.json).",
    )
    schema.set_defaults(handler=cmd_schema)


def cmd_schema(args: argparse.Namespace) -> int:
    from freetier.stack import stack_schema_text

    sys.stdout.write(stack_schema_text())
    return 0
