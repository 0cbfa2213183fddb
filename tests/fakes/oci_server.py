"""A small stateful fake of the OCI REST endpoints `freetier guard --live` reads.

It speaks the wire format the real `oci` SDK expects, so the SDK runs unchanged against it
(through `FREETIER_OCI_ENDPOINT`): the real paths and API versions of Core (20160918),
Identity (20160918), Object Storage (`/n/...`), Load Balancing (20170115) and Network Load
Balancing (20200501); camelCase JSON; an `opc-request-id` on every response; pagination by
`limit`/`page` and the `opc-next-page` header; errors as `{"code", "message"}` with the
real status codes.

Every request must carry `Authorization: Signature ...` whose keyId is an authorized
`<tenancy>/<user>/<fingerprint>`; when the key's public half is known the RSA-SHA256
signature over `date (request-target) host` is verified too, and a stale `date` is refused.
Anything else gets 401 NotAuthenticated. List calls need a known `compartmentId`
(404 NotAuthorizedOrNotFound otherwise) and only return that compartment's resources.

Tests seed state with the `add_*` methods and inject faults with `inject`.
"""

from __future__ import annotations

import base64
import email.utils
import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CORE = "/20160918"
LB = "/20170115"
NLB = "/20200501"
MAX_LIMIT = 1000
CLOCK_SKEW = timedelta(minutes=5)


