"""What several commands share: the default stack file, the flags every stage takes the same
way, argument types and JSON output. Imports nothing heavy: `--help` must stay fast."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_STACK = Path("stack.yaml")

# argparse has no public name for the object `add_subparsers` returns.
SubParsers = argparse._SubParsersAction


def add_stack(parser: argparse.ArgumentParser, help: str = "default: stack.yaml") -> None:
    parser.add_argument("--stack", type=Path, default=DEFAULT_STACK, help=help)


def add_format(
    parser: argparse.ArgumentParser, choices: Sequence[str] = ("text", "json"), **kwargs: Any
) -> None:
    kwargs.setdefault("help", "output format")
    parser.add_argument("--format", choices=tuple(choices), default="text", **kwargs)


def add_backend(
    parser: argparse.ArgumentParser,
    config_help: str = "settings of the S3-compatible state backend (see tofu/oci/README.md)",
    no_backend_help: str = "local state only (tofu init -backend=false)",
) -> None:
    parser.add_argument("--backend-config", type=Path, metavar="FILE", help=config_help)
    parser.add_argument("--no-backend", action="store_true", help=no_backend_help)


def minutes(text: str) -> float:
    """A positive number of minutes (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of minutes: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 minutes")
    return value


def print_json(body: object) -> None:
    json.dump(body, sys.stdout, indent=2)
    sys.stdout.write("\n")


def progress(prefix: str) -> Any:
    """A progress callback: `prefix: line` on stderr, flushed at once."""

    def say(line: str) -> None:
        print(f"{prefix}: {line}", file=sys.stderr, flush=True)

    return say
