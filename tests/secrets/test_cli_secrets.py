"""`freetier secrets init|set` end to end: the value never leaks, bad input is one line, exit 2."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from freetier.secrets.model import IDENTITY_FILE
from tests.secrets.harness import new_repo, run_cli, sops_binary

CANARY = "canary-cli-9b1d-never-printed"
OAUTH = "infrastructure/controllers/tailscale-operator/operator-oauth.sops.yaml"
GRAFANA = "apps/freetier/grafana-cloud.sops.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = new_repo(tmp_path / "repo")
    assert run_cli(["secrets", "init", "--stack", str(root / "stack.yaml")]) == 0
    return root


def _decrypt(root: Path, relpath: str) -> dict[str, object]:
    proc = subprocess.run(
        [sops_binary(), "decrypt", relpath],
        cwd=root,
        env={**os.environ, "SOPS_AGE_KEY_FILE": str(root / IDENTITY_FILE)},
        capture_output=True,
        text=True,
        check=True,
    )
    data = yaml.safe_load(proc.stdout)
    assert isinstance(data, dict)
    return data


def test_set_from_env_never_prints_the_value(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()
    monkeypatch.setenv("TS_SECRET", CANARY)
    argv = ["secrets", "set", "operator-oauth", "client_secret", "--from-env", "TS_SECRET"]
    assert run_cli([*argv, "--stack", str(repo / "stack.yaml")]) == 0
    out = capfd.readouterr()
    assert CANARY not in out.out + out.err
    assert OAUTH in out.out
    assert CANARY not in (repo / OAUTH).read_text()
    data = _decrypt(repo, OAUTH)
    assert data["stringData"] == {"client_id": "REPLACE_ME", "client_secret": CANARY}


def test_set_from_stdin_with_an_explicit_path(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(f"{CANARY}\n".encode())))
    argv = ["secrets", "set", "extra", "token", "--from-stdin", "--namespace", "monitoring"]
    path = "apps/freetier/extra.sops.yaml"
    assert run_cli([*argv, "--path", path, "--stack", str(repo / "stack.yaml")]) == 0
    out = capfd.readouterr()
    assert CANARY not in out.out + out.err
    data = _decrypt(repo, path)
    assert data["stringData"] == {"token": CANARY}
    assert data["metadata"] == {"name": "extra", "namespace": "monitoring"}


def test_grafana_credentials_are_a_known_secret(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GC_TOKEN", CANARY)
    argv = ["secrets", "set", "grafana-cloud", "token", "--from-env", "GC_TOKEN"]
    assert run_cli([*argv, "--stack", str(repo / "stack.yaml")]) == 0
    string_data = _decrypt(repo, GRAFANA)["stringData"]
    assert isinstance(string_data, dict) and string_data["token"] == CANARY
    assert set(string_data) == {
        "loki_url",
        "loki_username",
        "prometheus_url",
        "prometheus_username",
        "token",
    }


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("freetier: error: ")
    return err[0]


def test_missing_sops_binary_exits_2_with_one_line(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(sys, "executable", str(empty / "python"))
    monkeypatch.setenv("V", CANARY)
    capsys.readouterr()
    argv = ["secrets", "set", "operator-oauth", "client_id", "--from-env", "V"]
    assert run_cli([*argv, "--stack", str(repo / "stack.yaml")]) == 2
    line = _one_error_line(capsys)
    assert "sops" in line and CANARY not in line


def test_missing_age_key_exits_2_with_one_line(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / IDENTITY_FILE).unlink()
    monkeypatch.setenv("V", CANARY)
    capsys.readouterr()
    argv = ["secrets", "set", "operator-oauth", "client_id", "--from-env", "V"]
    assert run_cli([*argv, "--stack", str(repo / "stack.yaml")]) == 2
    line = _one_error_line(capsys)
    assert "age.agekey" in line and "secrets init" in line


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["operator-oauth", "client_id", "--from-env", "UNSET_FREETIER_VAR"], "not set"),
        (["nope", "k", "--from-env", "V"], "give --path"),
        (["x", "k", "--from-env", "V", "--path", "secrets/x.yaml"], "creation rule"),
        (["Bad_Name", "k", "--from-env", "V"], "NAME"),
        (["operator-oauth", "k/y", "--from-env", "V"], "KEY"),
        (["x", "k", "--from-env", "V", "--path", "apps/../../../x.sops.yaml"], "outside the"),
        (["x", "k", "--from-env", "V", "--path", "apps/../../.."], "outside the repository"),
        (["x", "k", "--from-env", "V", "--path", "apps/link/x.sops.yaml"], "outside the"),
    ],
    ids=[
        "unset-env",
        "unknown-name",
        "path-outside-rule",
        "bad-name",
        "bad-key",
        "dot-dot-out",
        "dot-dot-folder",
        "link-out",
    ],
)
def test_bad_input_exits_2_with_one_line(
    repo: Path,
    argv: list[str],
    expect: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("UNSET_FREETIER_VAR", raising=False)
    monkeypatch.setenv("V", CANARY)
    outside = repo.parent / "outside"
    outside.mkdir(exist_ok=True)
    (repo / "apps").mkdir(exist_ok=True)
    (repo / "apps" / "link").symlink_to(outside)
    before = sorted(p.relative_to(repo.parent) for p in repo.parent.rglob("*"))
    capsys.readouterr()
    assert run_cli(["secrets", "set", *argv, "--stack", str(repo / "stack.yaml")]) == 2
    line = _one_error_line(capsys)
    assert expect in line and CANARY not in line
    assert sorted(p.relative_to(repo.parent) for p in repo.parent.rglob("*")) == before
