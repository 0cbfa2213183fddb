"""OCI Budgets (20190111): `GET /budgets` (ListBudgets) and `GET /budgets/{budgetId}/alertRules`
(ListAlertRules), what the `cost` check of `freetier validate` reads.

Both answer a JSON list (BudgetSummary, AlertRuleSummary: the oci SDK's models
oci.budget.models), paged by `limit`/`page` and `opc-next-page`. `compartmentId` is required
on ListBudgets (budgets live in the root compartment), filtered by `displayName` and
`targetType` when given; an unknown budget is 404.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.oci_monitoring import MonitoringApi
from tests.fakes.oci_wire import Answer, Call, Route, not_found, now

BUDGET_API = "/20190111"


class BudgetApi(MonitoringApi):
    """Budgets with their spend as OCI last computed it, and their alert rules."""

    def __init__(self, tenancy: str, **config: Any) -> None:
        super().__init__(tenancy, **config)
        self.budgets: list[dict[str, Any]] = []
        self.alert_rules: list[dict[str, Any]] = []

    def add_budget(
        self,
        display_name: str,
        amount: float,
        target: str,
        actual_spend: float = 0.0,
        forecasted_spend: float | None = 0.0,
    ) -> str:
        budget = {
            "id": self.ocid("budget"),
            "compartmentId": self.tenancy,
            "displayName": display_name,
            "amount": amount,
            "resetPeriod": "MONTHLY",
            "targetType": "COMPARTMENT",
            "targets": [target],
            "lifecycleState": "ACTIVE",
            "alertRuleCount": 0,
            "actualSpend": actual_spend,
            "forecastedSpend": forecasted_spend,
            "timeSpendComputed": now(),
            "timeCreated": now(),
            "timeUpdated": now(),
            "freeformTags": {},
            "definedTags": {},
        }
        with self.lock:
            self.budgets.append(budget)
        return str(budget["id"])

    def add_alert_rule(
        self,
        budget_id: str,
        display_name: str,
        type_: str,
        threshold: float,
        threshold_type: str = "ABSOLUTE",
    ) -> None:
        with self.lock:
            budget = next(b for b in self.budgets if b["id"] == budget_id)
            budget["alertRuleCount"] += 1
            self.alert_rules.append(
                {
                    "id": self.ocid("alertrule"),
                    "budgetId": budget_id,
                    "displayName": display_name,
                    "type": type_,
                    "threshold": threshold,
                    "thresholdType": threshold_type,
                    "lifecycleState": "ACTIVE",
                    "recipients": "",
                    "message": "",
                    "timeCreated": now(),
                    "timeUpdated": now(),
                    "freeformTags": {},
                    "definedTags": {},
                }
            )

    def _budget_routes(self) -> list[Route]:
        return [
            ("GET", f"{BUDGET_API}/budgets", self._list_budgets),
            ("GET", f"{BUDGET_API}/budgets/([^/]+)/alertRules", self._list_alert_rules),
        ]

    def _list_budgets(self, call: Call) -> Answer:
        compartment = call.required("compartmentId")
        name, target_type = call.param("displayName"), call.param("targetType")
        with self.lock:
            found = [
                b
                for b in self.budgets
                if b["compartmentId"] == compartment
                and (name is None or b["displayName"] == name)
                and (target_type in (None, "ALL") or b["targetType"] == target_type)
            ]
        page, headers = self._page(found, call.query)
        return 200, page, headers

    def _list_alert_rules(self, call: Call) -> Answer:
        (budget_id,) = call.groups
        with self.lock:
            if not any(b["id"] == budget_id for b in self.budgets):
                raise not_found()
            found = [r for r in self.alert_rules if r["budgetId"] == budget_id]
        page, headers = self._page(found, call.query)
        return 200, page, headers
