"""A small stateful fake of the OCI REST endpoints freetier uses: what `freetier guard --live`
reads, and what the image stage writes (Object Storage objects and multipart uploads, Compute
custom-image import, shape compatibility and image capability schemas).

It speaks the wire format the real `oci` SDK expects, so the SDK runs unchanged against it
(through `FREETIER_OCI_ENDPOINT`): the real paths and API versions of Core (20160918),
Identity (20160918), Object Storage (`/n/...`), Load Balancing (20170115) and Network Load
Balancing (20200501); camelCase JSON; an `opc-request-id` on every response; pagination by
`limit`/`page` and the `opc-next-page` header (by `start`/`nextStartWith` for objects);
errors as `{"code", "message"}` with the real status codes.

Every request must carry `Authorization: Signature ...` whose keyId is an authorized
`<tenancy>/<user>/<fingerprint>`; when the key's public half is known the RSA-SHA256
signature over `date (request-target) host` is verified too, and a stale `date` is refused.
POST and PUT must also sign `content-length content-type x-content-sha256`, and those must
match the body, as the SDK's signer does; only object and part uploads (`PUT .../o/...`,
`PUT .../u/...`) are exempt, as in OCI. Anything else gets 401 NotAuthenticated. List calls
need a known `compartmentId` (404 NotAuthorizedOrNotFound otherwise) and only return that
compartment's resources.

Uploads check `Content-MD5` (400 UnmatchedContentMD5) and answer `ETag` and
`opc-content-md5`; a commit assembles the parts and answers `opc-multipart-md5`. An imported
image is IMPORTING for `import_polls` GetImage calls, then ends in `import_outcome` (None:
never), or DISABLED when the object is not a QCOW2 image.

Tests seed state with the `add_*` methods and inject faults with `inject` (by path, method and
query parameters); `throttle_bytes_per_second` limits every request's body transfer, and
`corrupt_parts` / `misreport_md5_parts` damage one upload of the given part numbers.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import itertools
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.serving import LocalServer

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
    """Answer requests whose path starts with `path_prefix` (and, when given, whose method is
    `method` and whose query parameters include `query`) with an error, `times` times (None:
    for ever)."""

    path_prefix: str
    status: int
    code: str
    message: str
    times: int | None
    hits: int = 0
    method: str | None = None
    query: dict[str, str] | None = None

    def matches(self, method: str, path: str, query: dict[str, list[str]]) -> bool:
        if not path.startswith(self.path_prefix):
            return False
        if self.method is not None and self.method != method:
            return False
        wanted = self.query or {}
        return all(_param(query, name) == value for name, value in wanted.items())


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    key_id: str | None
    status: int
    size: int = 0


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
    f"{CORE}/images": ListSpec("images", filters=("displayName", "lifecycleState")),
    f"{CORE}/computeImageCapabilitySchemas": ListSpec(
        "computeImageCapabilitySchemas", filters=("imageId", "displayName")
    ),
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
OBJECT_FIELDS = (
    "name",
    "size",
    "etag",
    "md5",
    "timeCreated",
    "timeModified",
    "storageTier",
    "archivalState",
)
MAX_PART_NUMBER = 10_000
QCOW2_MAGIC = b"QFI\xfb"
IMPORT_FAILED_STATE = "DISABLED"
IMAGE_SOURCE_TYPES = ("QCOW2", "VMDK")
LAUNCH_MODES = ("NATIVE", "EMULATED", "PARAVIRTUALIZED", "CUSTOM")
KNOWN_SHAPES = frozenset(
    {"VM.Standard.A1.Flex", "VM.Standard.E2.1.Micro", "VM.Standard.E4.Flex", "VM.Standard3.Flex"}
)
GLOBAL_SCHEMA_ID = "ocid1.computeglobalimgcapschema.oc1..fakeglobal"
GLOBAL_SCHEMA_VERSION = "fake-2026-06"
# The part of OCI's global image capability schema the fake knows: enum descriptors only.
GLOBAL_SCHEMA: dict[str, tuple[str, ...]] = {
    "Compute.Firmware": ("BIOS", "UEFI_64"),
    "Compute.LaunchMode": ("NATIVE", "EMULATED", "PARAVIRTUALIZED", "CUSTOM"),
    "Storage.BootVolumeType": ("ISCSI", "SCSI", "IDE", "PARAVIRTUALIZED"),
    "Network.AttachmentType": ("E1000", "VFIO", "PARAVIRTUALIZED"),
}
# Object and part uploads are the only POST/PUT requests whose body OCI does not sign.
UNSIGNED_BODY = re.compile(r"/n/[^/]+/b/[^/]+/[ou]/.+")
BODY_HEADERS = ("content-length", "content-type", "x-content-sha256")

Answer = tuple[int, Any, dict[str, str]]


@dataclass(frozen=True)
class Call:
    """One authenticated request as the routes see it; `groups` are the path pattern's."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    groups: tuple[str, ...] = ()

    def param(self, name: str) -> str | None:
        return _param(self.query, name)

    def required(self, name: str) -> str:
        value = self.param(name)
        if value is None:
            raise ApiError(400, "MissingParameter", f"Missing required parameter {name}")
        return value

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body or b"{}")
        except ValueError:
            raise ApiError(400, "InvalidParameter", "The request body is not valid JSON") from None
        if not isinstance(value, dict):
            raise ApiError(400, "InvalidParameter", "The request body must be a JSON object")
        return value


