"""The `cost` check's core: what the Usage API answered for this month, judged. Pure.

COST must be 0.00 on every closed day of the month (a cent is a bill); USAGE, summed per SKU,
is projected to the month's end and held against the Always Free allowance the guard's profile
states (`guard.profile`), turned into the units the Usage API meters in. The stack's budget
must exist and none of its alert rules have fired.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from freetier.budgets import AlertRule, BudgetState
from freetier.guard.profile import Profile
from freetier.usage import UsageRow
from freetier.validate.model import CheckResult, failed, verdict

NAME = "cost"


def closed_days(now: datetime) -> tuple[datetime, datetime]:
    """This month's closed days as a Usage API range: the month's first UTC midnight
    (inclusive) to today's (exclusive). Equal on the 1st: no day has closed yet."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today.replace(day=1), today


@dataclass(frozen=True)
class SkuAllowance:
    """The free amount a month of one metered SKU, in its Usage API unit."""

    amount: float
    unit: str


def allowance(sku: str, profile: Profile, month_hours: float) -> SkuAllowance | None:
    """The allowance of a SKU the profile limits, or None.

    SKU names as Oracle's price list spells them (https://www.oracle.com/cloud/price-list/:
    "Compute - Ampere A1 - OCPU", "Compute - Ampere A1 - Memory", "Block Volume - Storage");
    matched by their words, since the Usage API prefixes some with the service. A1 is metered
    per hour, block storage per GB-month."""
    limits = profile.limits
    words = sku.lower()
    if "ampere a1" in words and "ocpu" in words and "a1_ocpus" in limits:
        return SkuAllowance(limits["a1_ocpus"].limit * month_hours, "OCPU hours")
    if "ampere a1" in words and "memory" in words and "a1_memory_gb" in limits:
        return SkuAllowance(limits["a1_memory_gb"].limit * month_hours, "GB hours")
    if "block volume" in words and "storage" in words and "block_storage_gb" in limits:
        return SkuAllowance(limits["block_storage_gb"].limit, "GB months")
    return None


def judge_cost(
    cost: Sequence[UsageRow], usage: Sequence[UsageRow], now: datetime, profile: Profile
) -> CheckResult:
    start, end = closed_days(now)
    days = (end - start).days
    if days == 0:
        return CheckResult(NAME, "info", "no day of this month has closed yet (UTC)")
    if not cost and not usage:
        return CheckResult(
            NAME,
            "info",
            f"the Usage API reported nothing from {start:%Y-%m-%d} to "
            f"{end - timedelta(days=1):%Y-%m-%d} (a tenancy it does not meter): neither pass "
            "nor failure",
        )
    problems = [
        f"{row.day:%Y-%m-%d}: {row.sku} cost {row.amount:.2f} {row.currency}".rstrip()
        for row in sorted(cost, key=lambda r: (r.day, r.sku))
        if round(row.amount, 2) > 0
    ]
    month_days = calendar.monthrange(start.year, start.month)[1]
    lines = []
    used: dict[str, float] = defaultdict(float)
    units: dict[str, str] = {}
    for row in usage:
        used[row.sku] += row.quantity
        units[row.sku] = row.unit
    for sku in sorted(used):
        projected = used[sku] / days * month_days
        free = allowance(sku, profile, month_days * 24)
        line = f"{sku}: {used[sku]:g} {units[sku]} in {days} days, {projected:.1f} projected"
        if free is None:
            lines.append(f"{line} (no Always Free allowance known)")
            continue
        line += f" of {free.amount:g} {free.unit} free"
        lines.append(line)
        if projected > free.amount + 1e-9:
            problems.append(f"{sku}: projected {projected:.1f} over the {free.amount:g} free")
    return verdict(NAME, problems, f"0.00 on each of {days} closed days this month", lines)


def budget_name(stack_name: str) -> str:
    """The budget tofu/oci makes (tofu/oci/budget.tf: "${var.name}-monthly")."""
    return f"{stack_name}-monthly"


def fired(budget: BudgetState, rule: AlertRule) -> float | None:
    """The spend that set `rule` off, or None. An ACTUAL rule watches the budget's actual
    spend, a FORECAST rule its forecast for the period; an ABSOLUTE threshold is in the
    budget's currency, a PERCENTAGE one of its amount (the oci SDK's AlertRuleSummary)."""
    spend = budget.actual_spend if rule.type == "ACTUAL" else budget.forecasted_spend
    limit = (
        rule.threshold
        if rule.threshold_type == "ABSOLUTE"
        else budget.amount * rule.threshold / 100
    )
    return spend if spend is not None and spend >= limit else None


def with_budget(result: CheckResult, budget: BudgetState | None, name: str) -> CheckResult:
    """The Usage API's verdict with the budget's added: a fired alert rule (or no budget at
    all) fails the check whatever the Usage API said."""
    if budget is None:
        problems = [f"budget {name}: not found in the tenancy (tofu/oci makes it)"]
        lines: list[str] = []
    else:
        problems = [
            f"budget {name}: alert rule {rule.name} fired: {rule.type} spend {spend:.2f}, "
            f"threshold {rule.threshold:g}" + (" %" if rule.threshold_type == "PERCENTAGE" else "")
            for rule in budget.rules
            if (spend := fired(budget, rule)) is not None
        ]
        forecast = "none" if budget.forecasted_spend is None else f"{budget.forecasted_spend:.2f}"
        actual = "none" if budget.actual_spend is None else f"{budget.actual_spend:.2f}"
        lines = [
            f"budget {name}: actual {actual}, forecast {forecast} of {budget.amount:g}; "
            f"{len(budget.rules) - len(problems)} of {len(budget.rules)} alert rule(s) quiet"
        ]
    if not problems:
        return replace(result, details=(*result.details, *lines))
    summary = problems[0] if len(problems) == 1 else f"{len(problems)} problems: {problems[0]}"
    usage = f"Usage API: {result.status}: {result.summary}"
    return failed(NAME, summary, [*problems, *lines, usage, *result.details])
