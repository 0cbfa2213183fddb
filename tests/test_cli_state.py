"""`freetier state unlock`: show a stale state lock, then remove it (the real oci SDK against the
fake's native Object Storage API)."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from freetier.cli import main
from tests.tofu.remote_state import BUCKET, LOCK, SECRET_KEY, RemoteState, remote_state

HOLDER = "https://github.com/octo/infra/actions/runs/9"
SHOWN = (
    f"oci: state lock {BUCKET}/{LOCK}, held by {HOLDER} (deploy oci at c0ffeec0ffee) for 2h30m\n"
)


class Terminal(io.StringIO):
    """What a person types at the prompt."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RemoteState]:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with remote_state(tmp_path, monkeypatch.setenv) as running:
        since = datetime.now(UTC) - timedelta(hours=2, minutes=30, seconds=10)
        running.hold_lock(HOLDER, since.isoformat(timespec="seconds"))
        yield running


def _unlock(state: RemoteState, *extra: str) -> int:
    return main(["state", "unlock", "--layer", "oci", "--backend-config", str(state.backend_config),
                 *extra])  # fmt: skip


def test_yes_shows_the_lock_then_removes_it_and_again_is_a_no_op(
    state: RemoteState, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _unlock(state, "--yes") == 0
    assert capsys.readouterr().out == SHOWN + "oci: removed\n"
    assert state.lock() is None
    assert _unlock(state, "--yes") == 0
    captured = capsys.readouterr()
    assert captured.out == f"oci: no state lock at {BUCKET}/{LOCK}\n"
    assert SECRET_KEY not in captured.out + captured.err


def test_dry_run_shows_and_keeps(state: RemoteState, capsys: pytest.CaptureFixture[str]) -> None:
    assert _unlock(state, "--dry-run", "--yes") == 0
    assert capsys.readouterr().out == SHOWN + "oci: not removed (--dry-run)\n"
    assert state.lock() is not None


def test_json(state: RemoteState, capsys: pytest.CaptureFixture[str]) -> None:
    assert _unlock(state, "--yes", "--format", "json") == 0
    body = json.loads(capsys.readouterr().out)
    assert body["outcome"] == "deleted" and body["age"] == "2h30m"
    assert body["lock"] == f"{BUCKET}/{LOCK}"
    assert body["holder"]["who"] == HOLDER and body["holder"]["layer"] == "oci"
    assert _unlock(state, "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "none"


@pytest.mark.parametrize(("answer", "code", "kept"), [("y\n", 0, False), ("\n", 1, True)])
def test_a_person_confirms_at_the_prompt(
    state: RemoteState,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answer: str,
    code: int,
    kept: bool,
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    assert _unlock(state) == code
    captured = capsys.readouterr()
    assert captured.out.startswith(SHOWN)
    assert captured.err == "Remove it? Only if that run is over. [y/N] "
    assert (state.lock() is not None) is kept


def test_without_a_terminal_it_needs_yes(
    state: RemoteState, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    assert _unlock(state) == 2
    assert capsys.readouterr().err == (
        "freetier: error: --yes: needed to remove the lock when there is no terminal to ask on\n"
    )
    assert state.lock() is not None


def test_a_lock_freetier_did_not_write_is_shown_as_such(
    state: RemoteState, capsys: pytest.CaptureFixture[str]
) -> None:
    state.fake.add_object(BUCKET, LOCK, b"junk")
    assert _unlock(state, "--yes") == 0
    assert capsys.readouterr().out == (
        f"oci: state lock {BUCKET}/{LOCK}, not written by freetier\noci: removed\n"
    )


def test_a_lock_taken_anew_while_asking_is_not_removed(
    state: RemoteState, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Meanwhile(Terminal):
        def readline(self, size: int | None = -1) -> str:
            state.fake.objects.pop((BUCKET, LOCK))
            state.hold_lock("the next run")  # the old run ended; a new one locked
            return "y\n"

    monkeypatch.setattr(sys, "stdin", Meanwhile())
    assert _unlock(state) == 1
    assert capsys.readouterr().out.endswith(
        "oci: not removed: another run took the lock meanwhile\n"
    )
    assert (state.lock() or {}).get("who") == "the next run"