@dataclass
class StoredObject:
    data: bytes
    etag: str
    md5: str
    multipart_md5: str | None
    metadata: dict[str, str]
    time_created: str


@dataclass
class Part:
    data: bytes
    md5: str
    etag: str


@dataclass
class Upload:
    bucket: str
    name: str
    upload_id: str
    metadata: dict[str, str]
    time_created: str
    parts: dict[int, Part] = field(default_factory=dict)

    def summary(self, namespace: str) -> dict[str, Any]:
        return {
            "namespace": namespace,
            "bucket": self.bucket,
            "object": self.name,
            "uploadId": self.upload_id,
            "timeCreated": self.time_created,
            "storageTier": "Standard",
        }


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 - OCI's checksum


def multipart_md5(part_md5s: list[str]) -> str:
    """OCI's `opc-multipart-md5`: the MD5 of the parts' raw MD5s, then `-<part count>`."""
    raw = b"".join(base64.b64decode(value) for value in part_md5s)
    return f"{_md5(raw)}-{len(part_md5s)}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class FakeOci(LocalServer):
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
        # Object Storage: objects by (bucket, name), multipart uploads by upload id.
        self.objects: dict[tuple[str, str], StoredObject] = {}
        self.uploads: dict[str, Upload] = {}
        # Compute image import: GetImage calls seen per image, shapes added per image.
        self.import_polls = 2
        self.import_outcome: str | None = "AVAILABLE"
        self.image_polls: dict[str, int] = {}
        self.image_shapes: dict[str, dict[str, dict[str, Any]]] = {}
        self.retry_tokens: dict[str, str] = {}
        # Knobs: per-request body rate; parts whose next upload arrives damaged, or whose
        # next answer names a wrong MD5; the smallest part a commit accepts but the last.
        self.throttle_bytes_per_second: float | None = None
        self.corrupt_parts: set[int] = set()
        self.misreport_md5_parts: set[int] = set()
        self.min_part_size = 0
        # Requests being received or answered at once, and the most seen (parallel uploads).
        self.in_flight = 0
        self.max_in_flight = 0
        self._routes = self._route_table()

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
        method: str | None = None,
        query: dict[str, str] | None = None,
    ) -> Fault:
        """Fail the next `times` requests under `path_prefix` (None: every one), only those
        of `method` and carrying the `query` parameters when given: `inject("/n/", 500,
        "InternalServerError", method="PUT", query={"uploadPartNum": "3"}, times=None)` fails
        every upload of part 3."""
        fault = Fault(path_prefix, status, code, message, times, method=method, query=query)
        with self.lock:
            self.faults.append(fault)
        return fault

    def add_object(
        self, bucket: str, name: str, data: bytes, *, metadata: dict[str, str] | None = None
    ) -> None:
        """Store an object as a single PutObject would."""
        with self.lock:
            if not any(b["name"] == bucket for b in self.buckets):
                raise ValueError(f"unknown bucket {bucket}")
            self.objects[(bucket, name)] = StoredObject(
                data, str(uuid.uuid4()), _md5(data), None, dict(metadata or {}), _now()
            )

    def object_data(self, bucket: str, name: str) -> bytes | None:
        with self.lock:
            stored = self.objects.get((bucket, name))
        return None if stored is None else stored.data

    def image(self, image_id: str) -> dict[str, Any]:
        with self.lock:
            return dict(next(i for i in self.state["images"] if i["id"] == image_id))

    def part_uploads(self) -> list[int]:
        """The part numbers of every UploadPart request seen, in order."""
        return [
            int(r.query["uploadPartNum"][0])
            for r in self.seen("/n/")
            if r.method == "PUT" and "uploadPartNum" in r.query
        ]

    def seen(self, path_prefix: str = "") -> list[SeenRequest]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    # --- serving ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.root

    # --- the rules -------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, Any, dict[str, str], str | None]:
        """Answer one request: (status, body, extra headers, authenticated key id). The body is
        JSON-able, raw `bytes` (an object's content) or None (no content)."""
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        key_id: str | None = None
        try:
            key_id = self._authenticate(method, target, headers, body)
            self._fault(method, path, query)
            call = Call(method, path.rstrip("/") or "/", query, headers, body)
            status, payload, extra = self._route(call)
        except ApiError as exc:
            status, payload, extra = exc.status, {"code": exc.code, "message": exc.message}, {}
        with self.lock:
            self.requests.append(SeenRequest(method, path, query, key_id, status, len(body)))
        return status, payload, extra, key_id

    def _authenticate(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> str:
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
        self._check_body(method, unquote(urlsplit(target).path), signed, headers, body)
        return key_id

    @staticmethod
    def _check_body(
        method: str, path: str, signed: list[str], headers: dict[str, str], body: bytes
    ) -> None:
        """POST/PUT sign their body's length, type and SHA-256 (the SDK's body signer); the
        signed values must be the body's. Object and part uploads may leave the body out."""
        if method not in ("POST", "PUT", "PATCH"):
            return
        if not set(BODY_HEADERS) <= set(signed):
            if method == "PUT" and UNSIGNED_BODY.fullmatch(path):
                return
            raise ApiError(
                401, "NotAuthenticated", f"{', '.join(BODY_HEADERS)} must be signed for {method}"
            )
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        if headers.get("x-content-sha256") != digest:
            raise ApiError(401, "NotAuthenticated", "x-content-sha256 does not match the body")
        if headers.get("content-length") != str(len(body)):
            raise ApiError(401, "NotAuthenticated", "content-length does not match the body")

    @staticmethod
    def _check_date(value: str) -> None:
        try:
            sent = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise ApiError(401, "NotAuthenticated", "Missing or malformed date header.") from None
        if abs(datetime.now(UTC) - sent) > CLOCK_SKEW:
            raise ApiError(401, "NotAuthenticated", "The request date is out of range.")

    def _fault(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        with self.lock:
            for fault in self.faults:
                if not fault.matches(method, path, query):
                    continue
                if fault.times is not None and fault.hits >= fault.times:
                    continue
                fault.hits += 1
                raise ApiError(fault.status, fault.code, fault.message)

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Callable[[Call], Answer]]]:
        bucket = r"/n/([^/]+)/b/([^/]+)"
        image = rf"{CORE}/images/([^/]+)"
        table: list[tuple[str, str, Callable[[Call], Answer]]] = [
            ("GET", f"{CORE}/availabilityDomains", self._availability_domains),
            ("GET", "/n", lambda call: (200, self.namespace, {})),
            ("GET", r"/n/([^/]+)/b", self._list_buckets),
            ("POST", r"/n/([^/]+)/b", self._create_bucket),
            ("GET", bucket, self._get_bucket),
            ("GET", f"{bucket}/o", self._list_objects),
            ("HEAD", f"{bucket}/o/(.+)", self._head_object),
            ("GET", f"{bucket}/o/(.+)", self._get_object),
            ("DELETE", f"{bucket}/o/(.+)", self._delete_object),
            ("POST", f"{bucket}/u", self._create_upload),
            ("GET", f"{bucket}/u", self._list_uploads),
            ("PUT", f"{bucket}/u/(.+)", self._upload_part),
            ("GET", f"{bucket}/u/(.+)", self._list_parts),
            ("POST", f"{bucket}/u/(.+)", self._commit_upload),
            ("DELETE", f"{bucket}/u/(.+)", self._abort_upload),
            ("POST", f"{CORE}/images", self._create_image),
            ("GET", image, self._get_image),
            ("DELETE", image, self._delete_image),
            ("PUT", f"{image}/shapes/([^/]+)", self._add_shape),
            ("GET", f"{CORE}/computeGlobalImageCapabilitySchemas", self._global_schemas),
            ("POST", f"{CORE}/computeImageCapabilitySchemas", self._create_schema),
        ]
        return [(method, re.compile(pattern), answer) for method, pattern, answer in table]

    def _route(self, call: Call) -> Answer:
        if call.path in LISTS and call.method == "GET":
            return self._list(LISTS[call.path], call.query)
        other_method = call.path in LISTS
        for method, pattern, answer in self._routes:
            match = pattern.fullmatch(call.path)
            if match is None:
                continue
            if method != call.method:
                other_method = True
                continue
            return answer(replace(call, groups=match.groups()))
        if other_method:
            raise ApiError(405, "MethodNotAllowed", f"{call.method} is not supported here")
        raise ApiError(404, "NotFound", f"No such path: {call.path}")

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
        value = _param(query, name)
        if value is None:
            raise ApiError(400, "MissingParameter", f"Missing required parameter {name}")
        if value not in self.compartments:
            raise not_found()
        return value

    def _list(self, spec: ListSpec, query: dict[str, list[str]]) -> Answer:
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
        size = self._limit(query)
        start = _decode_page(_param(query, "page"))
        if start > len(items):
            raise ApiError(400, "InvalidParameter", "Invalid page token")
        end = start + size
        headers = {"opc-next-page": _encode_page(end)} if end < len(items) else {}
        return [_public(item) for item in items[start:end]], headers

    def _limit(self, query: dict[str, list[str]]) -> int:
        limit_text = _param(query, "limit")
        try:
            limit = int(limit_text) if limit_text is not None else self.page_size
        except ValueError:
            raise ApiError(400, "InvalidParameter", f"Invalid limit {limit_text}") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(400, "InvalidParameter", f"limit must be in 1..{MAX_LIMIT}")
        return min(limit, self.page_size)

    # --- Object Storage: buckets -----------------------------------------------------------

    def _namespace(self, namespace: str) -> None:
        if namespace != self.namespace:
            raise ApiError(
                404,
                "NamespaceNotFound",
                f"You do not have authorization to perform "
                f"this request, or the requested resource could not be found: "
                f"{namespace}",
            )

    def _bucket(self, namespace: str, name: str) -> dict[str, Any]:
        self._namespace(namespace)
        with self.lock:
            found = [b for b in self.buckets if b["name"] == name]
        if not found:
            raise ApiError(
                404,
                "BucketNotFound",
                f"Either the bucket named '{name}' does not "
                f"exist in the namespace '{namespace}' or you are not authorized to "
                f"access it",
            )
        return found[0]

    def _list_buckets(self, call: Call) -> Answer:
        self._namespace(call.groups[0])
        compartment = self._compartment(call.query, "compartmentId")
        with self.lock:
            items = [
                {name: bucket[name] for name in BUCKET_SUMMARY_FIELDS}
                for bucket in self.buckets
                if bucket["compartmentId"] == compartment
            ]
        page, headers = self._page(items, call.query)
        return 200, page, headers

    def _create_bucket(self, call: Call) -> Answer:
        self._namespace(call.groups[0])
        details = call.json()
        name, compartment = details.get("name"), details.get("compartmentId")
        if not isinstance(name, str) or not isinstance(compartment, str):
            raise ApiError(400, "MissingParameter", "name and compartmentId are required")
        if compartment not in self.compartments:
            raise not_found()
        with self.lock:
            exists = any(b["name"] == name for b in self.buckets)
        if exists:
            raise ApiError(409, "BucketAlreadyExists", f"Bucket '{name}' already exists")
        self.add_bucket(compartment, name, storage_tier=details.get("storageTier") or "Standard")
        bucket = dict(self._bucket(call.groups[0], name))
        return 200, bucket, {"etag": bucket["etag"]}

    def _get_bucket(self, call: Call) -> Answer:
        requested = set((call.param("fields") or "").split(",")) - {""}
        unknown = requested - set(BUCKET_OPTIONAL_FIELDS)
        if unknown:
            raise ApiError(400, "InvalidParameter", f"Invalid fields: {sorted(unknown)}")
        bucket = dict(self._bucket(*call.groups))
        for optional in BUCKET_OPTIONAL_FIELDS:
            if optional not in requested and optional != "autoTiering":
                bucket[optional] = None
        return 200, bucket, {"etag": bucket["etag"]}

    # --- Object Storage: objects -----------------------------------------------------------

    def _object(self, call: Call) -> StoredObject:
        namespace, bucket, name = call.groups
        self._bucket(namespace, bucket)
        with self.lock:
            stored = self.objects.get((bucket, name))
        if stored is None:
            raise ApiError(
                404, "ObjectNotFound", f"The object '{name}' was not found in the bucket '{bucket}'"
            )
        return stored

    def _list_objects(self, call: Call) -> Answer:
        _, bucket = call.groups
        self._bucket(*call.groups)
        fields = set((call.param("fields") or "name").split(",")) - {""}
        unknown = fields - set(OBJECT_FIELDS)
        if unknown:
            raise ApiError(400, "InvalidParameter", f"Invalid fields: {sorted(unknown)}")
        prefix, start = call.param("prefix") or "", call.param("start") or ""
        with self.lock:
            names = sorted(
                name
                for (in_bucket, name) in self.objects
                if in_bucket == bucket and name.startswith(prefix) and name >= start
            )
            size = self._limit(call.query)
            objects = [
                self._object_summary(name, self.objects[(bucket, name)], fields)
                for name in names[:size]
            ]
        body = {"objects": objects, "prefixes": []}
        if len(names) > size:
            body["nextStartWith"] = names[size]
        return 200, body, {}

    @staticmethod
    def _object_summary(name: str, stored: StoredObject, fields: set[str]) -> dict[str, Any]:
        values = {
            "name": name,
            "size": len(stored.data),
            "etag": stored.etag,
            "md5": stored.multipart_md5 or stored.md5,
            "timeCreated": stored.time_created,
            "timeModified": stored.time_created,
            "storageTier": "Standard",
            "archivalState": None,
        }
        return {key: value for key, value in values.items() if key in fields | {"name"}}

    @staticmethod
    def _object_headers(stored: StoredObject) -> dict[str, str]:
        headers = {"etag": stored.etag, "last-modified": stored.time_created}
        if stored.multipart_md5:
            headers["opc-multipart-md5"] = stored.multipart_md5
        else:
            headers["content-md5"] = stored.md5
        headers.update(stored.metadata)
        return headers

    def _head_object(self, call: Call) -> Answer:
        stored = self._object(call)
        headers = self._object_headers(stored)
        headers["content-length"] = str(len(stored.data))
        return 200, None, headers

    def _get_object(self, call: Call) -> Answer:
        stored = self._object(call)
        return 200, stored.data, self._object_headers(stored)

    def _delete_object(self, call: Call) -> Answer:
        self._object(call)
        with self.lock:
            self.objects.pop((call.groups[1], call.groups[2]), None)
        return 204, None, {"last-modified": _now()}

    # --- Object Storage: multipart uploads -------------------------------------------------

    def _upload(self, call: Call) -> Upload:
        namespace, bucket, name = call.groups
        self._bucket(namespace, bucket)
        upload_id = call.required("uploadId")
        with self.lock:
            upload = self.uploads.get(upload_id)
        if upload is None or (upload.bucket, upload.name) != (bucket, name):
            raise ApiError(
                404, "NoSuchUpload", f"The upload '{upload_id}' does not exist for '{name}'"
            )
        return upload

    def _create_upload(self, call: Call) -> Answer:
        namespace, bucket = call.groups
        self._bucket(namespace, bucket)
        details = call.json()
        name = details.get("object")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "MissingParameter", "Missing required field object")
        metadata = details.get("metadata") or {}
        if not all(str(key).startswith("opc-meta-") for key in metadata):
            raise ApiError(400, "InvalidParameter", "metadata keys must start with opc-meta-")
        upload = Upload(bucket, name, str(uuid.uuid4()), dict(metadata), _now())
        with self.lock:
            self.uploads[upload.upload_id] = upload
        return 200, upload.summary(namespace), {}

    def _list_uploads(self, call: Call) -> Answer:
        namespace, bucket = call.groups
        self._bucket(namespace, bucket)
        with self.lock:
            items = [u.summary(namespace) for u in self.uploads.values() if u.bucket == bucket]
        page, headers = self._page(items, call.query)
        return 200, page, headers

    def _upload_part(self, call: Call) -> Answer:
        upload = self._upload(call)
        number_text = call.required("uploadPartNum")
        number = int(number_text) if number_text.isdigit() else 0
        if not 1 <= number <= MAX_PART_NUMBER:
            raise ApiError(
                400, "InvalidParameter", f"uploadPartNum must be in 1..{MAX_PART_NUMBER}"
            )
        body = call.body
        with self.lock:
            if number in self.corrupt_parts:
                self.corrupt_parts.discard(number)
                body = bytes([body[0] ^ 0xFF]) + body[1:] if body else b"\0"
            misreport = number in self.misreport_md5_parts
            self.misreport_md5_parts.discard(number)
        md5 = _md5(body)
        sent = call.headers.get("content-md5")
        if sent is not None and sent != md5:
            raise ApiError(
                400,
                "UnmatchedContentMD5",
                f"The computed MD5 of the request body ({md5}) does not match the "
                f"Content-MD5 header ({sent})",
            )
        part = Part(body, md5, str(uuid.uuid4()))
        with self.lock:
            upload.parts[number] = part
        answered = _md5(body + b"misreported") if misreport else md5
        return 200, None, {"etag": part.etag, "opc-content-md5": answered}

    def _list_parts(self, call: Call) -> Answer:
        upload = self._upload(call)
        with self.lock:
            items = [
                {"partNumber": n, "size": len(p.data), "md5": p.md5, "etag": p.etag}
                for n, p in sorted(upload.parts.items())
            ]
        page, headers = self._page(items, call.query)
        return 200, page, headers

    def _commit_upload(self, call: Call) -> Answer:
        upload = self._upload(call)
        details = call.json()
        commit = {int(p["partNum"]): str(p["etag"]) for p in details.get("partsToCommit") or []}
        exclude = {int(n) for n in details.get("partsToExclude") or []}
        with self.lock:
            parts = dict(upload.parts)
        if not commit:
            raise ApiError(400, "InvalidParameter", "partsToCommit must not be empty")
        for number, etag in commit.items():
            if number not in parts or parts[number].etag != etag:
                raise ApiError(
                    400, "InvalidParameter", f"Part {number} with etag {etag} was not uploaded"
                )
        unlisted = set(parts) - set(commit) - exclude
        if unlisted:
            raise ApiError(
                400,
                "InvalidParameter",
                f"Parts {sorted(unlisted)} are neither in partsToCommit nor partsToExclude",
            )
        ordered = [parts[n] for n in sorted(commit)]
        for number, part in zip(sorted(commit)[:-1], ordered[:-1], strict=True):
            if len(part.data) < self.min_part_size:
                raise ApiError(
                    400, "InvalidParameter", f"Part {number} is smaller than {self.min_part_size}"
                )
        digest = multipart_md5([p.md5 for p in ordered])
        data = b"".join(p.data for p in ordered)
        # A multipart object has no plain Content-MD5 in OCI, only opc-multipart-md5.
        stored = StoredObject(data, str(uuid.uuid4()), "", digest, upload.metadata, _now())
        with self.lock:
            self.objects[(upload.bucket, upload.name)] = stored
            self.uploads.pop(upload.upload_id, None)
        headers = {"etag": stored.etag, "opc-multipart-md5": digest, "last-modified": _now()}
        return 200, None, headers

    def _abort_upload(self, call: Call) -> Answer:
        upload = self._upload(call)
        with self.lock:
            self.uploads.pop(upload.upload_id, None)
        return 204, None, {}

    # --- Compute: custom images ------------------------------------------------------------

    def _image(self, image_id: str) -> dict[str, Any]:
        with self.lock:
            found = [i for i in self.state["images"] if i["id"] == image_id]
        if not found or found[0]["lifecycleState"] == "DELETED":
            raise not_found()
        return found[0]

    def _create_image(self, call: Call) -> Answer:
        details = call.json()
        token = call.headers.get("opc-retry-token")
        with self.lock:
            known = self.retry_tokens.get(token or "")
        if known is not None:
            return 200, _public(self._image(known)), {}
        compartment = details.get("compartmentId")
        if compartment not in self.compartments:
            raise not_found()
        source = details.get("imageSourceDetails")
        if not isinstance(source, dict) or source.get("sourceType") != "objectStorageTuple":
            raise ApiError(
                400, "InvalidParameter", "imageSourceDetails must be an objectStorageTuple"
            )
        source_type = source.get("sourceImageType")
        if source_type not in IMAGE_SOURCE_TYPES:
            raise ApiError(400, "InvalidParameter", f"Invalid sourceImageType {source_type}")
        mode = details.get("launchMode")
        if mode is not None and mode not in LAUNCH_MODES:
            raise ApiError(400, "InvalidParameter", f"Invalid launchMode {mode}")
        with self.lock:
            stored = self.objects.get((source.get("bucketName"), source.get("objectName")))
        if source.get("namespaceName") != self.namespace or stored is None:
            raise ApiError(
                400,
                "InvalidParameter",
                "Invalid objectName: Specified object or bucket or namespace to import image "
                "from does not exist",
            )
        valid = source_type != "QCOW2" or stored.data.startswith(QCOW2_MAGIC)
        image_id = self._add(
            "images",
            str(compartment),
            {
                "id": self.ocid("image"),
                "displayName": details.get("displayName") or f"image-{uuid.uuid4().hex[:8]}",
                "lifecycleState": "IMPORTING",
                "launchMode": mode or "PARAVIRTUALIZED",
                "launchOptions": {
                    "bootVolumeType": "PARAVIRTUALIZED",
                    "firmware": "BIOS",
                    "networkType": "PARAVIRTUALIZED",
                    "remoteDataVolumeType": "PARAVIRTUALIZED",
                    "isPvEncryptionInTransitEnabled": False,
                    "isConsistentVolumeNamingEnabled": False,
                },
                "operatingSystem": source.get("operatingSystem") or "Custom",
                "operatingSystemVersion": source.get("operatingSystemVersion") or "",
                "createImageAllowed": True,
                "baseImageId": None,
                "listingType": "NONE",
                "sizeInMBs": math.ceil(len(stored.data) / 2**20),
                "billableSizeInGBs": math.ceil(len(stored.data) / 2**30),
                "freeformTags": details.get("freeformTags") or {},
                "definedTags": {},
                "_valid": valid,
            },
        )
        with self.lock:
            self.image_polls[image_id] = 0
            self.image_shapes[image_id] = {}
            if token:
                self.retry_tokens[token] = image_id
        image = self._image(image_id)
        headers = {"etag": str(uuid.uuid4()), "opc-work-request-id": self.ocid("workrequest")}
        return 200, _public(image), headers

    def _get_image(self, call: Call) -> Answer:
        image = self._image(call.groups[0])
        with self.lock:
            polls = self.image_polls.get(image["id"], 0) + 1
            self.image_polls[image["id"]] = polls
            outcome = self.import_outcome
            if image["lifecycleState"] == "IMPORTING" and polls >= self.import_polls and outcome:
                ok = outcome != "AVAILABLE" or image.get("_valid", True)
                image["lifecycleState"] = outcome if ok else IMPORT_FAILED_STATE
        return 200, _public(image), {"etag": str(uuid.uuid4())}

    def _delete_image(self, call: Call) -> Answer:
        image = self._image(call.groups[0])
        with self.lock:
            image["lifecycleState"] = "DELETED"
        return 204, None, {}

    def _add_shape(self, call: Call) -> Answer:
        image_id, shape = call.groups
        image = self._image(image_id)
        if image["lifecycleState"] != "AVAILABLE":
            raise ApiError(409, "IncorrectState", f"Image is {image['lifecycleState']}")
        if shape not in KNOWN_SHAPES:
            raise ApiError(400, "InvalidParameter", f"Unknown shape {shape}")
        details = call.json()
        entry = {
            "imageId": image_id,
            "shape": shape,
            "memoryConstraints": details.get("memoryConstraints"),
            "ocpuConstraints": details.get("ocpuConstraints"),
        }
        with self.lock:
            self.image_shapes.setdefault(image_id, {})[shape] = entry
        return 200, entry, {"etag": str(uuid.uuid4())}

    def _global_schemas(self, call: Call) -> Answer:
        item = {
            "id": GLOBAL_SCHEMA_ID,
            "compartmentId": None,
            "currentVersionName": GLOBAL_SCHEMA_VERSION,
            "displayName": "OCI.ComputeGlobalImageCapabilitySchema",
            "timeCreated": "2020-01-01T00:00:00.000Z",
        }
        page, headers = self._page([item], call.query)
        return 200, page, headers

    def _create_schema(self, call: Call) -> Answer:
        details = call.json()
        compartment = details.get("compartmentId")
        if compartment not in self.compartments:
            raise not_found()
        version = details.get("computeGlobalImageCapabilitySchemaVersionName")
        if version != GLOBAL_SCHEMA_VERSION:
            raise ApiError(400, "InvalidParameter", f"Unknown global schema version {version}")
        image = self._image(str(details.get("imageId")))
        if image["lifecycleState"] != "AVAILABLE":
            raise ApiError(409, "IncorrectState", f"Image is {image['lifecycleState']}")
        data = details.get("schemaData")
        if not isinstance(data, dict) or not data:
            raise ApiError(400, "InvalidParameter", "schemaData must not be empty")
        for name, descriptor in data.items():
            _check_descriptor(name, descriptor)
        schema_id = self._add(
            "computeImageCapabilitySchemas",
            str(compartment),
            {
                "id": self.ocid("computeimgcapschema"),
                "computeGlobalImageCapabilitySchemaId": GLOBAL_SCHEMA_ID,
                "computeGlobalImageCapabilitySchemaVersionName": version,
                "imageId": image["id"],
                "displayName": details.get("displayName") or f"schema-{uuid.uuid4().hex[:8]}",
                "schemaData": data,
                "freeformTags": {},
                "definedTags": {},
            },
        )
        firmware = data.get("Compute.Firmware")
        with self.lock:
            if isinstance(firmware, dict):
                image["launchOptions"]["firmware"] = firmware.get("defaultValue")
            kind = self.state["computeImageCapabilitySchemas"]
            schema = next(s for s in kind if s["id"] == schema_id)
        return 200, dict(schema), {"etag": str(uuid.uuid4())}


