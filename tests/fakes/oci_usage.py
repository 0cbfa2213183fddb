"""The OCI Usage API (20200107) `POST /usage` (RequestSummarizedUsages), and images seeded
as if imported long ago: what `freetier validate` reads.

The request is a RequestSummarizedUsagesDetails (camelCase JSON); the answer a
UsageAggregation `{"groupBy": [...], "items": [UsageSummary...]}` paged by `limit`/`page` and
`opc-next-page`. The rules it enforces, as the API reference states them
(https://docs.oracle.com/en-us/iaas/api/#/en/usage/20200107/): tenantId, timeUsageStarted,
timeUsageEnded and granularity are required; with DAILY or MONTHLY granularity both times must
be UTC midnights (anything finer is 400 InvalidParameter); the end is after the start and
exclusive; groupBy names only known dimensions; another tenancy is 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.fakes.oci_instances import ComputeInstances
from tests.fakes.oci_resources import public
from tests.fakes.oci_wire import Answer, ApiError, Call, Route, not_found, now

USAGE_API = "/20200107"
GRANULARITIES = ("HOURLY", "DAILY", "MONTHLY", "TOTAL")
QUERY_TYPES = ("USAGE", "COST", "CREDIT", "EXPIREDCREDIT", "ALLCREDIT", "OVERAGE")
GROUP_BY = frozenset(
    {
        "tagNamespace", "tagKey", "tagValue", "service", "skuName", "skuPartNumber", "unit",
        "compartmentName", "compartmentPath", "compartmentId", "platform", "region",
        "logicalAd", "resourceId", "tenantId", "tenantName", "subscriptionId",
    }
)  # fmt: skip


@dataclass(frozen=True)
class UsageRecord:
    """One day of one SKU as OCI metered it."""

    day: date
    sku: str
    quantity: float
    unit: str
    amount: float = 0.0
    currency: str = "USD"


class UsageApi(ComputeInstances):
    """Metered usage per day and SKU, summarized as the Usage API does."""

    def __init__(self, tenancy: str, **config: Any) -> None:
        super().__init__(tenancy, **config)
        self.usage: list[UsageRecord] = []
        self.usage_requests: list[dict[str, Any]] = []

    # --- seeding ---------------------------------------------------------------------------

    def add_usage(self, record: UsageRecord) -> None:
        with self.lock:
            self.usage.append(record)

    def add_image(self, compartment_id: str, display_name: str, state: str = "AVAILABLE") -> str:
        """An image already in the tenancy (custom images imported earlier)."""
        return self._add(
            "images",
            compartment_id,
            {
                "id": self.ocid("image"),
                "displayName": display_name,
                "lifecycleState": state,
                "launchMode": "PARAVIRTUALIZED",
                "operatingSystem": "Custom",
                "operatingSystemVersion": "",
                "createImageAllowed": True,
                "listingType": "NONE",
                "sizeInMBs": 1024,
                "billableSizeInGBs": 1,
                "freeformTags": {},
                "definedTags": {},
                "timeCreated": now(),
            },
        )

    # --- the rules -------------------------------------------------------------------------

    def _usage_routes(self) -> list[Route]:
        return [("POST", f"{USAGE_API}/usage", self._summarized)]

    def _summarized(self, call: Call) -> Answer:
        body = call.json()
        with self.lock:
            self.usage_requests.append(body)
        start, end, group_by, query_type = self._usage_query(body)
        with self.lock:
            records = [r for r in self.usage if start.date() <= r.day < end.date()]
        items = _summaries(records, group_by, query_type, self.tenancy)
        page, headers = self._page(items, call.query)
        return 200, {"groupBy": group_by, "items": page}, headers

    def _usage_query(self, body: dict[str, Any]) -> tuple[datetime, datetime, list[str], str]:
        """The request's range, groups and query type, or the API's 400/404."""
        for name in ("tenantId", "timeUsageStarted", "timeUsageEnded", "granularity"):
            if body.get(name) in (None, ""):
                raise ApiError(400, "MissingParameter", f"Missing required parameter {name}")
        if body["tenantId"] != self.tenancy:
            raise not_found()
        granularity = body["granularity"]
        if granularity not in GRANULARITIES:
            raise ApiError(400, "InvalidParameter", f"Invalid granularity {granularity}")
        query_type = body.get("queryType") or "USAGE"
        if query_type not in QUERY_TYPES:
            raise ApiError(400, "InvalidParameter", f"Invalid queryType {query_type}")
        group_by = body.get("groupBy") or []
        if not isinstance(group_by, list) or any(g not in GROUP_BY for g in group_by):
            raise ApiError(400, "InvalidParameter", f"Invalid groupBy {group_by}")
        start = _time(body["timeUsageStarted"], "timeUsageStarted", granularity)
        end = _time(body["timeUsageEnded"], "timeUsageEnded", granularity)
        if end <= start:
            raise ApiError(400, "InvalidParameter", "timeUsageEnded must be after timeUsageStarted")
        if granularity != "DAILY":
            raise ApiError(400, "InvalidParameter", "this fake answers DAILY granularity only")
        return start, end, group_by, query_type


def _time(value: Any, name: str, granularity: str) -> datetime:
    """An RFC 3339 time in UTC; a UTC midnight for DAILY and MONTHLY (the precision rule)."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "InvalidParameter", f"{name} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise ApiError(400, "InvalidParameter", f"{name} has no time zone")
    parsed = parsed.astimezone(UTC)
    midnight = parsed.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity in ("DAILY", "MONTHLY") and parsed != midnight:
        raise ApiError(
            400,
            "InvalidParameter",
            f"{name} must have no hours, minutes or seconds for {granularity} granularity",
        )
    return parsed


def _stamp(day: date) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _summaries(
    records: list[UsageRecord], group_by: list[str], query_type: str, tenancy: str
) -> list[dict[str, Any]]:
    """One UsageSummary per day and group (only skuName and unit are grouped here)."""
    groups: dict[tuple[date, str | None, str | None], list[UsageRecord]] = {}
    for r in records:
        key = (
            r.day,
            r.sku if "skuName" in group_by else None,
            r.unit if "unit" in group_by else None,
        )
        groups.setdefault(key, []).append(r)
    items = []
    for (day, sku, unit), found in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
    ):
        item: dict[str, Any] = {
            "tenantId": tenancy if "tenantId" in group_by else None,
            "skuName": sku,
            "unit": unit if unit is not None else (found[0].unit if sku is not None else None),
            "timeUsageStarted": _stamp(day),
            "timeUsageEnded": _stamp(day + timedelta(days=1)),
            "currency": found[0].currency,
            "isForecast": False,
        }
        if query_type == "COST":
            item["computedAmount"] = round(sum(r.amount for r in found), 6)
        else:
            item["computedQuantity"] = round(sum(r.quantity for r in found), 6)
        items.append(public(item))
    return items