class ApiError(Exception):
    """An OCI error response: status and service code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found() -> ApiError:
    return ApiError(
        404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource not found."
    )


@dataclass
class Fault:
    """Answer requests whose path starts with `path_prefix` with an error, `times` times
    (None: for ever)."""

    path_prefix: str
    status: int
    code: str
    message: str
    times: int | None
    hits: int = 0


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    key_id: str | None
    status: int


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
    f"{CORE}/publicIps": ListSpec(
        "publicIps",
        required=("scope", "compartmentId"),
        filters=("scope", "lifetime", "availabilityDomain"),
    ),
    f"{LB}/loadBalancers": ListSpec("loadBalancers"),
    f"{NLB}/networkLoadBalancers": ListSpec("networkLoadBalancers", collection=True),
}

BUCKET_SUMMARY_FIELDS = (
    "namespace",
    "name",
    "compartmentId",
    "createdBy",
    "timeCreated",
    "etag",
)
BUCKET_OPTIONAL_FIELDS = ("approximateCount", "approximateSize", "autoTiering")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class FakeOci:
    """The tenancy state and the rules; `serve()` runs it on 127.0.0.1."""

    def __init__(
        self,
        tenancy: str = "ocid1.tenancy.oc1..aaaafaketenancy",
        *,
        namespace: str = "freetierfake",
        availability_domains: tuple[str, ...] = ("Uocm:FAKE-AD-1", "Uocm:FAKE-AD-2"),
        page_size: int = 100,
        region: str = "eu-frankfurt-1",
    ) -> None:
        self.tenancy = tenancy
        self.namespace = namespace
        self.availability_domains = availability_domains
        self.page_size = page_size
        self.region = region
        self.compartments: set[str] = {tenancy}
        self.state: dict[str, list[dict[str, Any]]] = {spec.kind: [] for spec in LISTS.values()}
        self.buckets: list[dict[str, Any]] = []
        self.keys: dict[str, rsa.RSAPublicKey | None] = {}
        self.faults: list[Fault] = []
        self.requests: list[SeenRequest] = []
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- seeding ---------------------------------------------------------------------------

    def ocid(self, kind: str) -> str:
        return f"ocid1.{kind}.oc1.{self.region}.fake{next(self._ids):06d}"

    def authorize_key(self, key_id: str, public_key: rsa.RSAPublicKey | None = None) -> None:
        """Accept `key_id`; when `public_key` is given, signatures are verified with it."""
        self.keys[key_id] = public_key

    def add_compartment(self, ocid: str | None = None) -> str:
        compartment = ocid or f"ocid1.compartment.oc1..fake{next(self._ids):06d}"
        self.compartments.add(compartment)
        return compartment

    def _add(self, kind: str, compartment_id: str, item: dict[str, Any]) -> str:
        if compartment_id not in self.compartments:
            raise ValueError(f"unknown compartment {compartment_id}")
        item = {"compartmentId": compartment_id, "timeCreated": _now(), **item}
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

    def add_bucket(
        self,
        compartment_id: str,
        name: str,
        *,
        approximate_size: int = 0,
        approximate_count: int = 0,
        storage_tier: str = "Standard",
    ) -> str:
        if compartment_id not in self.compartments:
            raise ValueError(f"unknown compartment {compartment_id}")
        bucket_id = self.ocid("bucket")
        with self.lock:
            self.buckets.append(
                {
                    "namespace": self.namespace,
                    "name": name,
                    "compartmentId": compartment_id,
                    "createdBy": "ocid1.user.oc1..fakeuser",
                    "timeCreated": _now(),
                    "etag": str(uuid.uuid4()),
                    "metadata": {},
                    "publicAccessType": "NoPublicAccess",
                    "storageTier": storage_tier,
                    "objectEventsEnabled": False,
                    "freeformTags": {},
                    "definedTags": {},
                    "replicationEnabled": False,
                    "isReadOnly": False,
                    "id": bucket_id,
                    "versioning": "Disabled",
                    "autoTiering": "Disabled",
                    "approximateCount": approximate_count,
                    "approximateSize": approximate_size,
                }
            )
        return bucket_id

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

    def inject(
        self,
        path_prefix: str,
        status: int,
        code: str,
        message: str = "injected fault",
        *,
        times: int | None = 1,
    ) -> Fault:
        """Fail the next `times` requests under `path_prefix` (None: every one)."""
        fault = Fault(path_prefix, status, code, message, times)
        with self.lock:
            self.faults.append(fault)
        return fault

    def seen(self, path_prefix: str = "") -> list[SeenRequest]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    # --- serving ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("fake OCI server not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    @contextmanager
    def serve(self) -> Iterator[FakeOci]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    # --- the rules -------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str], str | None]:
        """Answer one request: (status, JSON body, extra headers, authenticated key id)."""
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        key_id: str | None = None
        try:
            key_id = self._authenticate(method, target, headers)
            self._fault(path)
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here")
            status, body, extra = self._route(path.rstrip("/") or "/", query)
        except ApiError as exc:
            status, body, extra = exc.status, {"code": exc.code, "message": exc.message}, {}
        with self.lock:
            self.requests.append(SeenRequest(method, path, query, key_id, status))
        return status, body, extra, key_id

    def _authenticate(self, method: str, target: str, headers: dict[str, str]) -> str:
        authorization = headers.get("authorization", "")
        if not authorization.startswith("Signature "):
            raise ApiError(
                401,
                "NotAuthenticated",
                "The required information to complete authentication was not provided.",
            )
        params: dict[str, str] = dict(re.findall(r'(\w+)="([^"]*)"', authorization))
        key_id = params.get("keyId", "")
        if key_id not in self.keys:
            raise ApiError(
                401,
                "NotAuthenticated",
                "The required information to complete "
                "authentication was not provided or was incorrect.",
            )
        signed = params.get("headers", "").split()
        if not {"date", "(request-target)", "host"} <= set(signed):
            raise ApiError(
                401, "NotAuthenticated", "date, (request-target) and host must be signed"
            )
        self._check_date(headers.get("date") or headers.get("x-date") or "")
        public_key = self.keys[key_id]
        if public_key is not None:
            lines = [
                f"(request-target): {method.lower()} {target}"
                if name == "(request-target)"
                else f"{name}: {headers.get(name, '')}"
                for name in signed
            ]
            try:
                public_key.verify(
                    base64.b64decode(params.get("signature", "")),
                    "\n".join(lines).encode(),
                    padding.PKCS1v15(),
                    hashes.SHA256(),
                )
            except (InvalidSignature, ValueError):
                raise ApiError(401, "NotAuthenticated", "The signature does not match.") from None
        return key_id

    @staticmethod
    def _check_date(value: str) -> None:
        try:
            sent = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise ApiError(401, "NotAuthenticated", "Missing or malformed date header.") from None
        if abs(datetime.now(UTC) - sent) > CLOCK_SKEW:
            raise ApiError(401, "NotAuthenticated", "The request date is out of range.")

    def _fault(self, path: str) -> None:
        with self.lock:
            for fault in self.faults:
                if not path.startswith(fault.path_prefix):
                    continue
                if fault.times is not None and fault.hits >= fault.times:
                    continue
                fault.hits += 1
                raise ApiError(fault.status, fault.code, fault.message)

    def _route(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        if path in LISTS:
            return self._list(LISTS[path], query)
        if path == f"{CORE}/availabilityDomains":
            self._compartment(query, "compartmentId")
            ads = [
                {
                    "name": name,
                    "id": f"ocid1.availabilitydomain.oc1..fake{i}",
                    "compartmentId": self.tenancy,
                }
                for i, name in enumerate(self.availability_domains, 1)
            ]
            return 200, ads, {}
        if path == "/n":
            return 200, self.namespace, {}
        match = re.fullmatch(r"/n/([^/]+)/b", path)
        if match:
            return self._list_buckets(match.group(1), query)
        match = re.fullmatch(r"/n/([^/]+)/b/([^/]+)", path)
        if match:
            return self._get_bucket(match.group(1), match.group(2), query)
        raise ApiError(404, "NotFound", f"No such path: {path}")

    def _compartment(self, query: dict[str, list[str]], name: str) -> str:
        value = _param(query, name)
        if value is None:
            raise ApiError(400, "MissingParameter", f"Missing required parameter {name}")
        if value not in self.compartments:
            raise not_found()
        return value

    def _list(self, spec: ListSpec, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        for name in spec.required:
            if _param(query, name) is None:
                raise ApiError(400, "MissingParameter", f"Missing required parameter {name}")
        compartment = self._compartment(query, "compartmentId")
        scope = _param(query, "scope")
        if scope is not None and scope not in ("REGION", "AVAILABILITY_DOMAIN"):
            raise ApiError(400, "InvalidParameter", f"Invalid scope {scope}")
        if scope == "AVAILABILITY_DOMAIN" and _param(query, "availabilityDomain") is None:
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
                    item.get(name) == _param(query, name)
                    for name in spec.filters
                    if _param(query, name) is not None
                )
            ]
        page, headers = self._page(items, query)
        return 200, ({"items": page} if spec.collection else page), headers

    def _page(
        self, items: list[dict[str, Any]], query: dict[str, list[str]]
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        limit_text = _param(query, "limit")
        try:
            limit = int(limit_text) if limit_text is not None else self.page_size
        except ValueError:
            raise ApiError(400, "InvalidParameter", f"Invalid limit {limit_text}") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(400, "InvalidParameter", f"limit must be in 1..{MAX_LIMIT}")
        size = min(limit, self.page_size)
        start = _decode_page(_param(query, "page"))
        if start > len(items):
            raise ApiError(400, "InvalidParameter", "Invalid page token")
        end = start + size
        headers = {"opc-next-page": _encode_page(end)} if end < len(items) else {}
        return [dict(item) for item in items[start:end]], headers

    def _namespace(self, namespace: str) -> None:
        if namespace != self.namespace:
            raise ApiError(
                404,
                "NamespaceNotFound",
                f"You do not have authorization to perform "
                f"this request, or the requested resource could not be found: "
                f"{namespace}",
            )

    def _list_buckets(
        self, namespace: str, query: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        self._namespace(namespace)
        compartment = self._compartment(query, "compartmentId")
        with self.lock:
            items = [
                {name: bucket[name] for name in BUCKET_SUMMARY_FIELDS}
                for bucket in self.buckets
                if bucket["compartmentId"] == compartment
            ]
        page, headers = self._page(items, query)
        return 200, page, headers

    def _get_bucket(
        self, namespace: str, name: str, query: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        self._namespace(namespace)
        requested = set((_param(query, "fields") or "").split(",")) - {""}
        unknown = requested - set(BUCKET_OPTIONAL_FIELDS)
        if unknown:
            raise ApiError(400, "InvalidParameter", f"Invalid fields: {sorted(unknown)}")
        with self.lock:
            found = [dict(b) for b in self.buckets if b["name"] == name]
        if not found:
            raise ApiError(
                404,
                "BucketNotFound",
                f"Either the bucket named '{name}' does not "
                f"exist in the namespace '{namespace}' or you are not authorized to "
                f"access it",
            )
        bucket = found[0]
        for optional in BUCKET_OPTIONAL_FIELDS:
            if optional not in requested and optional != "autoTiering":
                bucket[optional] = None
        return 200, bucket, {"etag": bucket["etag"]}


def _param(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


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


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOci
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body, extra, _ = self.fake.handle(self.command, self.path, headers)
        payload = json.dumps(body).encode()
        client_id = headers.get("opc-request-id") or uuid.uuid4().hex.upper()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("opc-request-id", f"{client_id}/{uuid.uuid4().hex.upper()}")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read `FakeOci.requests` instead."""


