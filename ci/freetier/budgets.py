"""OCI Budgets (`BudgetClient.list_budgets`, `list_alert_rules`): a budget's spend as OCI last
computed it and its alert rules, as plain data (an adapter: `validate.cost` stays pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import oci

from freetier.oci_clients import DEFAULT_RETRY, RetryPolicy, list_all, make_client


@dataclass(frozen=True)
class AlertRule:
    name: str
    type: str  # ACTUAL or FORECAST
    threshold: float
    threshold_type: str  # ABSOLUTE (in the budget's currency) or PERCENTAGE (of its amount)


@dataclass(frozen=True)
class BudgetState:
    name: str
    amount: float
    actual_spend: float | None
    forecasted_spend: float | None
    rules: tuple[AlertRule, ...]


def read_budget(
    config: Mapping[str, Any],
    name: str,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    env: Mapping[str, str] | None = None,
) -> BudgetState | None:
    """The budget called `name` in the tenancy's root compartment (where tofu/oci makes it)
    with its alert rules, or None when there is none."""
    client = make_client(oci.budget.BudgetClient, config, retry=retry, env=env)
    found = list_all(client.list_budgets, config["tenancy"], display_name=name)
    if not found:
        return None
    budget = found[0]
    rules = list_all(client.list_alert_rules, budget.id)
    return BudgetState(
        name=str(budget.display_name),
        amount=float(budget.amount or 0.0),
        actual_spend=None if budget.actual_spend is None else float(budget.actual_spend),
        forecasted_spend=None
        if budget.forecasted_spend is None
        else float(budget.forecasted_spend),
        rules=tuple(
            AlertRule(str(r.display_name), str(r.type), float(r.threshold), str(r.threshold_type))
            for r in rules
        ),
    )
