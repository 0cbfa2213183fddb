"""The state lock through the CLI: `plan`, `apply` and `deploy` of the stand-in layer with its
state in the fake OCI's bucket (terraform's real s3 backend on the S3-compatible API, freetier's
lock on the native API through the real oci SDK), and two real `freetier` processes at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from freetier.cli import main
from tests.fakes.github_server import FakeGitHub
from tests.test_cli_plans import REPO, github
from tests.tofu.remote_state import (
    LOCK,
    SECRET_KEY,
    STATE_KEY,
    RemoteState,
    add_backend_block,
    remote_state,
    stand_in_repo,
)

__all__ = ["github"]  # the fixture, shared with the review loop's tests

HOLDER = "https://github.com/octo/infra/actions/runs/7"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RemoteState]:
    repo = stand_in_repo(tmp_path, monkeypatch)
    add_backend_block(repo)
    with remote_state(repo, monkeypatch.setenv) as running:
        yield running


def _backend(state: RemoteState) -> list[str]:
    return ["--backend-config", str(state.backend_config)]


def _freetier(*argv: str) -> subprocess.Popen[str]:
    """The real CLI in its own process (and process group, as a terminal would run it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "freetier", *argv],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _fit_stack_to_the_fake(state: RemoteState) -> None:
    stack = state.backend_config.parent / "stack.yaml"
    text = stack.read_text().replace("uk-london-1", state.fake.region)
    stack.write_text(
        text.replace("ocid1.tenancy.oc1..aaaaaaaareplacewithyourtenancyocid", state.fake.tenancy)
    )


def _minutes_ago(minutes: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat(timespec="seconds")


@pytest.mark.parametrize("s3_conditions", ["honoured", "ignored"])
def test_two_plans_at_once_one_proceeds_the_other_names_it(
    state: RemoteState, s3_conditions: str
) -> None:
    """Also where the S3-compatible API ignores If-None-Match, so that terraform's own
    `use_lockfile` locks nothing (lxc/incus#3651): the native API's lock still holds."""
    state.s3.ignore_conditions = s3_conditions == "ignored"
    state.s3.latency_s = 0.25  # the state is remote: a plan holds the lock for seconds
    runs = {
        name: _freetier("plan", "--layer", "oci", *_backend(state), "--out", f"out/{name}")
        for name in ("a", "b")
    }
    done = {name: (run, *run.communicate(timeout=600)) for name, run in runs.items()}
    assert sorted(run.returncode for run, _, _ in done.values()) == [0, 1]
    [(won, (winner, _, won_err))] = [(n, d) for n, d in done.items() if d[0].returncode == 0]
    [(lost, (_, lost_out, lost_err))] = [(n, d) for n, d in done.items() if d[0].returncode == 1]
    line = lost_err.splitlines()[0] if lost_err else ""
    assert lost_err == f"{line}\n", lost_err  # one line
    assert line.startswith("freetier: error: oci: the state is locked by ")
    assert f"(pid {winner.pid}) (plan oci at " in line
    assert "; nothing was done. If that run is over: freetier state unlock --layer oci" in line
    assert lost_out == "" and not (state.backend_config.parent / "out" / lost).exists()
    assert (state.backend_config.parent / "out" / won / "oci" / "plan.json").is_file()
    assert f"oci: state lock taken: freetier-tfstate/{LOCK}" in won_err
    assert "oci: state lock released" in won_err
    assert state.lock() is None
    assert state.fake.object_data("freetier-tfstate", f"{STATE_KEY}.tflock") is None


@pytest.mark.parametrize(
    "argv",
    [["plan", "--layer", "oci"], ["apply", "--layer", "oci"], ["pr"]],
    ids=["plan", "apply", "pr"],
)
def test_a_locked_layer_is_not_touched_and_the_holder_is_named(
    state: RemoteState, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    if argv == ["pr"]:  # plans need an OCI config that fits the stack
        _fit_stack_to_the_fake(state)
    state.hold_lock(HOLDER, since=_minutes_ago(20))
    code = main([*argv, *_backend(state)])
    captured = capsys.readouterr()
    assert code == 1
    expected = f"the state is locked by {HOLDER} (deploy oci at c0ffeec0ffee) for 20m"
    if argv == ["pr"]:  # a failed step of the report, the report still written
        assert expected in captured.out
    else:
        [line] = captured.err.splitlines()
        assert line.startswith(f"freetier: error: oci: {expected}")
    assert state.s3.requests == []  # terraform never reached the state
    assert not (state.backend_config.parent / "tofu" / "oci" / ".terraform").exists()
    assert state.lock() is not None and state.lock()["who"] == HOLDER  # type: ignore[index]
    assert SECRET_KEY not in captured.out + captured.err


def test_review_loop_on_remote_state_locks_each_step_and_deploys(
    state: RemoteState, github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    pull = github.add_pull(REPO, 7)
    assert main(["plan", "--layer", "oci", *_backend(state)]) == 0
    post = ["comment", "post", "--repo", REPO, "--pr", "7", "--sha", pull.head_sha]
    assert main([*post, "--plan", "oci=out/plans/oci"]) == 0
    github.add_commit(REPO, "a1" * 20, (7,))
    pull.merged_at = github.now()
    capsys.readouterr()
    assert main(["deploy", "--repo", REPO, "--sha", "a1" * 20, *_backend(state)]) == 0
    captured = capsys.readouterr()
    assert "deployed 1 layer(s): oci (identical re-plan)" in captured.out
    assert f"oci: state lock taken: freetier-tfstate/{LOCK}" in captured.err
    assert "oci: state lock released" in captured.err
    written = state.state()
    assert written is not None and len(written["resources"]) == 1  # terraform_data.instance
    assert state.lock() is None
    assert SECRET_KEY not in captured.out + captured.err


def test_deploy_of_a_locked_layer_applies_nothing(
    state: RemoteState, github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    pull = github.add_pull(REPO, 8)
    assert main(["plan", "--layer", "oci", *_backend(state)]) == 0
    post = ["comment", "post", "--repo", REPO, "--pr", "8", "--sha", pull.head_sha]
    assert main([*post, "--plan", "oci=out/plans/oci"]) == 0
    github.add_commit(REPO, "b2" * 20, (8,))
    pull.merged_at = github.now()
    state.hold_lock(HOLDER, since=_minutes_ago(3))
    requests = len(state.s3.requests)
    capsys.readouterr()
    assert main(["deploy", "--repo", REPO, "--sha", "b2" * 20, *_backend(state)]) == 1
    err = capsys.readouterr().err
    assert f"freetier: error: oci: the state is locked by {HOLDER} (deploy oci at " in err
    assert state.s3.requests[requests:] == [] and state.state() is None


def test_ctrl_c_releases_the_lock(state: RemoteState) -> None:
    run = _freetier("plan", "--layer", "oci", *_backend(state))
    assert run.stderr is not None
    first = run.stderr.readline()  # the lock is held once this line is out
    assert first.startswith("oci: state lock taken"), first
    os.killpg(run.pid, signal.SIGINT)  # as Ctrl-C in a terminal: freetier and terraform
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130
    assert "freetier: interrupted" in err
    assert "oci: state lock released" in err
    deadline = time.monotonic() + 5
    while state.lock() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state.lock() is None


def test_remote_state_without_its_settings_is_bad_input(
    state: RemoteState, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "--layer", "oci"]) == 2
    assert capsys.readouterr().err == (
        "freetier: error: --backend-config: needed to lock the remote state of oci"
        " (or --no-backend)\n"
    )
    assert state.fake.seen() == [] and state.s3.requests == []
