"""The tenancy every OCI service fake builds on: its compartments and availability domains,
ocids, the lock, and the Core, Load Balancing and Network Load Balancing resources
`freetier guard --live` lists, with OCI's `limit`/`page` paging. List calls need a known
`compartmentId` (404 NotAuthorizedOrNotFound otherwise) and only return that compartment's
resources. Kept apart from the server core so the seeding and listing rules read on their own."""

from __future__ import annotations

import base64
import itertools
import threading
from dataclasses import dataclass
from typing import Any

from tests.fakes.oci_wire import Answer, ApiError, Call, Route, not_found, now, query_param

CORE = "/20160918"
LB = "/20170115"
NLB = "/20200501"
MAX_LIMIT = 1000


@dataclass(frozen=True)
class ListSpec:
    """A Core/LB/NLB list operation: the collection it reads, the query parameters it needs,
    the ones that filter on the field of the same name, and whether the page is wrapped in a
    collection object (`{"items": [...]}`) instead of a bare JSON array."""

    kind: str
    required: tuple[str, ...] = ("compartmentId",)
    filters: tuple[str, ...] = ("lifecycleState", "displayName")
    collection: bool = False


LISTS: dict[str, ListSpec] = {
    f"{CORE}/instances": ListSpec("instances", filters=("availabilityDomain", "lifecycleState")),
    f"{CORE}/bootVolumes": ListSpec("bootVolumes", filters=("availabilityDomain",)),
    f"{CORE}/bootVolumeAttachments": ListSpec(
        "bootVolumeAttachments",
        required=("availabilityDomain", "compartmentId"),
        filters=("availabilityDomain", "instanceId", "bootVolumeId"),
    ),
    f"{CORE}/volumes": ListSpec("volumes", filters=("availabilityDomain", "lifecycleState")),
    f"{CORE}/volumeBackups": ListSpec("volumeBackups", filters=("volumeId", "lifecycleState")),
    f"{CORE}/bootVolumeBackups": ListSpec(
        "bootVolumeBackups", filters=("bootVolumeId", "lifecycleState")
    ),
    f"{CORE}/vcns": ListSpec("vcns"),
    f"{CORE}/subnets": ListSpec("subnets", filters=("displayName", "vcnId", "lifecycleState")),
    f"{CORE}/publicIps": ListSpec(
        "publicIps",
        required=("scope", "compartmentId"),
        filters=("scope", "lifetime", "availabilityDomain"),
    ),
    f"{LB}/loadBalancers": ListSpec("loadBalancers"),
    f"{NLB}/networkLoadBalancers": ListSpec("networkLoadBalancers", collection=True),
    f"{CORE}/images": ListSpec("images", filters=("displayName", "lifecycleState")),
    f"{CORE}/computeImageCapabilitySchemas": ListSpec(
        "computeImageCapabilitySchemas", filters=("imageId", "displayName")
    ),
}


