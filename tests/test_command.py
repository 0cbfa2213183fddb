from __future__ import annotations

import base64
import sys

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


# A registered secret of the child's environment, printed raw, JSON-escaped and in base64.
CANARY = 'Cm1"Cm2\\Cm3\tCm4\x01Cm5\u00e9'
PRINT_ALL = (
    sys.executable,
    "-c",
    "import base64, json, os, sys; v = os.environ['TF_VAR_canary']; print(v); "
    "print(base64.b64encode(v.encode()).decode()); print(json.dumps(v), file=sys.stderr); "
    "sys.exit(3)",
)


def test_registered_secrets_of_the_environment_are_masked_in_every_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TF_VAR_canary", CANARY)
    with pytest.raises(ToolError) as info:
        run(Command(PRINT_ALL))
    message = str(info.value)
    assert ("Cm" in message, message.count(MASK)) == (False, 1)
    done = run(Command(PRINT_ALL, ok_codes=frozenset({3})))
    assert ("Cm" in done.stdout + done.stderr, done.stdout.count(MASK)) == (False, 2)
    assert base64.b64encode(CANARY.encode()).decode()[:20] not in done.stdout


def test_parsed_stdout_comes_back_in_clear_with_the_masking_for_what_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_not_a_real_token")
    cmd = Command(("sh", "-c", 'printf \'{"t": "%s"}\' "$GITHUB_TOKEN"'), parse_stdout=True)
    done = run(cmd)
    assert done.stdout == '{"t": "ghs_not_a_real_token"}'
    assert done.masking.json({"t": "x ghs_not_a_real_token"}) == {"t": f"x {MASK}"}


def test_umask_makes_what_the_child_writes_owner_only(tmp_path) -> None:
    run(Command(("sh", "-c", "echo x > written"), cwd=tmp_path, umask=0o077))
    assert (tmp_path / "written").stat().st_mode & 0o777 == 0o600