def _public(image: dict[str, Any]) -> dict[str, Any]:
    """An image as the API shows it: without the fake's own bookkeeping fields."""
    return {key: value for key, value in image.items() if not key.startswith("_")}


def _check_descriptor(name: str, descriptor: Any) -> None:
    allowed = GLOBAL_SCHEMA.get(name)
    if allowed is None or not isinstance(descriptor, dict):
        raise ApiError(400, "InvalidParameter", f"Unknown image capability {name}")
    if descriptor.get("descriptorType") != "enumstring":
        raise ApiError(400, "InvalidParameter", f"{name}: descriptorType must be enumstring")
    values = descriptor.get("values") or []
    default = descriptor.get("defaultValue")
    if not values or not set(values) <= set(allowed) or default not in values:
        raise ApiError(
            400, "InvalidParameter", f"{name}: values must be a subset of {list(allowed)}"
        )


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
    chunk = 64 * 1024
    # Headers and body leave in separate writes: with Nagle's algorithm against the client's
    # delayed ACK, every JSON answer would wait ~40 ms.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def _answer(self) -> None:
        fake = self.fake
        with fake.lock:
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
        try:
            self._exchange()
        finally:
            with fake.lock:
                fake.in_flight -= 1

    def _exchange(self) -> None:
        body = self._receive(int(self.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra, _ = self.fake.handle(self.command, self.path, headers, body)
        if payload is None:
            data, content_type = b"", None
        elif isinstance(payload, bytes):
            data, content_type = payload, "application/octet-stream"
        else:
            data, content_type = json.dumps(payload).encode(), "application/json"
        extra = dict(extra)
        length = extra.pop("content-length", str(len(data)))
        client_id = headers.get("opc-request-id") or uuid.uuid4().hex.upper()
        self.send_response(status)
        if content_type is not None:
            self.send_header("content-type", content_type)
        self.send_header("content-length", length)
        self.send_header("opc-request-id", f"{client_id}/{uuid.uuid4().hex.upper()}")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and data:
            self._send(data)

    def _receive(self, length: int) -> bytes:
        """Read the request body, no faster than the fake's throttle allows."""
        chunks: list[bytes] = []
        received, started = 0, time.monotonic()
        while received < length:
            chunk = self.rfile.read(min(self.chunk, length - received))
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
            self._pace(received, started)
        return b"".join(chunks)

    def _send(self, data: bytes) -> None:
        started = time.monotonic()
        for offset in range(0, len(data), self.chunk):
            self.wfile.write(data[offset : offset + self.chunk])
            self._pace(offset + self.chunk, started)

    def _pace(self, done: int, started: float) -> None:
        rate = self.fake.throttle_bytes_per_second
        if rate:
            ahead = done / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read `FakeOci.requests` instead."""


FakeOci.handler = _Handler


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
