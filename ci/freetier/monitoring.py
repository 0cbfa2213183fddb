"""OCI Monitoring (`MonitoringClient.summarize_metrics_data`): a metric's aggregated
datapoints per resource, as plain series (an adapter: `validate.idle` stays pure).

One MQL query answers one stream per set of dimension values; the compute agent's metrics
(namespace `oci_computeagent`) carry the instance's OCID as the `resourceId` dimension
(source: "Compute Instance Metrics", https://docs.oracle.com/en-us/iaas/Content/Compute/References/computemetrics.htm).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import oci

from freetier.oci_clients import DEFAULT_RETRY, RetryPolicy, call, make_client

COMPUTE_AGENT = "oci_computeagent"


@dataclass(frozen=True)
class Series:
    """One stream of a metric: the resource it is about and its (time, value) points."""

    resource_id: str
    points: tuple[tuple[datetime, float], ...]


def summarize(
    config: Mapping[str, Any],
    compartment_id: str,
    namespace: str,
    query: str,
    start: datetime,
    end: datetime,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    env: Mapping[str, str] | None = None,
) -> list[Series]:
    """The streams `query` (MQL) selects in `namespace` from `start` to `end`. RemoteError on
    any refusal (a malformed query is the API's 400), ConfigError on bad credentials."""
    client = make_client(oci.monitoring.MonitoringClient, config, retry=retry, env=env)
    details = oci.monitoring.models.SummarizeMetricsDataDetails(
        namespace=namespace, query=query, start_time=start, end_time=end
    )
    found = call(client.summarize_metrics_data, compartment_id, details)
    return [series_of(item) for item in found.data]


def series_of(item: Any) -> Series:
    """A MetricData as a Series (pure)."""
    dimensions = item.dimensions or {}
    return Series(
        resource_id=str(dimensions.get("resourceId") or ""),
        points=tuple(
            (p.timestamp, float(p.value))
            for p in item.aggregated_datapoints or ()
            if p.value is not None
        ),
    )
