"""The PR report's guard step says what a stack on an older allowance costs on the current one."""

from __future__ import annotations

from pathlib import Path

from freetier.pr.steps import check_guard_step
from freetier.stack import load_stack
from tests.conftest import PROXMOX_EXAMPLE, SHIPPED_STACK


def test_a_stack_on_the_legacy_allowance_is_shown_its_cost_on_the_current_one(
    tmp_path: Path,
) -> None:
    step, result = check_guard_step(load_stack(PROXMOX_EXAMPLE), {}, tmp_path)
    assert result is not None and result.profile.name == "always-free-legacy"
    assert step.details[0] == (
        "free tier on always-free-2026-06: BLOCKING: 3 finding(s), an estimated $13.87 a month "
        "plus items at unknown prices (a1_ocpus 3 of 2 OCPU; a1_memory_gb 18 of 12 GB; "
        "a1_instances 3 of 2 instances)"
    )


def test_a_stack_on_the_current_allowance_gets_no_second_verdict(tmp_path: Path) -> None:
    step, _ = check_guard_step(load_stack(SHIPPED_STACK), {}, tmp_path)
    assert not any(d.startswith("free tier on") for d in step.details)
