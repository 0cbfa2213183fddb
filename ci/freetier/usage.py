"""The OCI Usage API (`UsageapiClient.request_summarized_usages`): what the tenancy was
charged and what it used, per day, as plain rows (an adapter: `validate.cost` stays pure).

Ranges are UTC midnights, start inclusive and end exclusive: with DAILY granularity the API
refuses any other time with 400 InvalidParameter (source: the API reference of
RequestSummarizedUsagesDetails, "timeUsageStarted ... must be in UTC midnight" for DAILY,
https://docs.oracle.com/en-us/iaas/api/#/en/usage/20200107/datatypes/RequestSummarizedUsagesDetails).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import oci

from freetier.oci_clients import DEFAULT_RETRY, RetryPolicy, list_all, make_client

QueryType = Literal["COST", "USAGE"]


@dataclass(frozen=True)
class UsageRow:
    """One day of one SKU: its cost (COST query) or quantity (USAGE query)."""

    sku: str
    day: datetime  # the UTC midnight the row starts
    amount: float  # computedAmount, in `currency` (0 where the API leaves it out)
    quantity: float  # computedQuantity, in `unit`
    unit: str
    currency: str


def summarized_usages(
    config: Mapping[str, Any],
    query_type: QueryType,
    start: datetime,
    end: datetime,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    env: Mapping[str, str] | None = None,
) -> list[UsageRow]:
    """The tenancy's DAILY usage from `start` (inclusive) to `end` (exclusive), grouped by
    skuName, every page read. RemoteError on any refusal, ConfigError on bad credentials."""
    client = make_client(oci.usage_api.UsageapiClient, config, retry=retry, env=env)
    details = oci.usage_api.models.RequestSummarizedUsagesDetails(
        tenant_id=config["tenancy"],
        time_usage_started=start,
        time_usage_ended=end,
        granularity="DAILY",
        query_type=query_type,
        group_by=["skuName"],
    )
    items = list_all(client.request_summarized_usages, details)
    return [row_of(item) for item in items]


def row_of(item: Any) -> UsageRow:
    """A UsageSummary as a UsageRow (pure)."""
    return UsageRow(
        sku=str(item.sku_name or "(no SKU)"),
        day=item.time_usage_started,
        amount=float(item.computed_amount or 0.0),
        quantity=float(item.computed_quantity or 0.0),
        unit=str(item.unit or ""),
        currency=str(item.currency or ""),
    )
