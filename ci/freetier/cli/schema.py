"""`freetier schema`."""

from __future__ import annotations

import argparse
import sys

from freetier.cli.common import SubParsers


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    schema = sub.add_parser(
        "schema",
        help="print the JSON Schema of stack.yaml",
        description="Print the JSON Schema of stack.yaml (committed as stack.schema.json).",
    )
    schema.set_defaults(handler=cmd_schema)


def cmd_schema(args: argparse.Namespace) -> int:
    from freetier.stack import stack_schema_text

    sys.stdout.write(stack_schema_text())
    return 0
