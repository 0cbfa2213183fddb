"""Object Storage on top of the fake tenancy: buckets, objects (`start`/`nextStartWith`
listing), single PutObject and multipart uploads, the part the image stage and the state lock
write through. Its own module because writes have rules of their own: uploads check `Content-MD5`
(400 UnmatchedContentMD5) and answer `ETag` and `opc-content-md5`; a commit assembles the parts
and answers `opc-multipart-md5`. `corrupt_parts` / `misreport_md5_parts` damage one upload of
the given part numbers, and `min_part_size` is the smallest part a commit accepts but the last.

PutObject and DeleteObject honour `If-None-Match: *` and `If-Match: <etag>` atomically, as OCI
does: 412 IfNoneMatchFailed / IfMatchFailed, the object unchanged. An ETag is a UUID, as in
OCI. `ignore_conditions` makes the store silently ignore both headers, as some S3-compatible
stores do (lxc/incus#3651): what a lock built on them must not rely on unproven."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.oci_resources import OciResources
from tests.fakes.oci_wire import Answer, ApiError, Call, Route, not_found, now

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


def _no_object(bucket: str, name: str) -> ApiError:
    return ApiError(
        404, "ObjectNotFound", f"The object '{name}' was not found in the bucket '{bucket}'"
    )


def checked_md5(body: bytes, headers: dict[str, str]) -> str:
    """The body's MD5; 400 UnmatchedContentMD5 when a `Content-MD5` header says otherwise."""
    md5 = _md5(body)
    sent = headers.get("content-md5")
    if sent is not None and sent != md5:
        raise ApiError(
            400,
            "UnmatchedContentMD5",
            f"The computed MD5 of the request body ({md5}) does not match the "
            f"Content-MD5 header ({sent})",
        )
    return md5


def check_conditions(headers: dict[str, str], stored: StoredObject | None) -> None:
    """`If-None-Match: *` and `If-Match: <etag>` against the object as it is now (call it under
    the storage's lock, so the check and the write are one step)."""
    none_match, match = headers.get("if-none-match"), headers.get("if-match")
    if none_match is not None and none_match != "*":
        raise ApiError(400, "InvalidParameter", "The only valid value of if-none-match is *")
    if none_match is not None and stored is not None:
        raise ApiError(
            412,
            "IfNoneMatchFailed",
            "The If-None-Match header is '*' but there is an existing entity",
        )
    if match is not None and (stored is None or stored.etag != match.strip('"')):
        raise ApiError(
            412, "IfMatchFailed", f"The If-Match header ({match}) does not match the entity's ETag"
        )


def multipart_md5(part_md5s: list[str]) -> str:
    """OCI's `opc-multipart-md5`: the MD5 of the parts' raw MD5s, then `-<part count>`."""
    raw = b"".join(base64.b64decode(value) for value in part_md5s)
    return f"{_md5(raw)}-{len(part_md5s)}"


