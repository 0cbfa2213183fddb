"""One wrapper for every subprocess: argv lists only, typed errors, secrets masked.

What a child prints is masked before anyone sees it: the secrets the command names, and
every registered secret of the environment the child gets (`freetier.masking`), in every
form they are printed in. Machine output the caller parses (`parse_stdout`) comes back in
clear, since masking could break its syntax: the caller masks what it parsed out of it with
`Completed.masking` before anything is printed."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from freetier.errors import ToolError
from freetier.masking import MASK, Masking, env_secrets

__all__ = ["MASK", "STDERR_TAIL_LINES", "Command", "Completed", "mask", "run"]
STDERR_TAIL_LINES = 20


@dataclass(frozen=True)
class Command:
    """What to run. Secrets go through `env`, never `argv`; their values are masked."""

    argv: tuple[str, ...]
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    stdin: bytes | None = None
    timeout: float = 300.0
    ok_codes: frozenset[int] = frozenset({0})
    secrets: tuple[str, ...] = field(default=(), repr=False)
    parse_stdout: bool = False  # stdout is machine output: in clear, for the caller to parse
    umask: int | None = None  # e.g. 0o077: what the child writes is its owner's only


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    masking: Masking = field(default=Masking(), repr=False, compare=False)


def mask(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret value, in every printed form, replaced (longest first)."""
    return Masking.of(secrets).text(text)


def run(cmd: Command, *, path: str | None = None) -> Completed:
    """Run `cmd`; raise ToolError quoting argv, exit code and stderr's tail on failure.

    `path` overrides PATH for the lookup and the child (tests point it at a folder).
    """
    env = {**os.environ, **cmd.env}
    if path is not None:
        env["PATH"] = path
    exe = shutil.which(cmd.argv[0], path=env.get("PATH"))
    if exe is None:
        raise ToolError(f"{cmd.argv[0]}: not found on PATH", missing=True)
    masking = Masking.of((*cmd.secrets, *env_secrets(env)))
    shown = masking.text(" ".join(cmd.argv))
    try:
        proc = subprocess.run(
            [exe, *cmd.argv[1:]],
            cwd=cmd.cwd,
            env=env,
            input=cmd.stdin,
            capture_output=True,
            timeout=cmd.timeout,
            check=False,
            umask=-1 if cmd.umask is None else cmd.umask,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{shown}: timed out after {exc.timeout:g}s") from None
    except OSError as exc:
        raise ToolError(f"{shown}: cannot run: {exc.strerror}") from None
    stdout = proc.stdout.decode("utf-8", "replace")
    done = Completed(
        argv=cmd.argv,
        returncode=proc.returncode,
        stdout=stdout if cmd.parse_stdout else masking.text(stdout),
        stderr=masking.text(proc.stderr.decode("utf-8", "replace")),
        masking=masking,
    )
    if done.returncode not in cmd.ok_codes:
        tail = "\n".join(done.stderr.strip().splitlines()[-STDERR_TAIL_LINES:])
        raise ToolError(f"{shown}: exit code {done.returncode}" + (f"\n{tail}" if tail else ""))
    return done
