"""What `images boot-check` decides, on data alone: whether a serial console history shows a
boot, and whether the free-tier guard leaves room for the check's one instance. Pure.

A console fails on the UEFI shell (the firmware found nothing to boot: siderolabs/talos#12557,
"the instance drops to the UEFI shell"), or when it stays empty (the same issue, BIOS: "the
serial console stays empty"); both show RUNNING in OCI. It passes on the OS's own boot lines:
Talos logs to the kernel log with the `[talos]` prefix (siderolabs/talos
internal/app/machined/pkg/runtime/v1alpha1/v1alpha1_controller.go and internal/app/init/main.go,
`kmsg.SetupLogger(..., "[talos]", ...)`); any other Linux image by the kernel's banner,
`Linux version ...` (init/version.c).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from freetier.guard.classify import Context, classify
from freetier.guard.evaluate import evaluate
from freetier.guard.from_stack import instance_values
from freetier.guard.resources import Resource

Outcome = Literal["boots", "uefi-shell", "empty", "no-boot-lines"]
UEFI_SHELL_MARKS = ("UEFI Interactive Shell", "Shell>")
TALOS_MARK = "[talos]"
LINUX_MARK = "Linux version "
CANDIDATE_ORIGIN = "boot-check"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str
    line: str | None = None  # the console line that decided it

    @property
    def final(self) -> bool:
        """No later capture can change it: a boot, or the UEFI shell."""
        return self.outcome in ("boots", "uefi-shell")

    @property
    def ok(self) -> bool:
        return self.outcome == "boots"


def boot_mark(os_name: str) -> str:
    """The line that shows the image's OS started."""
    return TALOS_MARK if os_name.strip().lower() == "talos" else LINUX_MARK


def console_verdict(text: str, os_name: str) -> Verdict:
    """The verdict on one console history: the UEFI shell first (it fails whatever else the
    console holds), then the OS's boot lines, then empty or not."""
    lines = text.splitlines()
    for line in lines:
        if any(mark in line for mark in UEFI_SHELL_MARKS):
            return Verdict("uefi-shell", "the firmware dropped to the UEFI shell", line.strip())
    mark = boot_mark(os_name)
    for line in lines:
        if mark in line:
            return Verdict("boots", f"{os_name} boot lines on the serial console", line.strip())
    if not text.strip():
        return Verdict("empty", "the serial console is empty")
    return Verdict("no-boot-lines", f"no {mark.strip()!r} line on the serial console")


def check_instance(
    name: str, shape: str, ocpus: float | None, memory_gb: float | None, boot_gb: int
) -> Resource:
    """The check's instance as the guard sees it."""
    values = {**instance_values(shape, ocpus, memory_gb, boot_gb), "display_name": name}
    return Resource(f"{CANDIDATE_ORIGIN}:oci_core_instance.{name}", "oci_core_instance", values,
                    CANDIDATE_ORIGIN)  # fmt: skip


def room_problems(live: Sequence[Resource], candidate: Resource, ctx: Context) -> list[str]:
    """Why the tenancy has no room for `candidate` (empty: it has): every allowance the
    candidate counts against that the tenancy plus the candidate exceed, and any rule the
    candidate breaks alone. Other findings of the tenancy are not the check's business."""
    result = evaluate([*live, candidate], ctx)
    counted = set(classify(candidate, ctx).usage)
    problems = [
        f"{use.name}: {use.used:g} of {use.limit:g} {use.unit} with the check's instance "
        f"({use.note})"
        for use in result.limits
        if use.over and use.name in counted
    ]
    for assessment in result.assessments:
        if assessment.resource is candidate:
            problems += assessment.blocking
            if assessment.category not in ("free", "always-free"):
                problems.append(f"{candidate.address}: {assessment.reason}")
    return problems
