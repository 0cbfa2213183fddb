"""The multipart upload, through the real oci SDK against the fake Object Storage: parallel
parts, Content-MD5 both ways, resume after an interruption, abort."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from freetier.errors import ConfigError, RemoteError
from freetier.images.publish_upload import (
    MAX_PARTS,
    abort_uploads,
    find_upload,
    multipart_md5,
    plan_parts,
    upload_file,
)
from freetier.object_storage import Bucket, object_client, open_bucket
from tests.images.conftest_publish import BUCKET, FAST, MIB, World, random_file, world

PART = 4 * MIB
SIZE = 20 * MIB  # five parts of 4 MiB


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with world(tmp_path, monkeypatch) as running:
        running.add_bucket()
        yield running


def _clients(env: World, count: int) -> list[object]:
    return [object_client(env.config, retry=FAST) for _ in range(count)]


def _bucket(env: World) -> Bucket:
    return open_bucket(object_client(env.config, retry=FAST), BUCKET)


def _md5s(data: bytes, part: int) -> list[str]:
    return [
        base64.b64encode(hashlib.md5(data[i : i + part]).digest()).decode()  # noqa: S324
        for i in range(0, len(data), part)
    ]


def test_parts_go_in_parallel_and_commit_to_the_right_object(env: World, tmp_path: Path) -> None:
    source = random_file(tmp_path / "disk.qcow2", SIZE)
    env.fake.throttle_bytes_per_second = 40 * MIB  # each part takes ~0.1 s: they overlap

    result = upload_file(
        _bucket(env), "disk.qcow2", source, clients=_clients(env, 4), part_size=PART
    )

    data = source.read_bytes()
    assert result.uploaded_parts == (1, 2, 3, 4, 5)
    assert result.skipped_parts == ()
    assert result.bytes_sent == result.size == SIZE
    assert env.fake.object_data(BUCKET, "disk.qcow2") == data
    assert result.multipart_md5 == multipart_md5(_md5s(data, PART))
    stored = env.fake.objects[(BUCKET, "disk.qcow2")]
    assert stored.multipart_md5 == result.multipart_md5
    assert sorted(env.fake.part_uploads()) == [1, 2, 3, 4, 5]
    assert 2 <= env.fake.max_in_flight <= 4
    assert env.fake.uploads == {}


def test_every_part_carries_its_content_md5(env: World, tmp_path: Path) -> None:
    source = random_file(tmp_path / "disk.qcow2", 6 * MIB)
    env.fake.corrupt_parts = {2}  # part 2 arrives damaged: the service must refuse it

    with pytest.raises(RemoteError) as info:
        upload_file(_bucket(env), "disk.qcow2", source, part_size=PART)

    message = str(info.value)
    assert "HTTP 400 UnmatchedContentMD5" in message
    assert "\n" not in message
    assert (BUCKET, "disk.qcow2") not in env.fake.objects


def test_a_wrong_md5_in_the_answer_is_caught(env: World, tmp_path: Path) -> None:
    source = random_file(tmp_path / "disk.qcow2", 6 * MIB)
    env.fake.misreport_md5_parts = {1}

    with pytest.raises(RemoteError, match=r"part 1 of disk\.qcow2: the service stored MD5"):
        upload_file(_bucket(env), "disk.qcow2", source, part_size=PART)
    assert (BUCKET, "disk.qcow2") not in env.fake.objects


def test_interrupted_upload_resumes_without_resending_finished_parts(
    env: World, tmp_path: Path
) -> None:
    source = random_file(tmp_path / "disk.qcow2", SIZE)
    fault = env.fake.inject(
        "/n/", 500, "InternalServerError", method="PUT", query={"uploadPartNum": "3"}, times=None
    )

    with pytest.raises(RemoteError) as info:
        upload_file(_bucket(env), "disk.qcow2", source, clients=_clients(env, 2), part_size=PART)
    message = str(info.value)
    assert "\n" not in message
    assert "HTTP 500 InternalServerError" in message
    assert "rerun to resume, or --abort to discard it" in message
    assert fault.hits == FAST.max_attempts  # the client's retries, then it gave up
    first_run = env.fake.part_uploads()
    assert {1, 2} <= set(first_run)
    assert (BUCKET, "disk.qcow2") not in env.fake.objects
    [upload] = env.fake.uploads.values()
    kept = set(upload.parts)
    assert 3 not in kept and {1, 2} <= kept

    env.fake.faults.clear()
    result = upload_file(
        _bucket(env), "disk.qcow2", source, clients=_clients(env, 2), part_size=PART
    )

    resent = env.fake.part_uploads()[len(first_run) :]
    assert 1 not in resent and 2 not in resent
    assert sorted(resent) == sorted({1, 2, 3, 4, 5} - kept)
    assert set(result.skipped_parts) == kept
    assert result.upload_id == upload.upload_id
    assert env.fake.object_data(BUCKET, "disk.qcow2") == source.read_bytes()


def test_a_changed_file_resends_only_the_parts_that_differ(env: World, tmp_path: Path) -> None:
    source = random_file(tmp_path / "disk.qcow2", 12 * MIB)
    env.fake.inject(
        "/n/", 503, "ServiceUnavailable", method="PUT", times=None, query={"uploadPartNum": "3"}
    )
    with pytest.raises(RemoteError):
        upload_file(_bucket(env), "disk.qcow2", source, part_size=PART)
    env.fake.faults.clear()
    data = bytearray(source.read_bytes())
    data[5 * MIB] ^= 0xFF  # part 2 changes
    source.write_bytes(bytes(data))
    before = len(env.fake.part_uploads())

    result = upload_file(_bucket(env), "disk.qcow2", source, part_size=PART)

    assert sorted(env.fake.part_uploads()[before:]) == [2, 3]
    assert result.skipped_parts == (1,)
    assert env.fake.object_data(BUCKET, "disk.qcow2") == bytes(data)


def test_a_shorter_file_excludes_the_parts_it_no_longer_has(env: World, tmp_path: Path) -> None:
    source = random_file(tmp_path / "disk.qcow2", 12 * MIB)
    env.fake.inject(
        "/n/", 500, "InternalServerError", method="PUT", times=None, query={"uploadPartNum": "1"}
    )
    bucket = _bucket(env)
    with pytest.raises(RemoteError):
        upload_file(bucket, "disk.qcow2", source, clients=_clients(env, 3), part_size=PART)
    env.fake.faults.clear()
    [upload] = env.fake.uploads.values()
    assert set(upload.parts) == {2, 3}
    source.write_bytes(source.read_bytes()[: 6 * MIB])  # now parts 1 (4 MiB) and 2 (2 MiB)

    result = upload_file(bucket, "disk.qcow2", source, part_size=PART)

    assert result.uploaded_parts == (1, 2)
    assert env.fake.object_data(BUCKET, "disk.qcow2") == source.read_bytes()


def test_abort_drops_the_unfinished_uploads_of_a_prefix(env: World, tmp_path: Path) -> None:
    source = random_file(tmp_path / "disk.qcow2", 6 * MIB)
    env.fake.inject(
        "/n/", 500, "InternalServerError", method="PUT", times=None, query={"uploadPartNum": "2"}
    )
    bucket = _bucket(env)
    for name in ("base-arm64-aaaa.qcow2", "base-arm64-bbbb.qcow2", "proxmox-arm64-cccc.qcow2"):
        with pytest.raises(RemoteError):
            upload_file(bucket, name, source, part_size=PART)

    assert sorted(abort_uploads(bucket, "base-arm64-", keep="base-arm64-bbbb.qcow2")) == [
        "base-arm64-aaaa.qcow2"
    ]
    assert find_upload(bucket, "base-arm64-aaaa.qcow2") is None
    assert find_upload(bucket, "base-arm64-bbbb.qcow2") is not None
    assert sorted(abort_uploads(bucket, "")) == [
        "base-arm64-bbbb.qcow2",
        "proxmox-arm64-cccc.qcow2",
    ]
    assert env.fake.uploads == {}


def test_part_plan_stays_within_ten_thousand_parts() -> None:
    parts = plan_parts(50_000 * MIB, MIB)
    assert len(parts) <= MAX_PARTS
    assert sum(p.size for p in parts) == 50_000 * MIB
    assert [p.number for p in parts[:3]] == [1, 2, 3]
    with pytest.raises(ConfigError):
        plan_parts(0, MIB)
