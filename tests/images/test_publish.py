"""`publish_image`: upload, import, shape compatibility, firmware, object cleanup and the tfvars
tofu/oci reads, through the real oci SDK against the fake Object Storage and Compute."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from freetier.errors import ConfigError, RemoteError
from freetier.images.importer import ImportFailed, Waiting
from freetier.images.publish import (
    TFVARS,
    PublishResult,
    file_sha256,
    image_key,
    publish_image,
    write_image_ocid,
)
from tests.images.conftest_publish import BUCKET, MIB, OPTIONS, World, random_file, world


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with world(tmp_path, monkeypatch) as running:
        yield running


def _publish(env: World, qcow2: Path, arch: str = "arm64", **kwargs: object) -> PublishResult:
    options = kwargs.pop("options", OPTIONS)
    return publish_image(
        qcow2,
        stack=env.stack,
        config=env.config,
        name="base",
        arch=arch,
        os_name="Debian",
        os_version="12",
        part_size=4 * MIB,
        parallel=4,
        tofu_dir=env.tofu_dir,
        options=options,  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def _tfvars(env: World) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((env.tofu_dir / TFVARS).read_text(encoding="utf-8"))
    return loaded


def test_arm64_image_is_imported_uefi_a1_compatible_and_recorded(
    env: World, tmp_path: Path
) -> None:
    qcow2 = random_file(tmp_path / "base-arm64.qcow2", 10 * MIB)
    env.tofu_dir.mkdir(parents=True)
    (env.tofu_dir / TFVARS).write_text(
        json.dumps({"image_ocids": {"amd64": "ocid1.image.oc1..amd"}}), encoding="utf-8"
    )

    result = _publish(env, qcow2)

    key = image_key("base", "arm64", file_sha256(qcow2))
    assert result.display_name == key
    assert (result.uploaded_parts, result.skipped_parts, result.bytes) == (3, 0, 10 * MIB)
    image = env.fake.image(result.image_ocid)
    assert image["lifecycleState"] == "AVAILABLE"
    assert image["displayName"] == key
    assert (image["operatingSystem"], image["operatingSystemVersion"]) == ("Debian", "12")
    assert image["launchMode"] == "PARAVIRTUALIZED"
    assert image["launchOptions"]["firmware"] == "UEFI_64"
    assert list(env.fake.image_shapes[result.image_ocid]) == ["VM.Standard.A1.Flex"]
    assert env.fake.objects == {}  # the object no longer counts against the 20 GB
    assert env.fake.uploads == {}
    assert _tfvars(env) == {
        "image_ocids": {"amd64": "ocid1.image.oc1..amd", "arm64": result.image_ocid}
    }
    # The bucket did not exist: publish created it, private.
    assert [b["name"] for b in env.fake.buckets] == [BUCKET]


def test_amd64_image_is_micro_compatible_with_default_firmware(env: World, tmp_path: Path) -> None:
    qcow2 = random_file(tmp_path / "base-amd64.qcow2", 2 * MIB)

    result = _publish(env, qcow2, arch="amd64")

    assert list(env.fake.image_shapes[result.image_ocid]) == ["VM.Standard.E2.1.Micro"]
    assert env.fake.state["computeImageCapabilitySchemas"] == []
    assert _tfvars(env) == {"image_ocids": {"amd64": result.image_ocid}}


def test_rerun_after_success_reuses_the_image(env: World, tmp_path: Path) -> None:
    qcow2 = random_file(tmp_path / "base-arm64.qcow2", 5 * MIB)
    first = _publish(env, qcow2)
    uploads = len(env.fake.part_uploads())

    again = _publish(env, qcow2)

    assert again.image_ocid == first.image_ocid
    assert again.reused and again.uploaded_parts == 0 and again.bytes == 0
    assert len(env.fake.part_uploads()) == uploads
    assert len(env.fake.state["images"]) == 1
    assert len(env.fake.state["computeImageCapabilitySchemas"]) == 1


def test_rerun_waits_for_an_import_left_running(env: World, tmp_path: Path) -> None:
    qcow2 = random_file(tmp_path / "base-arm64.qcow2", 5 * MIB)
    env.fake.import_outcome = None  # the first run's wait runs out...
    with pytest.raises(ImportFailed):
        _publish(env, qcow2, options=replace(OPTIONS, waiting=Waiting(0.05, 0.01)))
    # ...and cleans up; a run whose import is still going when it is killed is the case
    # where the rerun finds the image IMPORTING: make one by hand.
    env.fake.import_outcome = "AVAILABLE"
    first = _publish(env, qcow2)
    image = env.fake.state["images"][-1]
    image["lifecycleState"] = "IMPORTING"
    env.fake.image_polls[first.image_ocid] = 0

    again = _publish(env, qcow2)

    assert again.reused and again.image_ocid == first.image_ocid
    assert env.fake.image(first.image_ocid)["lifecycleState"] == "AVAILABLE"


@pytest.mark.parametrize(
    ("outcome", "waiting", "says"),
    [
        ("DISABLED", Waiting(10.0, 0.01), "ended DISABLED"),
        (None, Waiting(0.1, 0.01), "still IMPORTING after"),
    ],
    ids=["import-failed", "import-timeout"],
)
def test_failed_or_slow_import_leaves_no_object_and_no_image(
    env: World, tmp_path: Path, outcome: str | None, waiting: Waiting, says: str
) -> None:
    qcow2 = random_file(tmp_path / "base-arm64.qcow2", 5 * MIB)
    env.fake.import_outcome = outcome

    with pytest.raises(ImportFailed) as info:
        _publish(env, qcow2, options=replace(OPTIONS, waiting=waiting))

    message = str(info.value)
    assert says in message and "\n" not in message
    assert "deleted" in message
    assert isinstance(info.value, RemoteError) and info.value.exit_code == 1
    [image] = env.fake.state["images"]
    assert image["lifecycleState"] == "DELETED"
    assert [r.method for r in env.fake.seen(f"/20160918/images/{image['id']}")][-1] == "DELETE"
    assert env.fake.objects == {}
    assert env.fake.uploads == {}
    assert not (env.tofu_dir / TFVARS).exists()


def test_a_refused_create_image_deletes_the_object(env: World, tmp_path: Path) -> None:
    qcow2 = random_file(tmp_path / "base-arm64.qcow2", 5 * MIB)
    env.fake.inject("/20160918/images", 400, "LimitExceeded", method="POST", times=None)

    with pytest.raises(RemoteError) as info:
        _publish(env, qcow2)

    message = str(info.value)
    assert "ComputeClient create_image: HTTP 400 LimitExceeded" in message
    assert message.endswith(
        f"object {image_key('base', 'arm64', file_sha256(qcow2))}.qcow2 deleted"
    )
    assert env.fake.objects == {} and env.fake.state["images"] == []


def test_an_object_committed_by_an_earlier_run_is_not_uploaded_again(
    env: World, tmp_path: Path
) -> None:
    qcow2 = random_file(tmp_path / "base-arm64.qcow2", 5 * MIB)
    # An earlier run committed the upload and died before CreateImage.
    env.add_bucket()
    key = image_key("base", "arm64", file_sha256(qcow2))
    env.fake.add_object(
        BUCKET, f"{key}.qcow2", qcow2.read_bytes(), metadata={"opc-meta-sha256": file_sha256(qcow2)}
    )

    result = _publish(env, qcow2)

    assert env.fake.part_uploads() == []
    assert result.uploaded_parts == 0 and not result.reused
    assert env.fake.image(result.image_ocid)["lifecycleState"] == "AVAILABLE"
    assert env.fake.objects == {}


def test_a_file_that_is_not_qcow2_fails_the_import_and_is_cleaned_up(
    env: World, tmp_path: Path
) -> None:
    qcow2 = random_file(tmp_path / "base-arm64.qcow2", 2 * MIB, qcow2=False)
    with pytest.raises(ImportFailed, match="ended DISABLED"):
        _publish(env, qcow2)
    assert env.fake.objects == {}


def test_a_new_build_aborts_the_unfinished_upload_of_the_old_one(
    env: World, tmp_path: Path
) -> None:
    qcow2 = random_file(tmp_path / "base-arm64.qcow2", 9 * MIB)
    fault = env.fake.inject(
        "/n/", 500, "InternalServerError", method="PUT", query={"uploadPartNum": "2"}, times=None
    )
    with pytest.raises(RemoteError, match="rerun to resume"):
        _publish(env, qcow2)
    [old] = env.fake.uploads.values()
    env.fake.faults.remove(fault)
    random_file(qcow2, 9 * MIB)  # rebuilt: another SHA-256, another object name

    result = _publish(env, qcow2)

    assert old.upload_id not in env.fake.uploads
    assert env.fake.uploads == {} and env.fake.objects == {}
    assert result.uploaded_parts == 3


def test_bad_input_is_a_config_error(env: World, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such image file"):
        _publish(env, tmp_path / "missing.qcow2")
    empty = tmp_path / "empty.qcow2"
    empty.touch()
    with pytest.raises(ConfigError, match="empty image file"):
        _publish(env, empty)
    with pytest.raises(ConfigError, match="unknown architecture"):
        _publish(env, random_file(tmp_path / "x.qcow2", 10), arch="riscv64")
    assert env.fake.requests == []


def test_tfvars_merge_keeps_other_keys_and_refuses_garbage(tmp_path: Path) -> None:
    write_image_ocid(tmp_path, "arm64", "ocid1.image.oc1..a")
    write_image_ocid(tmp_path, "amd64", "ocid1.image.oc1..b")
    write_image_ocid(tmp_path, "arm64", "ocid1.image.oc1..c")
    assert json.loads((tmp_path / TFVARS).read_text(encoding="utf-8")) == {
        "image_ocids": {"amd64": "ocid1.image.oc1..b", "arm64": "ocid1.image.oc1..c"}
    }
    (tmp_path / TFVARS).write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        write_image_ocid(tmp_path, "arm64", "ocid1.image.oc1..d")
    assert (tmp_path / TFVARS).read_text(encoding="utf-8") == "{not json"
