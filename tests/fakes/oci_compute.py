"""Compute custom images on top of Object Storage: import from an object, shape
compatibility and image capability schemas, the calls the image stage makes after its upload.
It extends the Object Storage fake because an import reads the uploaded object. An imported
image is IMPORTING for `import_polls` GetImage calls, then ends in `import_outcome` (None:
never), or DISABLED when the object is not what CreateImage said it is:

- `sourceImageType` QCOW2: a qcow2 (its magic);
- VMDK: a monolithicSparse or streamOptimized VMDK, the single-file kinds Oracle's
  bring-your-own-image page accepts (sparse extent magic `KDMV`, `createType` in the
  embedded descriptor);
- left out: an `.oci` archive (gzip'd tar of an `image_metadata.json` and a qcow2), as
  `ImageSourceDetails.sourceImageType` says ("not used for ... the OCI image format"). Its
  metadata sets the image's launch options (firmware, in-transit encryption), its capability
  data (checked against the global schema) and its shape compatibilities.

An import that is not an .oci archive gets BIOS firmware, OCI's default for an import (the
Talos v1.14 Oracle page), until an image capability schema says otherwise."""

from __future__ import annotations

import gzip
import io
import json
import math
import tarfile
import uuid
from typing import Any

from tests.fakes.oci_objectstorage import ObjectStorage
from tests.fakes.oci_resources import CORE, public
from tests.fakes.oci_wire import Answer, ApiError, Call, Route, not_found

QCOW2_MAGIC = b"QFI\xfb"
VMDK_MAGIC = b"KDMV"
VMDK_SINGLE_FILE = ("monolithicSparse", "streamOptimized")
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


class ComputeImages(ObjectStorage):
    """Custom images imported from the tenancy's objects, their shapes and schemas."""

    def __init__(self, tenancy: str, **config: Any) -> None:
        super().__init__(tenancy, **config)
        # GetImage calls seen per image, shapes added per image, images by retry token.
        self.import_polls = 2
        self.import_outcome: str | None = "AVAILABLE"
        self.image_polls: dict[str, int] = {}
        self.image_shapes: dict[str, dict[str, dict[str, Any]]] = {}
        self.retry_tokens: dict[str, str] = {}

    # --- inspection -----------------------------------------------------------------------

    def image(self, image_id: str) -> dict[str, Any]:
        with self.lock:
            return dict(next(i for i in self.state["images"] if i["id"] == image_id))

    # --- the rules -------------------------------------------------------------------------

    def _image_routes(self) -> list[Route]:
        image = rf"{CORE}/images/([^/]+)"
        return [
            ("POST", f"{CORE}/images", self._create_image),
            ("GET", image, self._get_image),
            ("DELETE", image, self._delete_image),
            ("PUT", f"{image}/shapes/([^/]+)", self._add_shape),
            ("GET", f"{CORE}/computeGlobalImageCapabilitySchemas", self._global_schemas),
            ("POST", f"{CORE}/computeImageCapabilitySchemas", self._create_schema),
        ]

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
            return 200, public(self._image(known)), {}
        compartment = details.get("compartmentId")
        if compartment not in self.compartments:
            raise not_found()
        source = details.get("imageSourceDetails")
        if not isinstance(source, dict) or source.get("sourceType") != "objectStorageTuple":
            raise ApiError(
                400, "InvalidParameter", "imageSourceDetails must be an objectStorageTuple"
            )
        source_type = source.get("sourceImageType")
        if source_type is not None and source_type not in IMAGE_SOURCE_TYPES:
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
        archive = _oci_archive(stored.data) if source_type is None else None
        valid = (
            archive is not None
            if source_type is None
            else stored.data.startswith(QCOW2_MAGIC)
            if source_type == "QCOW2"
            else _single_file_vmdk(stored.data)
        )
        launch = (archive or {}).get("externalLaunchOptions", {})
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
                    "firmware": launch.get("firmware", "BIOS"),
                    "networkType": "PARAVIRTUALIZED",
                    "remoteDataVolumeType": "PARAVIRTUALIZED",
                    "isPvEncryptionInTransitEnabled": bool(
                        launch.get("pvEncryptionInTransitEnabled", False)
                    ),
                    "isConsistentVolumeNamingEnabled": bool(
                        launch.get("consistentVolumeNamingEnabled", False)
                    ),
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
                "_capabilities": (archive or {}).get("_capabilities", {}),
                "_source": "OCI" if source_type is None else source_type,
            },
        )
        with self.lock:
            self.image_polls[image_id] = 0
            self.image_shapes[image_id] = {
                shape: {"imageId": image_id, "shape": shape}
                for shape in (archive or {}).get("_shapes", [])
            }
            if token:
                self.retry_tokens[token] = image_id
        image = self._image(image_id)
        headers = {"etag": str(uuid.uuid4()), "opc-work-request-id": self.ocid("workrequest")}
        return 200, public(image), headers

    def _get_image(self, call: Call) -> Answer:
        image = self._image(call.groups[0])
        with self.lock:
            polls = self.image_polls.get(image["id"], 0) + 1
            self.image_polls[image["id"]] = polls
            outcome = self.import_outcome
            if image["lifecycleState"] == "IMPORTING" and polls >= self.import_polls and outcome:
                ok = outcome != "AVAILABLE" or image.get("_valid", True)
                image["lifecycleState"] = outcome if ok else IMPORT_FAILED_STATE
        return 200, public(image), {"etag": str(uuid.uuid4())}

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
            image.setdefault("_capabilities", {}).update(data)
            if isinstance(firmware, dict):
                image["launchOptions"]["firmware"] = firmware.get("defaultValue")
            kind = self.state["computeImageCapabilitySchemas"]
            schema = next(s for s in kind if s["id"] == schema_id)
        return 200, dict(schema), {"etag": str(uuid.uuid4())}


