"""Object Storage reads for `images gate --live`: the bucket's usage, summed over every page of
ListObjects (the real oci SDK against the fake). The bucket and object calls themselves are
tests/test_object_storage.py's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from freetier.errors import RemoteError
from freetier.images.objectstore import GB, bucket_usage_gb
from tests.images import run_images
from tests.images.conftest_publish import BUCKET, FAST, MIB, World, world


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with world(tmp_path, monkeypatch, page_size=2) as running:
        yield running


def test_usage_sums_object_sizes_across_pages(env: World) -> None:
    env.add_bucket()
    sizes = [3 * MIB, 1, 0, 5 * MIB, 7 * MIB]
    for i, size in enumerate(sizes):
        env.fake.add_object(BUCKET, f"obj-{i}", b"x" * size)
    env.fake.add_bucket(env.compartment, "other")
    env.fake.add_object("other", "elsewhere", b"y" * MIB)

    used = bucket_usage_gb(env.stack, env.config, retry=FAST)

    assert used == pytest.approx(sum(sizes) / GB)
    pages = [r for r in env.fake.seen(f"/n/{env.fake.namespace}/b/{BUCKET}/o") if r.method == "GET"]
    assert len(pages) == 3  # five objects, two a page
    assert all(r.query["fields"] == ["name,size"] for r in pages)
    assert [r.query.get("start") for r in pages] == [None, ["obj-2"], ["obj-4"]]


def test_images_gate_live_adds_the_bucket_usage(
    env: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`images gate --live` reads the OCI config from $HOME and counts the bucket's objects."""
    env.add_bucket()
    env.fake.add_object(BUCKET, "a", b"x" * MIB)
    monkeypatch.setenv("HOME", str(env.root / "home"))
    images = env.root / "out"
    images.mkdir()
    (images / "base-arm64.qcow2").write_bytes(b"q" * 1000)
    run = run_images(
        ["images", "gate", "--live", "--format", "json", "--dir", str(images),
         "--stack", str(env.root / "stack.yaml")]
    )  # fmt: skip
    assert run.code == 0, run.err
    body = json.loads(run.out)
    assert body["bucket_gb"] == pytest.approx(MIB / GB, abs=1e-6)  # rounded to 6 places
    assert body["total_gb"] == pytest.approx((MIB + 1000) / GB, abs=1e-6)


def test_a_bucket_not_created_yet_uses_nothing(env: World) -> None:
    assert bucket_usage_gb(env.stack, env.config, retry=FAST) == 0.0


def test_a_failing_listing_is_one_line(env: World) -> None:
    env.add_bucket()
    env.fake.inject(f"/n/{env.fake.namespace}/b/{BUCKET}/o", 500, "InternalServerError", times=None)
    with pytest.raises(RemoteError) as info:
        bucket_usage_gb(env.stack, env.config, retry=FAST)
    assert "ObjectStorageClient list_objects: HTTP 500 InternalServerError" in str(info.value)
    assert "\n" not in str(info.value)