class ObjectStorage(OciResources):
    """The tenancy's Object Storage namespace: its buckets, objects and multipart uploads."""

    def __init__(self, tenancy: str, *, namespace: str, **config: Any) -> None:
        super().__init__(tenancy, **config)
        self.namespace = namespace
        self.buckets: list[dict[str, Any]] = []
        # Objects by (bucket, name), multipart uploads by upload id.
        self.objects: dict[tuple[str, str], StoredObject] = {}
        self.uploads: dict[str, Upload] = {}
        # Knobs: parts whose next upload arrives damaged, or whose next answer names a wrong
        # MD5; the smallest part a commit accepts but the last.
        self.corrupt_parts: set[int] = set()
        self.misreport_md5_parts: set[int] = set()
        self.min_part_size = 0
        self.ignore_conditions = False

    # --- seeding and inspection ------------------------------------------------------------

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
                    "timeCreated": now(),
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

    def add_object(
        self, bucket: str, name: str, data: bytes, *, metadata: dict[str, str] | None = None
    ) -> None:
        """Store an object as a single PutObject would."""
        with self.lock:
            if not any(b["name"] == bucket for b in self.buckets):
                raise ValueError(f"unknown bucket {bucket}")
            self.objects[(bucket, name)] = StoredObject(
                data, str(uuid.uuid4()), _md5(data), None, dict(metadata or {}), now()
            )

    def object_data(self, bucket: str, name: str) -> bytes | None:
        with self.lock:
            stored = self.objects.get((bucket, name))
        return None if stored is None else stored.data

    # --- the rules -------------------------------------------------------------------------

    def _object_storage_routes(self) -> list[Route]:
        bucket = r"/n/([^/]+)/b/([^/]+)"
        return [
            ("GET", "/n", lambda call: (200, self.namespace, {})),
            ("GET", r"/n/([^/]+)/b", self._list_buckets),
            ("POST", r"/n/([^/]+)/b", self._create_bucket),
            ("GET", bucket, self._get_bucket),
            ("GET", f"{bucket}/o", self._list_objects),
            ("PUT", f"{bucket}/o/(.+)", self._put_object),
            ("HEAD", f"{bucket}/o/(.+)", self._head_object),
            ("GET", f"{bucket}/o/(.+)", self._get_object),
            ("DELETE", f"{bucket}/o/(.+)", self._delete_object),
            ("POST", f"{bucket}/u", self._create_upload),
            ("GET", f"{bucket}/u", self._list_uploads),
            ("PUT", f"{bucket}/u/(.+)", self._upload_part),
            ("GET", f"{bucket}/u/(.+)", self._list_parts),
            ("POST", f"{bucket}/u/(.+)", self._commit_upload),
            ("DELETE", f"{bucket}/u/(.+)", self._abort_upload),
        ]

    # --- buckets ---------------------------------------------------------------------------

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

    # --- objects ---------------------------------------------------------------------------

    def _object(self, call: Call) -> StoredObject:
        namespace, bucket, name = call.groups
        self._bucket(namespace, bucket)
        with self.lock:
            stored = self.objects.get((bucket, name))
        if stored is None:
            raise _no_object(bucket, name)
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

    def _put_object(self, call: Call) -> Answer:
        namespace, bucket, name = call.groups
        self._bucket(namespace, bucket)
        md5 = checked_md5(call.body, call.headers)
        metadata = {k: v for k, v in call.headers.items() if k.startswith("opc-meta-")}
        stored = StoredObject(call.body, str(uuid.uuid4()), md5, None, metadata, now())
        with self.lock:  # the condition and the write are one step, as in OCI
            if not self.ignore_conditions:
                check_conditions(call.headers, self.objects.get((bucket, name)))
            self.objects[(bucket, name)] = stored
        return 200, None, {"etag": stored.etag, "opc-content-md5": md5, "last-modified": now()}

    def _delete_object(self, call: Call) -> Answer:
        namespace, bucket, name = call.groups
        self._bucket(namespace, bucket)
        with self.lock:
            found = self.objects.get((bucket, name))
            if found is None:
                raise _no_object(bucket, name)
            if not self.ignore_conditions:
                check_conditions(call.headers, found)
            self.objects.pop((bucket, name))
        return 204, None, {"last-modified": now()}

    # --- multipart uploads -----------------------------------------------------------------

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
        upload = Upload(bucket, name, str(uuid.uuid4()), dict(metadata), now())
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
        md5 = checked_md5(body, call.headers)
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
        stored = StoredObject(data, str(uuid.uuid4()), "", digest, upload.metadata, now())
        with self.lock:
            self.objects[(upload.bucket, upload.name)] = stored
            self.uploads.pop(upload.upload_id, None)
        headers = {"etag": stored.etag, "opc-multipart-md5": digest, "last-modified": now()}
        return 200, None, headers

    def _abort_upload(self, call: Call) -> Answer:
        upload = self._upload(call)
        with self.lock:
            self.uploads.pop(upload.upload_id, None)
        return 204, None, {}
