"""The fake's S3-compatible API, driven by the real terraform's s3 backend (AWS SDK for Go v2,
Signature V4) and by bare HTTP where terraform would never send the request."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from freetier.errors import ToolError
from freetier.tofu import run
from tests.conftest import ROOT
from tests.tofu.remote_state import BUCKET, STATE_KEY, RemoteState, remote_state

TFLOCK = f"{STATE_KEY}.tflock"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RemoteState]:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", "/dev/null")
    layer = tmp_path / "layer"
    layer.mkdir()
    shutil.copy(ROOT / "tofu" / "oci" / "backend.tf", layer)
    (layer / "main.tf").write_text('resource "terraform_data" "x" {\n  input = "a"\n}\n')
    with remote_state(tmp_path, monkeypatch.setenv) as running:
        yield running


def _tofu(state: RemoteState, *argv: str) -> str:
    layer = state.backend_config.parent / "layer"
    return run.Tofu.find().run(list(argv), layer).stdout


def _init(state: RemoteState) -> None:
    _tofu(state, "init", "-input=false", "-no-color", f"-backend-config={state.backend_config}")


def test_terraform_keeps_its_state_there_and_the_native_api_sees_it(state: RemoteState) -> None:
    _init(state)
    _tofu(state, "apply", "-input=false", "-no-color", "-auto-approve")
    written = state.state()
    assert written is not None and written["resources"][0]["type"] == "terraform_data"
    assert '"lineage"' in _tofu(state, "state", "pull")
    puts = [(m, p) for m, p, s in state.s3.requests if m == "PUT" and s == 200]
    assert ("PUT", f"/{BUCKET}/{TFLOCK}") in puts  # use_lockfile wrote its lock...
    assert state.fake.object_data(BUCKET, TFLOCK) is None  # ...and removed it


@pytest.mark.parametrize("conditions", ["honoured", "ignored"])
def test_use_lockfile_locks_only_where_if_none_match_is_honoured(
    state: RemoteState, conditions: str
) -> None:
    _init(state)
    state.fake.add_object(BUCKET, TFLOCK, b'{"ID": "another run", "Who": "someone@else"}')
    state.s3.ignore_conditions = conditions == "ignored"
    plan = ("plan", "-input=false", "-no-color", "-lock-timeout=0s")
    if conditions == "honoured":
        with pytest.raises(ToolError, match="Error acquiring the state lock"):
            _tofu(state, *plan)
    else:  # the other run's lock is silently overwritten, then deleted: no lock at all
        _tofu(state, *plan)
        assert state.fake.object_data(BUCKET, TFLOCK) is None


def test_a_wrong_secret_key_is_refused(state: RemoteState, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(ToolError, match="SignatureDoesNotMatch"):
        _init(state)
    assert {s for _, _, s in state.s3.requests} == {403}


def test_unsigned_requests_are_refused(state: RemoteState) -> None:
    request = urllib.request.Request(f"{state.s3.url}/{BUCKET}/{STATE_KEY}")  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310 - http to 127.0.0.1
    assert info.value.code == 403
    assert b"<Code>AccessDenied</Code>" in info.value.read()
