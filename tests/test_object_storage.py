"""Buckets and objects through the native Object Storage API: the real oci SDK against the fake,
including the conditional writes the state lock is made of."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from freetier.errors import RemoteError
from freetier.object_storage import (
    Bucket,
    create_object,
    delete_object,
    delete_unchanged,
    ensure_bucket,
    head_object,
    list_objects,
    object_client,
    open_bucket,
    read_object,
)
from freetier.oci_clients import RetryPolicy, load_oci_config
from tests.fakes.oci_server import FakeOci, fake_tenancy

FAST = RetryPolicy(max_attempts=2, base_sleep_seconds=0.01, max_sleep_seconds=0.02)
NAME = "freetier-tfstate"


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOci]:
    with fake_tenancy(tmp_path, monkeypatch.setenv, page_size=2) as tenancy:
        yield tenancy.fake


@pytest.fixture
def bucket(fake: FakeOci, tmp_path: Path) -> Bucket:
    fake.add_bucket(fake.tenancy, NAME)
    return open_bucket(object_client(load_oci_config(os.environ, tmp_path), retry=FAST), NAME)


def test_listing_without_size_field_gives_names_only(fake: FakeOci, bucket: Bucket) -> None:
    fake.add_object(NAME, "a", b"abc")
    page = bucket.client.list_objects(fake.namespace, NAME).data
    assert [(o.name, o.size) for o in page.objects] == [("a", None)]
    assert [(o.name, o.size) for o in list_objects(bucket)] == [("a", 3)]


def test_bucket_is_created_private_once(fake: FakeOci, bucket: Bucket) -> None:
    compartment = fake.add_compartment()
    new = Bucket(bucket.client, bucket.namespace, "images")
    assert ensure_bucket(new, compartment) is True
    assert ensure_bucket(new, compartment) is False
    [created] = [b for b in fake.buckets if b["name"] == "images"]
    assert created["publicAccessType"] == "NoPublicAccess"
    assert created["compartmentId"] == compartment


def test_head_and_delete_tolerate_a_missing_object(fake: FakeOci, bucket: Bucket) -> None:
    fake.add_object(NAME, "a", b"abc", metadata={"opc-meta-sha256": "cafe"})
    headers = head_object(bucket, "a")
    assert headers is not None
    assert headers["content-length"] == "3"
    assert headers["opc-meta-sha256"] == "cafe"
    assert delete_object(bucket, "a") is True
    assert head_object(bucket, "a") is None
    assert delete_object(bucket, "a") is False


def test_create_writes_only_when_absent(fake: FakeOci, bucket: Bucket) -> None:
    etag = create_object(bucket, "lock", b"first", "application/json")
    assert etag is not None
    assert create_object(bucket, "lock", b"second", "application/json") is None
    assert read_object(bucket, "lock") == (b"first", etag)
    assert read_object(bucket, "absent") is None
    [put, refused] = [r for r in fake.seen(f"/n/{fake.namespace}/b/{NAME}/o/") if r.method == "PUT"]
    assert (put.status, refused.status) == (200, 412)


def test_delete_unchanged_leaves_a_replaced_object(fake: FakeOci, bucket: Bucket) -> None:
    first = create_object(bucket, "lock", b"first", "application/json")
    assert first is not None
    fake.add_object(NAME, "lock", b"someone else's")  # a new write, a new ETag
    assert delete_unchanged(bucket, "lock", first) == "changed"
    assert fake.object_data(NAME, "lock") == b"someone else's"
    found = read_object(bucket, "lock")
    assert found is not None
    assert delete_unchanged(bucket, "lock", found[1]) == "deleted"
    assert delete_unchanged(bucket, "lock", found[1]) == "gone"


def test_a_refused_write_is_one_line(fake: FakeOci, bucket: Bucket) -> None:
    fake.inject(f"/n/{fake.namespace}/b/{NAME}/o/", 403, "NotAuthorized", method="PUT")
    with pytest.raises(RemoteError) as info:
        create_object(bucket, "lock", b"x", "application/json")
    assert str(info.value).startswith("OCI ObjectStorageClient put_object: HTTP 403 NotAuthorized")
    assert "\n" not in str(info.value)
