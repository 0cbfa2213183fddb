"""OCI Monitoring (20180401) `POST /metrics/actions/summarizeMetricsData`: what the `idle`
check of `freetier validate` reads.

The request carries `compartmentId` as a query parameter and a SummarizeMetricsDataDetails
body (camelCase: namespace, query, startTime, endTime, resolution); the answer is a JSON list
of MetricData (namespace, compartmentId, name, dimensions, metadata, resolution,
aggregatedDatapoints of {timestamp, value}), one per stream of the metric (one set of
dimension values, here one resource) - the shapes of the oci SDK's models
(oci.monitoring.models.SummarizeMetricsDataDetails, MetricData, AggregatedDatapoint).

The MQL this fake understands is the subset the check sends, as the Monitoring Query Language
reference writes it (https://docs.oracle.com/en-us/iaas/Content/Monitoring/Reference/mql.htm):
`MetricName[interval]{dimension = "value", ...}.statistic()`, the interval in m/h/d, the
statistic mean/max/min/sum/count or percentile(p) with 0 < p < 1. Anything else is 400
InvalidParameter, as is a namespace or time missing or an end not after the start.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.oci_usage import UsageApi
from tests.fakes.oci_wire import Answer, ApiError, Call, Route

MONITORING_API = "/20180401"
QUERY = re.compile(
    r"(?P<name>[A-Za-z][A-Za-z0-9_]*)\[(?P<count>\d+)(?P<unit>[mhd])\]"
    r"(?:\{(?P<filter>[^}]*)\})?\.(?P<stat>mean|max|min|sum|count|percentile)"
    r"\((?P<arg>[^)]*)\)"
)
UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
DIMENSION = re.compile(r'\s*(?P<key>[A-Za-z][A-Za-z0-9_]*)\s*=\s*"(?P<value>[^"]*)"\s*')


@dataclass(frozen=True)
class Sample:
    """One raw datapoint an agent posted."""

    namespace: str
    name: str
    compartment_id: str
    resource_id: str
    timestamp: datetime
    value: float


class MonitoringApi(UsageApi):
    """Raw metric samples, summarized as Monitoring does for an MQL query."""

    def __init__(self, tenancy: str, **config: Any) -> None:
        super().__init__(tenancy, **config)
        self.samples: list[Sample] = []
        self.metric_requests: list[tuple[str, dict[str, Any]]] = []  # (compartmentId, body)

    def add_samples(
        self,
        namespace: str,
        name: str,
        compartment_id: str,
        resource_id: str,
        start: datetime,
        hours: int,
        value: float,
        per_hour: int = 4,
    ) -> None:
        """`per_hour` samples of `value` every hour for `hours` hours from `start`."""
        step = timedelta(hours=1) / per_hour
        with self.lock:
            for i in range(hours * per_hour):
                self.samples.append(
                    Sample(namespace, name, compartment_id, resource_id, start + i * step, value)
                )

    def _monitoring_routes(self) -> list[Route]:
        path = f"{MONITORING_API}/metrics/actions/summarizeMetricsData"
        return [("POST", path, self._summarize_metrics)]

    def _summarize_metrics(self, call: Call) -> Answer:
        compartment = call.required("compartmentId")
        body = call.json()
        with self.lock:
            self.metric_requests.append((compartment, body))
        for name in ("namespace", "query"):
            if not body.get(name):
                raise ApiError(400, "InvalidParameter", f"{name} is required")
        start, end = _when(body, "startTime"), _when(body, "endTime")
        if end <= start:
            raise ApiError(400, "InvalidParameter", "endTime must be after startTime")
        query = QUERY.fullmatch(str(body["query"]).strip())
        if query is None:
            raise ApiError(400, "InvalidParameter", f"Invalid query: {body['query']}")
        interval = int(query["count"]) * UNITS[query["unit"]]
        wanted = _dimensions(query["filter"] or "")
        stat = _statistic(query["stat"], query["arg"])
        with self.lock:
            found = [
                s
                for s in self.samples
                if s.namespace == body["namespace"]
                and s.name == query["name"]
                and s.compartment_id == compartment
                and start <= s.timestamp < end
                and all(v == s.resource_id for k, v in wanted.items() if k == "resourceId")
            ]
        streams: dict[str, list[Sample]] = {}
        for s in found:
            streams.setdefault(s.resource_id, []).append(s)
        answer = []
        for resource_id, samples in sorted(streams.items()):
            buckets: dict[datetime, list[float]] = {}
            for s in samples:
                at = start + ((s.timestamp - start) // interval) * interval
                buckets.setdefault(at, []).append(s.value)
            answer.append(
                {
                    "namespace": body["namespace"],
                    "compartmentId": compartment,
                    "name": query["name"],
                    "dimensions": {"resourceId": resource_id},
                    "metadata": {},
                    "resolution": body.get("resolution") or "1m",
                    "aggregatedDatapoints": [
                        {"timestamp": _stamp(at), "value": stat(values)}
                        for at, values in sorted(buckets.items())
                    ],
                }
            )
        return 200, answer, {}


def _when(body: dict[str, Any], name: str) -> datetime:
    value = body.get(name)
    if not value:
        raise ApiError(400, "InvalidParameter", f"{name} is required")
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "InvalidParameter", f"{name} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise ApiError(400, "InvalidParameter", f"{name} has no time zone")
    return parsed.astimezone(UTC)


def _dimensions(text: str) -> dict[str, str]:
    found = {}
    for part in filter(str.strip, text.split(",")):
        match = DIMENSION.fullmatch(part)
        if match is None:
            raise ApiError(400, "InvalidParameter", f"Invalid dimension filter: {part}")
        found[match["key"]] = match["value"]
    return found


def _statistic(name: str, arg: str) -> Any:
    if name != "percentile":
        if arg.strip():
            raise ApiError(400, "InvalidParameter", f"{name}() takes no argument")
        return {
            "mean": statistics.fmean,
            "max": max,
            "min": min,
            "sum": math.fsum,
            "count": lambda v: float(len(v)),
        }[name]
    try:
        p = float(arg)
    except ValueError:
        raise ApiError(400, "InvalidParameter", f"Invalid percentile: {arg}") from None
    if not 0 < p < 1:
        raise ApiError(400, "InvalidParameter", f"percentile must be between 0 and 1: {arg}")
    # Nearest rank: the smallest value with at least p of the values at or below it.
    return lambda values: sorted(values)[max(math.ceil(p * len(values)) - 1, 0)]


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
