"""Object Storage for the image stage: how much of the 20 GB Always Free allowance the objects
of the images bucket use. The bucket and its objects are `freetier.object_storage`'s."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from freetier.object_storage import Bucket, bucket_exists, list_objects, object_client, open_bucket
from freetier.oci_clients import DEFAULT_RETRY, RetryPolicy
from freetier.stack.model import Stack

GB = 10**9  # as `images gate` counts image sizes (the guard counts GiB: guard/classify.py)


def usage_bytes(bucket: Bucket) -> int:
    """Bytes the bucket's committed objects hold (0 when the bucket does not exist yet).

    Uncommitted multipart uploads are billed storage too; `images publish --abort` drops
    freetier's."""
    if not bucket_exists(bucket):
        return 0
    return sum(o.size for o in list_objects(bucket))


def bucket_usage_gb(
    stack: Stack,
    config: Mapping[str, Any],
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    env: Mapping[str, str] | None = None,
) -> float:
    """GB (10^9 bytes, the unit of `images gate`) used by the objects in
    `stack.images.bucket`: what `images gate --live` adds to the images it is about to
    upload, against the 20 GB Always Free allowance."""
    bucket = open_bucket(object_client(config, retry=retry, env=env), stack.images.bucket)
    return usage_bytes(bucket) / GB
