"""OCI Object Storage through the native API: a bucket, its objects, and the conditional writes
a lock is made of.

Every call goes through the SDK client `freetier.oci_clients.make_client` builds, so the retry
policy, the timeout and `FREETIER_OCI_ENDPOINT` apply, and every failure is one line. OCI
answers a failed `If-None-Match: *` or `If-Match` with 412 (IfNoneMatchFailed, IfMatchFailed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import oci

from freetier.oci_clients import (
    DEFAULT_RETRY,
    RetryPolicy,
    call,
    make_client,
    remote_errors,
)

LIST_LIMIT = 1000
MISSING = frozenset({404})
PRECONDITION_FAILED = 412


@dataclass(frozen=True)
class Bucket:
    """A bucket as the SDK addresses it: a client, the tenancy's namespace and the name."""

    client: Any
    namespace: str
    name: str

    def with_client(self, client: Any) -> Bucket:
        """The same bucket through another client (one per upload thread)."""
        return Bucket(client, self.namespace, self.name)


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    size: int


def object_client(
    config: Mapping[str, Any],
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    env: Mapping[str, str] | None = None,
) -> Any:
    """An ObjectStorageClient for `config`, through the toolkit's one client factory."""
    return make_client(oci.object_storage.ObjectStorageClient, config, retry=retry, env=env)


def open_bucket(client: Any, name: str) -> Bucket:
    """The bucket `name` of the tenancy's namespace (looked up once per run)."""
    namespace = call(client.get_namespace).data
    return Bucket(client, str(namespace), name)


def call_unless(
    statuses: frozenset[int], fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any | None:
    """`oci_clients.call`, except that an answer with one of `statuses` is None."""
    client = getattr(fn, "__self__", None)
    with remote_errors(f"{type(client).__name__} {getattr(fn, '__name__', 'call')}"):
        try:
            return fn(*args, **kwargs)
        except oci.exceptions.ServiceError as exc:
            if exc.status in statuses:
                return None
            raise


def call_unless_missing(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any | None:
    """`oci_clients.call`, except that a 404 (no such bucket, object or image) answers None."""
    return call_unless(MISSING, fn, *args, **kwargs)


def bucket_exists(bucket: Bucket) -> bool:
    found = call_unless_missing(bucket.client.get_bucket, bucket.namespace, bucket.name)
    return found is not None


def ensure_bucket(bucket: Bucket, compartment_id: str) -> bool:
    """Create the bucket (private, Standard tier) when it does not exist; True if created."""
    if bucket_exists(bucket):
        return False
    details = oci.object_storage.models.CreateBucketDetails(
        name=bucket.name,
        compartment_id=compartment_id,
        public_access_type="NoPublicAccess",
        storage_tier="Standard",
    )
    call(bucket.client.create_bucket, bucket.namespace, details)
    return True


def list_objects(bucket: Bucket, prefix: str | None = None) -> list[ObjectInfo]:
    """Every object of the bucket (under `prefix`) with its size, following `nextStartWith`.

    `oci_clients.list_all` does not apply: ListObjects pages by `start`, not `opc-next-page`,
    and answers one ListObjects object per page instead of a list."""
    found: list[ObjectInfo] = []
    start: str | None = None
    while True:
        kwargs: dict[str, Any] = {"fields": "name,size", "limit": LIST_LIMIT}
        if prefix:
            kwargs["prefix"] = prefix
        if start is not None:
            kwargs["start"] = start
        page = call(bucket.client.list_objects, bucket.namespace, bucket.name, **kwargs).data
        found += [ObjectInfo(str(o.name), int(o.size or 0)) for o in page.objects]
        start = page.next_start_with
        if start is None:
            return found


def head_object(bucket: Bucket, name: str) -> dict[str, str] | None:
    """The object's headers (lower-case names), or None when there is no such object."""
    response = call_unless_missing(bucket.client.head_object, bucket.namespace, bucket.name, name)
    if response is None:
        return None
    return {str(k).lower(): str(v) for k, v in response.headers.items()}


def delete_object(bucket: Bucket, name: str) -> bool:
    """Delete the object; False when it was already gone."""
    done = call_unless_missing(bucket.client.delete_object, bucket.namespace, bucket.name, name)
    return done is not None


def create_object(bucket: Bucket, name: str, data: bytes, content_type: str) -> str | None:
    """Write the object only if none of that name exists (`If-None-Match: *`, atomic in OCI):
    its ETag, or None when one already exists."""
    response = call_unless(
        frozenset({PRECONDITION_FAILED}),
        bucket.client.put_object,
        bucket.namespace,
        bucket.name,
        name,
        data,
        if_none_match="*",
        content_type=content_type,
    )
    return None if response is None else str(response.headers["etag"])


def read_object(bucket: Bucket, name: str) -> tuple[bytes, str] | None:
    """The object's content and ETag, or None when there is no such object."""
    response = call_unless_missing(bucket.client.get_object, bucket.namespace, bucket.name, name)
    if response is None:
        return None
    with remote_errors("ObjectStorageClient get_object"):
        data = bytes(response.data.content)
    return data, str(response.headers["etag"])


def delete_unchanged(bucket: Bucket, name: str, etag: str) -> Literal["deleted", "gone", "changed"]:
    """Delete the object only while its ETag is still `etag` (`If-Match`): "deleted", "gone"
    when there is no such object, "changed" when another write replaced it (it stays)."""
    with remote_errors("ObjectStorageClient delete_object"):
        try:
            bucket.client.delete_object(bucket.namespace, bucket.name, name, if_match=etag)
        except oci.exceptions.ServiceError as exc:
            if exc.status in MISSING:
                return "gone"
            if exc.status == PRECONDITION_FAILED:
                return "changed"
            raise
    return "deleted"
