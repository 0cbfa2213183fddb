from __future__ import annotations

import pytest

from freetier.command import MASK, Command, mask, run
from freetier.errors import ToolError


def test_run_returns_output() -> None:
    done = run(Command(("git", "--version")))
    assert done.returncode == 0 and done.stdout.startswith("git version")


def test_failure_quotes_argv_code_and_stderr_tail_with_secrets_masked() -> None:
    cmd = Command(
        ("sh", "-c", 'echo "token is $TOKEN" >&2; exit 4'),
        env={"TOKEN": "s3cr3t-value"},
        secrets=("s3cr3t-value",),
    )
    with pytest.raises(ToolError) as info:
        run(cmd)
    message = str(info.value)
    assert "exit code 4" in message
    assert f"token is {MASK}" in message
    assert "s3cr3t-value" not in message
    assert info.value.exit_code == 1


def test_missing_binary_is_a_missing_tool() -> None:
    with pytest.raises(ToolError) as info:
        run(Command(("no-such-tool-freetier",)))
    assert info.value.missing and info.value.exit_code == 2


def test_timeout() -> None:
    with pytest.raises(ToolError, match=r"timed out after 0\.2s"):
        run(Command(("sleep", "5"), timeout=0.2))


def test_mask_longest_first() -> None:
    assert mask("abc abcdef", ["abc", "abcdef"]) == f"{MASK} {MASK}"