def _single_file_vmdk(data: bytes) -> bool:
    """A sparse-extent VMDK whose embedded descriptor names a single-file kind."""
    if not data.startswith(VMDK_MAGIC):
        return False
    head = data[: 64 * 1024].decode("latin-1")
    return any(f'createType="{kind}"' in head for kind in VMDK_SINGLE_FILE)


def _oci_archive(data: bytes) -> dict[str, Any] | None:
    """The metadata of a valid .oci archive (with its capabilities checked against the global
    schema, as `_capabilities`, and its shapes as `_shapes`), or None."""
    try:
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            meta_file = tar.extractfile(members["image_metadata.json"])
            disks = [n for n in members if n.endswith(".qcow2")]
            if meta_file is None or len(disks) != 1:
                return None
            disk = tar.extractfile(members[disks[0]])
            if disk is None or not disk.read(4).startswith(QCOW2_MAGIC):
                return None
            metadata = json.loads(meta_file.read())
            capabilities = json.loads(metadata["imageCapabilityData"])["capabilities"]
    except (OSError, EOFError, KeyError, TypeError, ValueError, tarfile.TarError):
        return None
    if metadata.get("version") != 2 or not isinstance(capabilities, dict):
        return None
    firmware = metadata.get("externalLaunchOptions", {}).get("firmware")
    try:
        for name, descriptor in capabilities.items():
            if name in GLOBAL_SCHEMA:
                _check_descriptor(name, descriptor)
    except ApiError:
        return None
    allowed = capabilities.get("Compute.Firmware", {}).get("values", [firmware])
    if firmware not in allowed:
        return None
    shapes = metadata.get("additionalMetadata", {}).get("shapeCompatibilities") or []
    return {
        **metadata,
        "_capabilities": capabilities,
        "_shapes": [s.get("internalShapeName") for s in shapes if s.get("internalShapeName")],
    }


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
