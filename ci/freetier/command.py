"""One wrapper for every subprocess: argv lists only, typed errors, secrets masked."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from freetier.errors import ToolError

MASK = "(sensitive)"
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
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def mask(text: str, secrets: Sequence[str]) -> str:
    """Replace every secret value (longest first, so overlaps mask fully) in `text`."""
    for value in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


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
    try:
        proc = subprocess.run(
            [exe, *cmd.argv[1:]],
            cwd=cmd.cwd,
            env=env,
            input=cmd.stdin,
            capture_output=True,
            timeout=cmd.timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{' '.join(cmd.argv)}: timed out after {exc.timeout:g}s") from None
    except OSError as exc:
        raise ToolError(f"{' '.join(cmd.argv)}: cannot run: {exc.strerror}") from None
    done = Completed(
        argv=cmd.argv,
        returncode=proc.returncode,
        stdout=mask(proc.stdout.decode("utf-8", "replace"), cmd.secrets),
        stderr=mask(proc.stderr.decode("utf-8", "replace"), cmd.secrets),
    )
    if done.returncode not in cmd.ok_codes:
        tail = "\n".join(done.stderr.strip().splitlines()[-STDERR_TAIL_LINES:])
        raise ToolError(
            f"{' '.join(cmd.argv)}: exit code {done.returncode}" + (f"\n{tail}" if tail else "")
        )
    return done
