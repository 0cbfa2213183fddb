"""freetier's state lock, through the real oci SDK against the fake's native Object Storage API."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from freetier.errors import ConfigError, RemoteError
from freetier.tofu import lock
from freetier.tofu.lock import (
    FoundLock,
    Holder,
    LockHeld,
    LockSite,
    decode_holder,
    encode_holder,
    lock_site,
    runner,
    state_lock,
    take,
)
from tests.tofu.remote_state import BUCKET, LOCK, RemoteState, remote_state

GITHUB_RUN = {
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "octo/infra",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_SHA": "a" * 40,
}


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RemoteState]:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with remote_state(tmp_path, monkeypatch.setenv) as running:
        yield running


def _locked(
    state: RemoteState, lines: list[str], env: dict[str, str] | None = None
) -> AbstractContextManager[None]:
    return state_lock(
        "oci",
        backend=True,
        backend_config=state.backend_config,
        command="plan",
        cwd=state.backend_config.parent,
        env=None if env is None else {**state.tenancy.env, **env},
        progress=lines.append,
    )


def test_the_lock_names_its_holder_while_held_and_is_gone_after(state: RemoteState) -> None:
    lines: list[str] = []
    with _locked(state, lines, GITHUB_RUN):
        held = state.lock()
        assert held is not None
        assert held["who"] == "https://github.com/octo/infra/actions/runs/4242"
        assert (held["commit"], held["command"], held["layer"]) == ("a" * 40, "plan", "oci")
        since = datetime.fromisoformat(held["since"])
        assert abs(datetime.now(UTC) - since) < timedelta(minutes=1)
    assert state.lock() is None
    assert lines == [f"state lock taken: {BUCKET}/{LOCK}", "state lock released"]
    puts = [
        r for r in state.fake.seen(f"/n/{state.fake.namespace}/b/{BUCKET}/o/") if r.method == "PUT"
    ]
    assert len(puts) == 1


def test_a_held_lock_is_reported_with_holder_and_age_and_left_alone(state: RemoteState) -> None:
    since = (datetime.now(UTC) - timedelta(hours=3, minutes=5)).isoformat(timespec="seconds")
    state.hold_lock("https://github.com/octo/infra/actions/runs/7", since)
    before = state.fake.objects[(BUCKET, LOCK)].etag
    ran = []
    with pytest.raises(LockHeld) as info, _locked(state, []):
        ran.append("the block")
    message = str(info.value)
    assert message.splitlines() == [message]
    assert message.startswith(
        "oci: the state is locked by https://github.com/octo/infra/actions/runs/7"
        " (deploy oci at c0ffeec0ffee) for 3h05m; nothing was done."
    )
    assert f"freetier state unlock --layer oci --backend-config {state.backend_config}" in message
    assert info.value.exit_code == 1 and ran == []
    assert state.fake.objects[(BUCKET, LOCK)].etag == before


def test_a_lock_freetier_did_not_write_is_still_a_lock(state: RemoteState) -> None:
    state.fake.add_object(BUCKET, LOCK, b"not json")
    with pytest.raises(LockHeld) as info, _locked(state, []):
        pass
    assert f"locked by {BUCKET}/{LOCK}, not freetier's" in str(info.value)


@pytest.mark.parametrize("error", [RuntimeError("tofu failed"), KeyboardInterrupt()])
def test_the_lock_is_released_on_error_and_ctrl_c(state: RemoteState, error: BaseException) -> None:
    lines: list[str] = []
    with pytest.raises(type(error)), _locked(state, lines):
        assert state.lock() is not None
        raise error
    assert state.lock() is None
    assert lines[-1] == "state lock released"


def test_ctrl_c_while_taking_the_lock_leaves_none_behind(
    state: RemoteState, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_take = lock.take

    def interrupted(site: LockSite, holder: Holder) -> FoundLock:
        real_take(site, holder)  # the object is written; Ctrl-C comes before the answer is used
        raise KeyboardInterrupt

    monkeypatch.setattr(lock, "take", interrupted)
    ran = []
    with pytest.raises(KeyboardInterrupt), _locked(state, []):
        ran.append("the block")
    assert ran == [] and state.lock() is None


def test_a_lock_replaced_meanwhile_is_not_removed(state: RemoteState) -> None:
    lines: list[str] = []
    with _locked(state, lines):
        # Someone ran `state unlock` on this run's lock and another run took a new one.
        state.fake.objects.pop((BUCKET, LOCK))
        state.hold_lock("the next run")
    assert (state.lock() or {}).get("who") == "the next run"
    assert lines[-1] == "state lock was replaced by another run's; left in place"


def _forbid_deletes(state: RemoteState) -> None:
    """A policy that lets the key write objects but not delete them."""
    state.fake.inject(f"/n/{state.fake.namespace}/b/{BUCKET}/o/", 403, "NotAuthorized",
                      method="DELETE", times=None)  # fmt: skip


def test_a_release_that_fails_after_success_is_an_error(state: RemoteState) -> None:
    _forbid_deletes(state)
    with pytest.raises(RemoteError) as info, _locked(state, []):
        pass
    assert f"state lock {BUCKET}/{LOCK} not released (OCI" in str(info.value)
    assert "see `freetier state unlock`" in str(info.value)


def test_after_a_failure_the_failure_is_reported_not_the_release(state: RemoteState) -> None:
    _forbid_deletes(state)
    lines: list[str] = []
    with pytest.raises(RuntimeError, match="tofu failed"), _locked(state, lines):
        raise RuntimeError("tofu failed")
    assert lines[-1].startswith(f"state lock {BUCKET}/{LOCK} not released (OCI")


def test_our_own_write_retried_by_the_sdk_is_ours(state: RemoteState) -> None:
    holder = Holder("me", "", "plan", "oci", "2026-01-01T00:00:00+00:00", "ours")
    state.fake.add_object(BUCKET, LOCK, encode_holder(holder))
    site = lock_site(state.backend_config, env=state.tenancy.env)
    assert take(site, holder).holder == holder
    other = Holder("me", "", "plan", "oci", "2026-01-01T00:00:00+00:00", "a second run")
    assert take(site, other).holder == holder


def test_local_state_takes_no_lock_and_calls_no_oci(state: RemoteState, tmp_path: Path) -> None:
    with state_lock("oci", backend=False, backend_config=None, command="plan", cwd=tmp_path):
        pass
    assert state.fake.seen() == []


def test_remote_state_without_its_settings_file_is_bad_input(tmp_path: Path) -> None:
    with (
        pytest.raises(ConfigError) as info,
        state_lock("oci", backend=True, backend_config=None, command="plan", cwd=tmp_path),
    ):
        pass
    assert str(info.value) == (
        "--backend-config: needed to lock the remote state of oci (or --no-backend)"
    )


def test_runner_is_the_actions_run_else_user_at_host() -> None:
    assert runner(GITHUB_RUN) == "https://github.com/octo/infra/actions/runs/4242"
    assert runner({}).endswith(f"(pid {os.getpid()})") and "@" in runner({})
    assert runner({"GITHUB_RUN_ID": "1"}) == runner({})  # only a whole run URL counts


def test_holder_round_trip_and_junk() -> None:
    holder = Holder("w", "c", "apply", "oci", "2026-01-01T00:00:00+00:00", "i")
    assert decode_holder(encode_holder(holder)) == holder
    for junk in (b"", b"[]", b"{}", json.dumps({"who": "w"}).encode(), b"\xff"):
        assert decode_holder(junk) is None
    now = datetime(2026, 1, 3, 0, 0, 30, tzinfo=UTC)
    assert holder.describe(now) == "w (apply oci at c) for 2d00h"
    assert Holder("w", "", "plan", "oci", "yesterday", "i").age(now) == "an unknown time"