class OciResources:
    """The tenancy's state and the listed resources; the service classes extend it."""

    def __init__(
        self,
        tenancy: str,
        *,
        availability_domains: tuple[str, ...],
        page_size: int,
        region: str,
    ) -> None:
        self.tenancy = tenancy
        self.availability_domains = availability_domains
        self.page_size = page_size
        self.region = region
        self.compartments: set[str] = {tenancy}
        self.state: dict[str, list[dict[str, Any]]] = {spec.kind: [] for spec in LISTS.values()}
        # The tenancy's region subscriptions; the fake's own region is its home region.
        self.region_subscriptions: list[dict[str, Any]] = [_subscription(region, home=True)]
        self.lock = threading.Lock()
        self._ids = itertools.count(1)

    # --- seeding ---------------------------------------------------------------------------

    def ocid(self, kind: str) -> str:
        return f"ocid1.{kind}.oc1.{self.region}.fake{next(self._ids):06d}"

    def subscribe_region(self, region: str, *, home: bool = False) -> None:
        """Subscribe the tenancy to `region`; with `home`, make it the home region instead of
        the one the fake started with (a tenancy has exactly one)."""
        with self.lock:
            if home:
                for subscription in self.region_subscriptions:
                    subscription["isHomeRegion"] = False
            self.region_subscriptions = [
                s for s in self.region_subscriptions if s["regionName"] != region
            ]
            self.region_subscriptions.append(_subscription(region, home=home))

    def add_compartment(self, ocid: str | None = None) -> str:
        compartment = ocid or f"ocid1.compartment.oc1..fake{next(self._ids):06d}"
        self.compartments.add(compartment)
        return compartment

    def _add(self, kind: str, compartment_id: str, item: dict[str, Any]) -> str:
        if compartment_id not in self.compartments:
            raise ValueError(f"unknown compartment {compartment_id}")
        item = {"compartmentId": compartment_id, "timeCreated": now(), **item}
        with self.lock:
            self.state[kind].append(item)
        return str(item["id"])

    def _ad(self, availability_domain: str | None) -> str:
        return availability_domain or self.availability_domains[0]

    def add_instance(
        self,
        compartment_id: str,
        display_name: str,
        *,
        shape: str = "VM.Standard.A1.Flex",
        ocpus: float = 1.0,
        memory_in_gbs: float = 6.0,
        state: str = "RUNNING",
        availability_domain: str | None = None,
    ) -> str:
        return self._add(
            "instances",
            compartment_id,
            {
                "id": self.ocid("instance"),
                "availabilityDomain": self._ad(availability_domain),
                "displayName": display_name,
                "faultDomain": "FAULT-DOMAIN-1",
                "imageId": self.ocid("image"),
                "lifecycleState": state,
                "region": self.region,
                "shape": shape,
                "shapeConfig": {
                    "ocpus": ocpus,
                    "memoryInGBs": memory_in_gbs,
                    "processorDescription": "3.0 GHz Ampere Altra",
                },
                "sourceDetails": {"sourceType": "image", "imageId": self.ocid("image")},
                "metadata": {},
                "extendedMetadata": {},
                "freeformTags": {},
                "definedTags": {},
            },
        )

    def add_boot_volume(
        self,
        compartment_id: str,
        display_name: str,
        *,
        size_in_gbs: int = 50,
        vpus_per_gb: int = 10,
        availability_domain: str | None = None,
        attached_to: str | None = None,
        state: str = "AVAILABLE",
    ) -> str:
        ad = self._ad(availability_domain)
        volume_id = self._add(
            "bootVolumes",
            compartment_id,
            {
                "id": self.ocid("bootvolume"),
                "availabilityDomain": ad,
                "displayName": display_name,
                "imageId": self.ocid("image"),
                "isHydrated": True,
                "lifecycleState": state,
                "sizeInGBs": size_in_gbs,
                "sizeInMBs": size_in_gbs * 1024,
                "vpusPerGB": vpus_per_gb,
            },
        )
        if attached_to is not None:
            self._add(
                "bootVolumeAttachments",
                compartment_id,
                {
                    "id": self.ocid("bootvolumeattachment"),
                    "availabilityDomain": ad,
                    "bootVolumeId": volume_id,
                    "displayName": f"Remote boot attachment for {display_name}",
                    "instanceId": attached_to,
                    "lifecycleState": "ATTACHED",
                    "isPvEncryptionInTransitEnabled": False,
                },
            )
        return volume_id

    def add_volume(
        self,
        compartment_id: str,
        display_name: str,
        *,
        size_in_gbs: int = 50,
        vpus_per_gb: int = 10,
        availability_domain: str | None = None,
        state: str = "AVAILABLE",
    ) -> str:
        return self._add(
            "volumes",
            compartment_id,
            {
                "id": self.ocid("volume"),
                "availabilityDomain": self._ad(availability_domain),
                "displayName": display_name,
                "isHydrated": True,
                "lifecycleState": state,
                "sizeInGBs": size_in_gbs,
                "sizeInMBs": size_in_gbs * 1024,
                "vpusPerGB": vpus_per_gb,
            },
        )

    def add_volume_backup(
        self,
        compartment_id: str,
        display_name: str,
        *,
        size_in_gbs: int = 50,
        boot: bool = False,
        source_id: str | None = None,
        state: str = "AVAILABLE",
    ) -> str:
        kind = "bootVolumeBackups" if boot else "volumeBackups"
        source_field = "bootVolumeId" if boot else "volumeId"
        return self._add(
            kind,
            compartment_id,
            {
                "id": self.ocid("bootvolumebackup" if boot else "volumebackup"),
                "displayName": display_name,
                "lifecycleState": state,
                "sizeInGBs": size_in_gbs,
                "uniqueSizeInGBs": size_in_gbs,
                "sourceType": "MANUAL",
                "type": "FULL",
                source_field: source_id or self.ocid("bootvolume" if boot else "volume"),
            },
        )

    def add_public_ip(
        self,
        compartment_id: str,
        ip_address: str,
        *,
        display_name: str | None = None,
        lifetime: str = "RESERVED",
        state: str = "AVAILABLE",
        availability_domain: str | None = None,
    ) -> str:
        regional = lifetime == "RESERVED"
        item: dict[str, Any] = {
            "id": self.ocid("publicip"),
            "displayName": display_name,
            "ipAddress": ip_address,
            "lifetime": lifetime,
            "lifecycleState": state,
            "scope": "REGION" if regional else "AVAILABILITY_DOMAIN",
        }
        if not regional:
            item["availabilityDomain"] = self._ad(availability_domain)
        return self._add("publicIps", compartment_id, item)

    def add_load_balancer(
        self,
        compartment_id: str,
        display_name: str,
        *,
        minimum_mbps: int = 10,
        maximum_mbps: int = 10,
        state: str = "ACTIVE",
    ) -> str:
        return self._add(
            "loadBalancers",
            compartment_id,
            {
                "id": self.ocid("loadbalancer"),
                "displayName": display_name,
                "lifecycleState": state,
                "shapeName": "flexible",
                "shapeDetails": {
                    "minimumBandwidthInMbps": minimum_mbps,
                    "maximumBandwidthInMbps": maximum_mbps,
                },
                "isPrivate": False,
                "ipAddresses": [{"ipAddress": "192.0.2.10", "isPublic": True}],
                "subnetIds": [self.ocid("subnet")],
                "listeners": {},
                "backendSets": {},
                "freeformTags": {},
                "definedTags": {},
            },
        )

    def add_network_load_balancer(
        self, compartment_id: str, display_name: str, *, state: str = "ACTIVE"
    ) -> str:
        return self._add(
            "networkLoadBalancers",
            compartment_id,
            {
                "id": self.ocid("networkloadbalancer"),
                "displayName": display_name,
                "lifecycleState": state,
                "isPrivate": False,
                "isPreserveSourceDestination": False,
                "ipAddresses": [{"ipAddress": "192.0.2.20", "isPublic": True}],
                "subnetId": self.ocid("subnet"),
                "listeners": {},
                "backendSets": {},
                "freeformTags": {},
                "definedTags": {},
                "systemTags": {},
            },
        )

    def add_vcn(
        self,
        compartment_id: str,
        display_name: str,
        cidr_blocks: list[str],
        *,
        state: str = "AVAILABLE",
    ) -> str:
        return self._add(
            "vcns",
            compartment_id,
            {
                "id": self.ocid("vcn"),
                "displayName": display_name,
                "cidrBlock": cidr_blocks[0],
                "cidrBlocks": list(cidr_blocks),
                "lifecycleState": state,
                "defaultRouteTableId": self.ocid("routetable"),
                "defaultSecurityListId": self.ocid("securitylist"),
                "defaultDhcpOptionsId": self.ocid("dhcpoptions"),
                "freeformTags": {},
                "definedTags": {},
            },
        )

    # --- the rules -------------------------------------------------------------------------

    def _tenancy_routes(self) -> list[Route]:
        return [
            ("GET", f"{CORE}/availabilityDomains", self._availability_domains),
            ("GET", f"{CORE}/tenancies/([^/]+)/regionSubscriptions", self._region_subscriptions),
        ]

    def _region_subscriptions(self, call: Call) -> Answer:
        """ListRegionSubscriptions: a bare array, not paged; another tenancy's is not found."""
        if call.groups[0] != self.tenancy:
            raise not_found()
        with self.lock:
            return 200, [dict(s) for s in self.region_subscriptions], {}

    def _availability_domains(self, call: Call) -> Answer:
        self._compartment(call.query, "compartmentId")
        ads = [
            {
                "name": name,
                "id": f"ocid1.availabilitydomain.oc1..fake{i}",
                "compartmentId": self.tenancy,
            }
            for i, name in enumerate(self.availability_domains, 1)
        ]
        return 200, ads, {}

    def _compartment(self, query: dict[str, list[str]], name: str) -> str:
        value = query_param(query, name)
        if value is None:
            raise ApiError(400, "MissingParameter", f"Missing required parameter {name}")
        if value not in self.compartments:
            raise not_found()
        return value

    def _list(self, spec: ListSpec, query: dict[str, list[str]]) -> Answer:
        for name in spec.required:
            if query_param(query, name) is None:
                raise ApiError(400, "MissingParameter", f"Missing required parameter {name}")
        compartment = self._compartment(query, "compartmentId")
        scope = query_param(query, "scope")
        if scope is not None and scope not in ("REGION", "AVAILABILITY_DOMAIN"):
            raise ApiError(400, "InvalidParameter", f"Invalid scope {scope}")
        if scope == "AVAILABILITY_DOMAIN" and query_param(query, "availabilityDomain") is None:
            raise ApiError(
                400,
                "MissingParameter",
                "availabilityDomain is required for scope AVAILABILITY_DOMAIN",
            )
        with self.lock:
            items = [
                item
                for item in self.state[spec.kind]
                if item["compartmentId"] == compartment
                and all(
                    item.get(name) == query_param(query, name)
                    for name in spec.filters
                    if query_param(query, name) is not None
                )
            ]
        page, headers = self._page(items, query)
        return 200, ({"items": page} if spec.collection else page), headers

    def _page(
        self, items: list[dict[str, Any]], query: dict[str, list[str]]
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        size = self._limit(query)
        start = _decode_page(query_param(query, "page"))
        if start > len(items):
            raise ApiError(400, "InvalidParameter", "Invalid page token")
        end = start + size
        headers = {"opc-next-page": _encode_page(end)} if end < len(items) else {}
        return [public(item) for item in items[start:end]], headers

    def _limit(self, query: dict[str, list[str]]) -> int:
        limit_text = query_param(query, "limit")
        try:
            limit = int(limit_text) if limit_text is not None else self.page_size
        except ValueError:
            raise ApiError(400, "InvalidParameter", f"Invalid limit {limit_text}") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(400, "InvalidParameter", f"limit must be in 1..{MAX_LIMIT}")
        return min(limit, self.page_size)


# Region keys of the regions tests use (docs.oracle.com, "Regions and Availability Domains").
REGION_KEYS = {
    "eu-frankfurt-1": "FRA",
    "uk-london-1": "LHR",
    "us-ashburn-1": "IAD",
    "us-phoenix-1": "PHX",
    "eu-amsterdam-1": "AMS",
}


def _subscription(region: str, *, home: bool) -> dict[str, Any]:
    """A RegionSubscription as Identity returns it (camelCase, status READY)."""
    key = REGION_KEYS.get(region, region.split("-")[1][:3].upper())
    return {"regionKey": key, "regionName": region, "status": "READY", "isHomeRegion": home}


def public(item: dict[str, Any]) -> dict[str, Any]:
    """An item as the API shows it: without the fake's own `_`-prefixed bookkeeping fields
    (an image's `_valid`)."""
    return {key: value for key, value in item.items() if not key.startswith("_")}


def _encode_page(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_page(token: str | None) -> int:
    if token is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        prefix, _, number = text.partition(":")
        if prefix != "offset":
            raise ValueError(text)
        return int(number)
    except ValueError:
        raise ApiError(400, "InvalidParameter", "Invalid page token") from None
