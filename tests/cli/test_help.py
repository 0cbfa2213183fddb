"""`freetier <command> --help` for every command, pinned as text.

The snapshots in help/ were taken before the CLI moved into its package; a change of any
command, flag, default or help line shows up here as a diff to review. Regenerate them
deliberately with `FREETIER_UPDATE_HELP=1 ./dev test tests/cli/test_help.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from pathlib import Path

import pytest

from freetier.cli import build_parser, main

SNAPSHOTS = Path(__file__).parent / "help"
WIDTH = "100"  # argparse wraps to $COLUMNS; pinned so the snapshots do not depend on a terminal


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the parser tree, the root first."""
    found = [path]
    for action in parser._actions:  # argparse has no public walk of its subcommands
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, (*path, name))
    return found


def _help(path: tuple[str, ...]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    assert exited.value.code == 0
    return out.getvalue()


def _snapshot(path: tuple[str, ...]) -> Path:
    return SNAPSHOTS / ("-".join(("freetier", *path)) + ".txt")


@pytest.fixture(autouse=True)
def _fixed_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", WIDTH)


def test_every_command_has_a_snapshot_and_no_snapshot_is_orphaned() -> None:
    commands = {_snapshot(p).name for p in _commands(build_parser())}
    on_disk = {p.name for p in SNAPSHOTS.glob("*.txt")}
    assert commands == on_disk
    assert len(commands) > 20


@pytest.mark.parametrize(
    "path", _commands(build_parser()), ids=lambda p: " ".join(("freetier", *p))
)
def test_help_is_unchanged(path: tuple[str, ...]) -> None:
    text = _help(path)
    snapshot = _snapshot(path)
    if os.environ.get("FREETIER_UPDATE_HELP"):
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_text(text, encoding="utf-8")
    assert text == snapshot.read_text(encoding="utf-8")
