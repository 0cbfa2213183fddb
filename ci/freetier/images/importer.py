"""Custom-image import on OCI Compute: CreateImage from an Object Storage object, the wait for
IMPORTING to end, the firmware capability and the shape compatibility an image needs to boot.

OCI documents no import time, so the wait has a deadline. OCI does not document the state a
failed import ends in either: anything but PROVISIONING, IMPORTING and AVAILABLE is a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import oci

from freetier.errors import RemoteError
from freetier.images.options import Arch
from freetier.object_storage import call_unless_missing
from freetier.oci_clients import call, list_all

# The Always Free shape each architecture's images boot on.
SHAPES: dict[Arch, str] = {"arm64": "VM.Standard.A1.Flex", "amd64": "VM.Standard.E2.1.Micro"}
IN_PROGRESS = frozenset({"PROVISIONING", "IMPORTING"})
USABLE = IN_PROGRESS | {"AVAILABLE"}


@dataclass(frozen=True)
class ImageSource:
    """What CreateImage imports and how the image is described."""

    compartment_id: str
    display_name: str
    namespace: str
    bucket: str
    object_name: str
    os_name: str
    os_version: str
    # From the image's ImportRecipe: None leaves sourceImageType out (an .oci archive).
    source_image_type: str | None = "QCOW2"
    launch_mode: str = "PARAVIRTUALIZED"


@dataclass(frozen=True)
class Waiting:
    """How long an import may take and how often it is polled."""

    timeout_seconds: float = 90 * 60
    interval_seconds: float = 15.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


class ImportFailed(RemoteError):
    """The image import ended in a failed state or did not end before the deadline."""

    def __init__(self, message: str, image_id: str) -> None:
        super().__init__(message)
        self.image_id = image_id


def compute_client_class() -> Any:
    return oci.core.ComputeClient


def find_image(compute: Any, compartment_id: str, display_name: str) -> Any | None:
    """The newest image named `display_name` that is importing or available, if any: a rerun
    picks it up instead of importing the same file again."""
    images = [
        image
        for image in list_all(compute.list_images, compartment_id, display_name=display_name)
        if image.lifecycle_state in USABLE
    ]
    images.sort(key=lambda image: str(image.time_created or ""))
    return images[-1] if images else None


def start_import(compute: Any, source: ImageSource) -> Any:
    """CreateImage from the object with the recipe's source type and launch mode
    (PARAVIRTUALIZED: the only launch mode imported images have on A1 and AMD shapes). An
    .oci archive carries its own launch options, so the launch mode is left to it too."""
    models = oci.core.models
    tuple_details: dict[str, Any] = {
        "source_type": "objectStorageTuple",
        "namespace_name": source.namespace,
        "bucket_name": source.bucket,
        "object_name": source.object_name,
        "operating_system": source.os_name,
        "operating_system_version": source.os_version,
    }
    if source.source_image_type is not None:
        tuple_details["source_image_type"] = source.source_image_type
    details = models.CreateImageDetails(
        compartment_id=source.compartment_id,
        display_name=source.display_name,
        launch_mode=source.launch_mode if source.source_image_type is not None else None,
        image_source_details=models.ImageSourceViaObjectStorageTupleDetails(**tuple_details),
    )
    return call(compute.create_image, details).data


def wait_for_import(compute: Any, image_id: str, waiting: Waiting) -> Any:
    """Poll GetImage until the image leaves IMPORTING; the image when AVAILABLE, else
    ImportFailed (a failed state, or still importing at the deadline)."""
    deadline = waiting.clock() + waiting.timeout_seconds
    while True:
        image = call(compute.get_image, image_id).data
        state = str(image.lifecycle_state)
        if state == "AVAILABLE":
            return image
        if state not in IN_PROGRESS:
            raise ImportFailed(f"OCI image import of {image.display_name} ended {state}", image_id)
        if waiting.clock() >= deadline:
            minutes = waiting.timeout_seconds / 60
            raise ImportFailed(
                f"OCI image import of {image.display_name} still {state} after {minutes:g} "
                "minutes (raise --import-timeout)",
                image_id,
            )
        waiting.sleep(min(waiting.interval_seconds, max(deadline - waiting.clock(), 0.0)))


def delete_image(compute: Any, image_id: str) -> None:
    """Delete the image; an image already gone is fine."""
    image = call_unless_missing(compute.get_image, image_id)
    if image is not None and image.data.lifecycle_state != "DELETED":
        call_unless_missing(compute.delete_image, image_id)


def set_firmware(compute: Any, compartment_id: str, image_id: str, firmware: str) -> bool:
    """Give the image an image capability schema whose `Compute.Firmware` is `firmware` only;
    CreateImage has no launch options, this is how a custom image gets its firmware. False
    when the image already has such a schema (a rerun)."""
    models = oci.core.models
    schemas = list_all(
        compute.list_compute_image_capability_schemas,
        compartment_id=compartment_id,
        image_id=image_id,
    )
    for schema in schemas:
        current = (getattr(schema, "schema_data", None) or {}).get("Compute.Firmware")
        if current is not None and getattr(current, "default_value", None) == firmware:
            return False
    globals_ = list_all(compute.list_compute_global_image_capability_schemas)
    if not globals_:
        raise RemoteError("OCI ComputeClient: no global image capability schema to build on")
    details = models.CreateComputeImageCapabilitySchemaDetails(
        compartment_id=compartment_id,
        image_id=image_id,
        compute_global_image_capability_schema_version_name=globals_[0].current_version_name,
        schema_data={
            "Compute.Firmware": models.EnumStringImageCapabilitySchemaDescriptor(
                source="IMAGE", values=[firmware], default_value=firmware
            )
        },
    )
    call(compute.create_compute_image_capability_schema, details)
    return True


def add_shape(compute: Any, image_id: str, shape: str) -> None:
    """AddImageShapeCompatibilityEntry: imported images boot on no shape until added (a PUT:
    adding it again changes nothing)."""
    call(compute.add_image_shape_compatibility_entry, image_id, shape)
