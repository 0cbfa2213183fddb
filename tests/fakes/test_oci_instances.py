"""The instance and console-history rules of the fake OCI, driven by the real oci SDK: the
states a client polls through, and the launches it refuses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oci
import pytest

from tests.fakes.oci_server import QCOW2_MAGIC, FakeTenancy, fake_tenancy

COMPARTMENT = "ocid1.compartment.oc1..fakeinstances"
AD = "Uocm:FAKE-AD-1"


@pytest.fixture
def tenancy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTenancy]:
    with fake_tenancy(tmp_path, monkeypatch.setenv) as running:
        running.fake.add_compartment(COMPARTMENT)
        yield running


def _compute(tenancy: FakeTenancy) -> Any:
    config = oci.config.from_file(str(tenancy.credentials.config_file))
    return oci.core.ComputeClient(
        config, service_endpoint=tenancy.fake.url, retry_strategy=oci.retry.NoneRetryStrategy()
    )


def _image(tenancy: FakeTenancy, firmware: str = "UEFI_64") -> str:
    """An AVAILABLE image compatible with A1, whose capabilities allow `firmware` only."""
    fake = tenancy.fake
    fake.add_bucket(COMPARTMENT, "b")
    fake.add_object("b", "disk.qcow2", QCOW2_MAGIC + bytes(1024))
    compute = _compute(tenancy)
    models = oci.core.models
    image = compute.create_image(
        models.CreateImageDetails(
            compartment_id=COMPARTMENT,
            launch_mode="PARAVIRTUALIZED",
            image_source_details=models.ImageSourceViaObjectStorageTupleDetails(
                source_type="objectStorageTuple", namespace_name=fake.namespace,
                bucket_name="b", object_name="disk.qcow2", source_image_type="QCOW2",
            ),
        )
    ).data  # fmt: skip
    fake.import_polls = 1
    compute.get_image(image.id)
    global_schema = compute.list_compute_global_image_capability_schemas().data[0]
    compute.create_compute_image_capability_schema(
        models.CreateComputeImageCapabilitySchemaDetails(
            compartment_id=COMPARTMENT, image_id=image.id,
            compute_global_image_capability_schema_version_name=global_schema.current_version_name,
            schema_data={"Compute.Firmware": models.EnumStringImageCapabilitySchemaDescriptor(
                source="IMAGE", values=[firmware], default_value=firmware)},
        )
    )  # fmt: skip
    compute.add_image_shape_compatibility_entry(image.id, "VM.Standard.A1.Flex")
    return str(image.id)


def _launch(tenancy: FakeTenancy, image: str, subnet: str, **changes: Any) -> Any:
    models = oci.core.models
    fields: dict[str, Any] = {
        "compartment_id": COMPARTMENT,
        "availability_domain": AD,
        "shape": "VM.Standard.A1.Flex",
        "shape_config": models.LaunchInstanceShapeConfigDetails(ocpus=1, memory_in_gbs=4),
        "source_details": models.InstanceSourceViaImageDetails(
            source_type="image", image_id=image, boot_volume_size_in_gbs=50
        ),
        "create_vnic_details": models.CreateVnicDetails(subnet_id=subnet),
        **changes,
    }
    return _compute(tenancy).launch_instance(models.LaunchInstanceDetails(**fields))


def _refused(tenancy: FakeTenancy, image: str, subnet: str, **changes: Any) -> tuple[int, str]:
    with pytest.raises(oci.exceptions.ServiceError) as info:
        _launch(tenancy, image, subnet, **changes)
    return info.value.status, info.value.code


def test_an_instance_and_its_console_history_move_through_their_states(
    tenancy: FakeTenancy,
) -> None:
    image = _image(tenancy)
    subnet = tenancy.fake.add_subnet(COMPARTMENT, "s")
    tenancy.fake.console[image] = b"[talos] hello\n"
    compute = _compute(tenancy)
    instance = _launch(tenancy, image, subnet).data
    states = [instance.lifecycle_state]
    while states[-1] != "RUNNING":
        states.append(compute.get_instance(instance.id).data.lifecycle_state)
    assert states == ["PROVISIONING", "PROVISIONING", "RUNNING"]

    details = oci.core.models.CaptureConsoleHistoryDetails(instance_id=instance.id)
    history = compute.capture_console_history(details).data
    with pytest.raises(oci.exceptions.ServiceError) as early:
        compute.get_console_history_content(history.id)
    assert (early.value.status, early.value.code) == (409, "IncorrectState")
    seen = [history.lifecycle_state]
    while seen[-1] != "SUCCEEDED":
        seen.append(compute.get_console_history(history.id).data.lifecycle_state)
    assert seen == ["REQUESTED", "GETTING-HISTORY", "SUCCEEDED"]
    content = compute.get_console_history_content(history.id, offset=8, length=100)
    assert content.data == b"hello\n"
    assert content.headers["opc-bytes-remaining"] == "0"

    compute.terminate_instance(instance.id)
    ends = [compute.get_instance(instance.id).data.lifecycle_state]
    assert ends == ["TERMINATED"]  # on the first poll: terminate_polls is 1


def test_launches_the_image_does_not_allow_are_refused(tenancy: FakeTenancy) -> None:
    models = oci.core.models
    image = _image(tenancy, firmware="UEFI_64")
    subnet = tenancy.fake.add_subnet(COMPARTMENT, "s")

    bios = models.LaunchOptions(firmware="BIOS")
    assert _refused(tenancy, image, subnet, launch_options=bios) == (400, "InvalidParameter")
    assert _refused(tenancy, image, subnet, is_pv_encryption_in_transit_enabled=True) == (
        400,
        "InvalidParameter",
    )
    encrypted = models.LaunchOptions(is_pv_encryption_in_transit_enabled=True)
    assert _refused(tenancy, image, subnet, launch_options=encrypted) == (400, "InvalidParameter")
    assert _refused(tenancy, image, subnet, shape="VM.Standard.E2.1.Micro", shape_config=None) == (
        400,
        "InvalidParameter",
    )  # no shape compatibility entry for it
    half = models.LaunchInstanceShapeConfigDetails(ocpus=0.5, memory_in_gbs=4)
    assert _refused(tenancy, image, subnet, shape_config=half) == (400, "InvalidParameter")
    assert _refused(tenancy, image, "ocid1.subnet.oc1..nothere") == (
        404,
        "NotAuthorizedOrNotFound",
    )
    tenancy.fake.service_limits["VM.Standard.A1.Flex"] = 1
    tenancy.fake.add_instance(COMPARTMENT, "busy", ocpus=1)
    assert _refused(tenancy, image, subnet) == (400, "LimitExceeded")
    assert tenancy.fake.launched() == []