# --- credentials for tests ---------------------------------------------------------------


@dataclass
class OciTestCredentials:
    """A real API signing key and OCI CLI config file, as `oci setup config` writes them."""

    config_file: Path
    key_file: Path
    tenancy: str
    user: str
    fingerprint: str
    region: str
    public_key: rsa.RSAPublicKey
    key_pem: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        return f"{self.tenancy}/{self.user}/{self.fingerprint}"


def write_oci_credentials(
    directory: Path,
    *,
    tenancy: str = "ocid1.tenancy.oc1..aaaafaketenancy",
    user: str = "ocid1.user.oc1..aaaafakeuser",
    region: str = "eu-frankfurt-1",
    profile: str = "DEFAULT",
) -> OciTestCredentials:
    """Generate an RSA key (mode 0600) and a config file for it under `directory`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashes.Hash(hashes.MD5())  # noqa: S303 - the OCI key fingerprint is MD5 by spec
    digest.update(der)
    fingerprint = ":".join(f"{b:02x}" for b in digest.finalize())
    key_file = directory / "oci_api_key.pem"
    key_file.touch(mode=0o600)
    key_file.write_bytes(pem)
    key_file.chmod(0o600)
    config_file = directory / "oci_config"
    config_file.write_text(
        f"[{profile}]\n"
        f"user={user}\n"
        f"fingerprint={fingerprint}\n"
        f"tenancy={tenancy}\n"
        f"region={region}\n"
        f"key_file={key_file}\n",
        encoding="utf-8",
    )
    config_file.chmod(0o600)
    return OciTestCredentials(
        config_file=config_file,
        key_file=key_file,
        tenancy=tenancy,
        user=user,
        fingerprint=fingerprint,
        region=region,
        public_key=key.public_key(),
        key_pem=pem,
    )


@dataclass
class FakeTenancy:
    """A running fake, credentials it accepts, and the environment pointing the SDK at it."""

    fake: FakeOci
    credentials: OciTestCredentials
    env: dict[str, str]


@contextmanager
def fake_tenancy(
    directory: Path,
    setenv: Callable[[str, str], None],
    *,
    page_size: int = 100,
) -> Iterator[FakeTenancy]:
    """Start a fake on 127.0.0.1, write credentials it accepts (signatures verified), and set
    OCI_CLI_CONFIG_FILE, OCI_CLI_PROFILE and FREETIER_OCI_ENDPOINT with `setenv` (a
    `monkeypatch.setenv`)."""
    credentials = write_oci_credentials(directory)
    fake = FakeOci(credentials.tenancy, page_size=page_size, region=credentials.region)
    fake.authorize_key(credentials.key_id, credentials.public_key)
    with fake.serve():
        env = {
            "OCI_CLI_CONFIG_FILE": str(credentials.config_file),
            "OCI_CLI_PROFILE": "DEFAULT",
            "FREETIER_OCI_ENDPOINT": fake.url,
        }
        for name, value in env.items():
            setenv(name, value)
        yield FakeTenancy(fake, credentials, env)
