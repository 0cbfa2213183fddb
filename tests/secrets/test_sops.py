"""The sops commands freetier builds: values on stdin only, never in argv or env."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from freetier.errors import ToolError
from freetier.secrets.sops import (
    encrypt_command,
    locate_sops,
    set_command,
    sops_index,
    unset_command,
)

CANARY = "canary-Zq8x-secret-value"


def test_encrypt_command_takes_plaintext_on_stdin(tmp_path: Path) -> None:
    plaintext = f"stringData:\n  k: {CANARY}\n".encode()
    cmd = encrypt_command(
        "sops", tmp_path, "apps/x/s.sops.yaml", plaintext, tmp_path / "out", (CANARY,)
    )
    assert CANARY not in " ".join(cmd.argv)
    assert all(CANARY not in v for v in cmd.env.values())
    assert cmd.stdin == plaintext and cmd.secrets == (CANARY,)
    assert cmd.argv[1:3] == ("--config", str(tmp_path / ".sops.yaml"))
    assert "--filename-override" in cmd.argv and "apps/x/s.sops.yaml" in cmd.argv
    assert cmd.cwd == tmp_path


def test_set_command_sends_the_json_value_on_stdin(tmp_path: Path) -> None:
    cmd = set_command("sops", tmp_path / "f", sops_index("stringData", "k"), CANARY, tmp_path)
    assert CANARY not in " ".join(cmd.argv)
    assert all(CANARY not in v for v in cmd.env.values())
    assert cmd.stdin is not None and json.loads(cmd.stdin) == CANARY
    assert "--value-stdin" in cmd.argv and cmd.secrets == (CANARY,)
    assert cmd.env == {"SOPS_AGE_KEY_FILE": str(tmp_path)}


def test_index_quotes_keys() -> None:
    assert sops_index("metadata", "annotations", "a/b.c") == '["metadata"]["annotations"]["a/b.c"]'
    assert unset_command("sops", Path("f"), '["x"]', Path("k")).argv[-1] == '["x"]'


def test_sops_is_found_on_path_or_next_to_python(tmp_path: Path) -> None:
    beside = tmp_path / "sops"
    beside.write_text("#!/bin/sh\n")
    beside.chmod(0o755)
    assert locate_sops("/nonexistent", tmp_path) == str(beside)
    assert locate_sops(str(tmp_path), tmp_path / "elsewhere") == str(beside)


def test_missing_sops_is_a_missing_tool(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as info:
        locate_sops(str(tmp_path), tmp_path)
    assert info.value.missing and info.value.exit_code == 2
    assert len(str(info.value).splitlines()) == 1
