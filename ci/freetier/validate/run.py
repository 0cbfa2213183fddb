"""`freetier validate`: run the chosen checks, each on its own, and add them up."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from freetier.errors import ConfigError, RemoteError
from freetier.stack import load_stack
from freetier.validate.checks import CHECKS, Context, Skip
from freetier.validate.model import CheckResult, Report, failed, require, skipped


def check_names(names: Sequence[str], flag: str) -> None:
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ConfigError([f"{flag} {unknown[0]}: unknown check (known: {', '.join(CHECKS)})"])


def run_validate(
    stack_file: Path,
    checks: Sequence[str],
    required: Sequence[str],
    *,
    env: Mapping[str, str],
    home: Path,
    now: datetime,
    kubeconfig: Path | None = None,
    head: str | None = None,
    backend_config: Path | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> Report:
    """Every check in `checks` (all when empty), in CHECKS order. A check's RemoteError fails
    that check only; bad input (ConfigError) stops the run: exit 2."""
    check_names(checks, "--check")
    check_names(required, "--require")
    stack = load_stack(stack_file)
    ctx = Context(stack_file, stack, env, home, now, kubeconfig, head, backend_config)
    chosen = [n for n in CHECKS if not checks or n in checks]
    results: list[CheckResult] = []
    for name in chosen:
        say(f"checking {name}")
        try:
            results.append(CHECKS[name](ctx))
        except Skip as skip:
            results.append(skipped(name, str(skip)))
        except RemoteError as exc:
            results.append(failed(name, str(exc)))
    return require(results, required)
