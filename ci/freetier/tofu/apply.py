"""Capacity-aware apply: rotate availability domains and back off while OCI is out of A1 hosts.

OCI answers a launch it cannot place with status 500, code InternalError, message
"Out of host capacity."; the oci provider shows it as `Error: 500-InternalError, Out of host
capacity.` (older providers: `Error Message: Out of host capacity.`). The layer places instance
`i` in `availability_domains[(i + ad_rotation) % len(availability_domains)]` and ignores AD
changes on instances that exist, so each attempt moves only what is still missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from freetier.errors import ConfigError, ToolError
from freetier.tofu.run import ApplyResult, Diagnostic, Tofu, VarValue, apply

CAPACITY_TEXT = "out of host capacity"
ROTATION_VAR = "ad_rotation"
DOMAINS_VAR = "availability_domains"


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait after each full cycle of AD rotations: initial, doubling, capped."""

    initial_s: float = 30.0
    max_s: float = 600.0
    factor: float = 2.0

    def wait(self, cycle: int) -> float:
        """The wait after full cycle number `cycle` (1-based)."""
        return float(min(self.initial_s * self.factor ** (cycle - 1), self.max_s))


@dataclass(frozen=True)
class CapacityApplyResult:
    attempts: int
    rotation: int
    elapsed_s: float
    apply: ApplyResult


def is_capacity_error(diagnostic: Diagnostic) -> bool:
    """OCI's "Out of host capacity.", however the provider wrapped or cased it."""
    text = " ".join(f"{diagnostic.summary} {diagnostic.detail}".split()).lower()
    return CAPACITY_TEXT in text


def only_capacity_errors(result: ApplyResult) -> bool:
    """True when the apply failed and every error is a capacity error (so a retry can help)."""
    return bool(result.errors) and all(is_capacity_error(d) for d in result.errors)


def format_duration(seconds: float) -> str:
    """Seconds, then minutes and seconds up to two hours, then hours and minutes, then days.

    >>> format_duration(4.2), format_duration(754), format_duration(3600)
    ('4s', '12m34s', '60m00s')
    >>> format_duration(7200), format_duration(3 * 86400 + 3700)
    ('2h00m', '3d01h')
    """
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 7200:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def _check_inputs(availability_domains: Sequence[int], deadline_s: float, backoff: Backoff) -> None:
    problems = []
    if not availability_domains:
        problems.append("availability_domains: at least one availability domain is needed")
    if deadline_s <= 0:
        problems.append(f"deadline: must be more than 0 seconds, got {deadline_s:g}")
    if backoff.initial_s <= 0 or backoff.max_s < backoff.initial_s or backoff.factor < 1:
        problems.append(
            f"backoff: need 0 < initial ({backoff.initial_s:g}s) <= max ({backoff.max_s:g}s)"
            f" and factor >= 1 ({backoff.factor:g})"
        )
    if problems:
        raise ConfigError(problems)


def _give_up(
    attempts: int, elapsed: float, deadline_s: float, domains: Sequence[int], tried: set[int]
) -> ToolError:
    rotations = sorted(tried)
    ads = ", ".join(str(domains[k]) for k in rotations)
    return ToolError(
        f"apply: out of host capacity after {attempts} attempt(s) in {format_duration(elapsed)}"
        f" (deadline {format_duration(deadline_s)}); tried availability domain(s) {ads}"
        f" (AD rotation(s) {', '.join(map(str, rotations))} of {len(domains)});"
        " try again later or in another region"
    )


def apply_with_capacity_retry(
    layer_dir: Path,
    availability_domains: Sequence[int],
    *,
    deadline_s: float,
    backoff: Backoff | None = None,
    var_overrides: Mapping[str, VarValue] | None = None,
    tofu: Tofu | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    progress: Callable[[str], None] = lambda line: None,
) -> CapacityApplyResult:
    """`apply -auto-approve -var ad_rotation=k` for k = 0, 1, ... cycling over the ADs.

    Capacity errors rotate to the next AD at once and wait `backoff` after each full cycle;
    any other error raises ToolError at once; past `deadline_s` raises a one-line ToolError.
    `progress` gets one line per attempt. `availability_domains` is also passed as a -var so
    the layer rotates over the same list. The layer must already be initialised.
    """
    backoff = backoff or Backoff()
    _check_inputs(availability_domains, deadline_s, backoff)
    tofu = tofu or Tofu.find()
    count = len(availability_domains)
    base: dict[str, VarValue] = {
        **(var_overrides or {}),
        DOMAINS_VAR: list(availability_domains),
    }
    start = clock()
    tried: set[int] = set()
    attempt = 0
    while True:
        attempt += 1
        rotation = (attempt - 1) % count
        order = [*availability_domains[rotation:], *availability_domains[:rotation]]
        where = f"attempt {attempt}: AD rotation {rotation} (ADs {', '.join(map(str, order))})"
        result = apply(
            layer_dir, var_overrides={**base, ROTATION_VAR: rotation}, tofu=tofu, check=False
        )
        elapsed = clock() - start
        if result.ok:
            progress(f"{where}: applied; elapsed {format_duration(elapsed)}")
            return CapacityApplyResult(attempt, rotation, elapsed, result)
        if not only_capacity_errors(result):
            progress(f"{where}: failed; elapsed {format_duration(elapsed)}; not retrying")
            raise result.error()
        tried.add(rotation)
        wait = backoff.wait(attempt // count) if rotation == count - 1 else 0.0
        if elapsed >= deadline_s or elapsed + wait > deadline_s:
            progress(
                f"{where}: out of host capacity; elapsed {format_duration(elapsed)};"
                " deadline reached, giving up"
            )
            raise _give_up(attempt, elapsed, deadline_s, availability_domains, tried)
        progress(
            f"{where}: out of host capacity; elapsed {format_duration(elapsed)};"
            + (f" next attempt in {format_duration(wait)}" if wait else " next attempt now")
        )
        if wait:
            sleep(wait)
