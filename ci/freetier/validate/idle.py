"""The `idle` check's core: would Oracle reclaim an instance as idle? Pure.

Oracle's rule (Always Free Resources, "Reclamation of Idle Compute Instances",
https://docs.oracle.com/en-us/iaas/Content/FreeTier/freetier_topic-Always_Free_Resources.htm):
an Always Free instance is idle, and may be stopped, when during a 7-day period its CPU
utilization at the 95th percentile, its network utilization and (A1 shapes only) its memory
utilization are all under 20%.

Measured here from OCI Monitoring's compute agent metrics over the last 7 days: CPU as the
95th percentile (nearest rank) of the hourly 95th percentiles, memory as the mean of the hourly
means. Network is not measured (it needs each shape's bandwidth): an instance this check
fails may still be spared by its traffic, never the other way round.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from freetier.monitoring import COMPUTE_AGENT
from freetier.validate.model import CheckResult, failed, passed

NAME = "idle"
WINDOW = timedelta(days=7)
THRESHOLD = 20.0  # percent
CPU_QUERY = "CpuUtilization[1h].percentile(0.95)"
MEMORY_QUERY = "MemoryUtilization[1h].mean()"
NETWORK_NOTE = (
    "network not measured: Oracle counts it too, so an instance failing here may still be "
    "spared by its traffic"
)

Points = Sequence[tuple[datetime, float]]


@dataclass(frozen=True)
class Instance:
    name: str
    ocid: str
    shape: str

    @property
    def a1(self) -> bool:
        """Memory counts for A1 shapes only."""
        return ".A1." in self.shape


def p95(values: Sequence[float]) -> float:
    """The nearest-rank 95th percentile.

    >>> p95([float(v) for v in range(1, 21)])
    19.0
    """
    ordered = sorted(values)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def _idle_hours(instance: Instance, cpu: Points, memory: Mapping[datetime, float]) -> int:
    """How many of the latest hourly points in a row were idle by themselves."""
    count = 0
    for when, value in sorted(cpu, reverse=True):
        memory_low = not instance.a1 or memory.get(when, 100.0) < THRESHOLD
        if value >= THRESHOLD or not memory_low:
            break
        count += 1
    return count


def judge_idle(
    instances: Sequence[Instance],
    cpu: Mapping[str, Points],
    memory: Mapping[str, Points],
) -> CheckResult:
    """Each instance's figures over the window, failing those Oracle would deem idle."""
    problems, lines, measured = [], [], 0
    for instance in instances:
        cpu_points = cpu.get(instance.ocid) or ()
        if not cpu_points:
            lines.append(f"{instance.name}: no data from {COMPUTE_AGENT} (Talos publishes none)")
            continue
        measured += 1
        cpu_p95 = p95([v for _, v in cpu_points])
        figures = f"CpuUtilization p95 {cpu_p95:.1f}%"
        memory_points = memory.get(instance.ocid) or ()
        memory_low = True
        if instance.a1:
            if memory_points:
                mean = sum(v for _, v in memory_points) / len(memory_points)
                figures += f", MemoryUtilization mean {mean:.1f}%"
                memory_low = mean < THRESHOLD
            else:
                figures += ", no MemoryUtilization"
                memory_low = False  # not shown idle
        said = f"{instance.name}: {figures} over the last 7 days ({COMPUTE_AGENT})"
        if cpu_p95 < THRESHOLD and memory_low:
            problems.append(f"{said}: under {THRESHOLD:g}%, reclaimable as idle")
            continue
        hours = _idle_hours(instance, cpu_points, dict(memory_points))
        if hours:
            left = max(WINDOW.days - hours / 24, 0.0)
            lines.append(f"{said}; idle the last {hours / 24:.1f} day(s), {left:.1f} day(s) left")
        else:
            lines.append(f"{said}; busy in the last hour")
    lines.append(NETWORK_NOTE)
    if problems:
        summary = problems[0] if len(problems) == 1 else f"{len(problems)} idle: {problems[0]}"
        return failed(NAME, summary, [*problems, *lines])
    if not measured:
        return CheckResult(
            NAME,
            "info",
            f"no data from {COMPUTE_AGENT} for any of {len(instances)} instance(s): neither "
            "pass nor failure",
            tuple(lines),
        )
    unmeasured = len(instances) - measured
    tail = f"; {unmeasured} with no data from {COMPUTE_AGENT}" if unmeasured else ""
    return passed(NAME, f"{measured} instance(s) not idle{tail}", lines)
