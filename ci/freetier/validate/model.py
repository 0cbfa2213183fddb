"""What a check returns and how the results of a run add up to an exit code. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

# pass / fail count; `skip` (could not run: no credentials, no cluster) fails only when
# required; `info` says something that is neither (a tenancy the Usage API does not meter).
Status = Literal["pass", "fail", "skip", "info"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    summary: str  # one line
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    results: tuple[CheckResult, ...]

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.results if r.status == "fail")

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def passed(name: str, summary: str, details: Iterable[str] = ()) -> CheckResult:
    return CheckResult(name, "pass", summary, tuple(details))


def failed(name: str, summary: str, details: Iterable[str] = ()) -> CheckResult:
    return CheckResult(name, "fail", summary, tuple(details))


def skipped(name: str, reason: str) -> CheckResult:
    return CheckResult(name, "skip", reason)


def verdict(
    name: str, problems: Sequence[str], ok: str, details: Iterable[str] = ()
) -> CheckResult:
    """Pass with `ok`, or fail with the first problem as summary and every problem listed."""
    if not problems:
        return passed(name, ok, details)
    summary = problems[0] if len(problems) == 1 else f"{len(problems)} problems: {problems[0]}"
    return failed(name, summary, [*problems, *details])


def require(results: Iterable[CheckResult], required: Iterable[str]) -> Report:
    """A skipped check named in `required` becomes a failure (`--require NAME`)."""
    must = set(required)
    out = [
        replace(r, status="fail", summary=f"required but skipped: {r.summary}")
        if r.status == "skip" and r.name in must
        else r
        for r in results
    ]
    return Report(tuple(out))
