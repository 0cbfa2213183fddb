"""The age identity and .sops.yaml: `secrets init`, with real pyrage and the real sops."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from freetier.secrets.age import ensure_identity, is_recipient, read_recipient
from freetier.secrets.model import IDENTITY_FILE
from freetier.secrets.sops_config import (
    ENCRYPTED_REGEX,
    PATH_REGEX,
    SOPS_CONFIG,
    read_config_recipients,
    sops_config_text,
)
from tests.secrets.harness import new_repo, run_cli


def test_init_creates_a_0600_identity_and_sops_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = new_repo(tmp_path)
    assert run_cli(["secrets", "init", "--stack", str(root / "stack.yaml")]) == 0
    out = capsys.readouterr()
    key = root / IDENTITY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    text = key.read_text()
    assert text.count("AGE-SECRET-KEY-1") == 1
    secret_line = next(line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY"))
    assert secret_line not in out.out + out.err
    assert "AGE-SECRET-KEY" not in out.out + out.err
    recipient = read_recipient(key)
    assert is_recipient(recipient) and recipient in out.out
    config = yaml.safe_load((root / SOPS_CONFIG).read_text())
    [rule] = config["creation_rules"]
    assert rule == {"path_regex": PATH_REGEX, "encrypted_regex": ENCRYPTED_REGEX, "age": recipient}


def test_rerun_keeps_the_key_and_changes_nothing(tmp_path: Path) -> None:
    root = new_repo(tmp_path)
    stack = str(root / "stack.yaml")
    assert run_cli(["secrets", "init", "--stack", stack]) == 0
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert run_cli(["secrets", "init", "--stack", stack]) == 0
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert after == before


def test_existing_identity_is_kept_and_sops_config_follows_it(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "age.agekey"
    first = ensure_identity(key)
    second = ensure_identity(key)
    assert first.created and not second.created
    assert first.recipient == second.recipient == read_recipient(key)
    assert read_config_recipients(tmp_path) == ()
    (tmp_path / SOPS_CONFIG).write_text(sops_config_text([first.recipient]))
    assert read_config_recipients(tmp_path) == (first.recipient,)


def test_unreadable_identity_never_quotes_the_file(tmp_path: Path) -> None:
    key = tmp_path / "bad.agekey"
    key.write_text("AGE-SECRET-KEY-1NOTAREALKEYATALL\n")
    with pytest.raises(Exception) as info:
        read_recipient(key)
    assert "NOTAREALKEY" not in str(info.value)
