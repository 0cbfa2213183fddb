"""Compute instances launched from the fake's images, and their serial console history: what
`freetier images boot-check` drives. Extends the image fake because a launch reads the image's
shapes, firmware and capabilities.

States move on reads, as OCI's do while a client polls: a launched instance is PROVISIONING
until the `launch_polls`-th GetInstance shows it RUNNING; a terminated one TERMINATING until
the `terminate_polls`-th shows it TERMINATED (its boot volume, unless preserved, with it). A console
history is REQUESTED, then GETTING-HISTORY, then SUCCEEDED, one step per GetConsoleHistory
call; its content is what `console[image id]` held at capture time (the last MiB of it).

LaunchInstance enforces what OCI documents or what the image says:
- the image is AVAILABLE and compatible with the shape (AddImageShapeCompatibilityEntry or an
  .oci archive's metadata); a Flex shape has a whole number of OCPUs, at least 1, on A1;
- `launchOptions.firmware`, when given, is one the image's capabilities allow;
- in-transit encryption (top level or in `launchOptions`) only on an image whose capabilities
  declare `Storage.ParaVirtualization.EncryptionInTransit` (freetier.images.recipes, PV);
- the boot volume is at least 50 GB; the subnet and availability domain exist;
- the tenancy's service limit of OCPUs per shape (`service_limits`, 400 LimitExceeded).
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.fakes.oci_compute import ComputeImages
from tests.fakes.oci_resources import CORE, public
from tests.fakes.oci_wire import Answer, ApiError, Call, Route, not_found

CONSOLE_LIMIT = 1024 * 1024  # CaptureConsoleHistory keeps "up to a megabyte"
MIN_BOOT_GB = 50
HISTORY_STATES = ("REQUESTED", "GETTING-HISTORY", "SUCCEEDED")
LIVE_STATES = frozenset({"PROVISIONING", "STARTING", "RUNNING", "STOPPING", "STOPPED"})


class ComputeInstances(ComputeImages):
    """Instances, their boot volumes and console histories."""

    def __init__(self, tenancy: str, **config: Any) -> None:
        super().__init__(tenancy, **config)
        self.launch_polls = 2
        self.terminate_polls = 1
        self.console: dict[str, bytes] = {}
        # OCPUs the tenancy may run per shape (its service limit, not the free allowance).
        self.service_limits: dict[str, float] = {"VM.Standard.A1.Flex": 4.0}
        self.histories: dict[str, dict[str, Any]] = {}
        self.instance_polls: dict[str, int] = {}
        self.launch_tokens: dict[str, str] = {}

    # --- seeding and inspection ------------------------------------------------------------

    def add_subnet(self, compartment_id: str, display_name: str) -> str:
        return self._add(
            "subnets",
            compartment_id,
            {
                "id": self.ocid("subnet"),
                "displayName": display_name,
                "vcnId": self.ocid("vcn"),
                "cidrBlock": "10.0.1.0/24",
                "lifecycleState": "AVAILABLE",
            },
        )

    def instance(self, instance_id: str) -> dict[str, Any]:
        with self.lock:
            return dict(next(i for i in self.state["instances"] if i["id"] == instance_id))

    def launched(self) -> list[dict[str, Any]]:
        """Every instance LaunchInstance created, in order."""
        with self.lock:
            return [dict(i) for i in self.state["instances"] if i.get("_launched")]

    # --- the rules -------------------------------------------------------------------------

    def _instance_routes(self) -> list[Route]:
        instance = rf"{CORE}/instances/([^/]+)"
        history = rf"{CORE}/instanceConsoleHistories/([^/]+)"
        return [
            ("POST", f"{CORE}/instances", self._launch),
            ("GET", instance, self._get_instance),
            ("DELETE", instance, self._terminate),
            ("POST", f"{CORE}/instanceConsoleHistories", self._capture),
            ("GET", history, self._get_history),
            ("DELETE", history, self._delete_history),
            ("GET", f"{history}/data", self._history_content),
        ]

    def _find_instance(self, instance_id: str) -> dict[str, Any]:
        with self.lock:
            found = [i for i in self.state["instances"] if i["id"] == instance_id]
        if not found:
            raise not_found()
        return found[0]

    def _launch(self, call: Call) -> Answer:
        details = call.json()
        token = call.headers.get("opc-retry-token") or ""
        with self.lock:
            known = self.launch_tokens.get(token) if token else None
        if known is not None:
            return 200, public(self._find_instance(known)), {"etag": str(uuid.uuid4())}
        compartment = details.get("compartmentId")
        if compartment not in self.compartments:
            raise not_found()
        ad = details.get("availabilityDomain")
        if ad not in self.availability_domains:
            raise ApiError(400, "InvalidParameter", f"Invalid availabilityDomain {ad}")
        shape = str(details.get("shape") or "")
        source = details.get("sourceDetails") or {}
        image = self._image(str(source.get("imageId") or details.get("imageId")))
        if image["lifecycleState"] != "AVAILABLE":
            raise ApiError(409, "IncorrectState", f"Image is {image['lifecycleState']}")
        if shape not in self.image_shapes.get(image["id"], {}):
            raise ApiError(
                400, "InvalidParameter", f"Shape {shape} is not compatible with image {image['id']}"
            )
        ocpus, memory = _shape_config(shape, details.get("shapeConfig"))
        boot_gb = int(source.get("bootVolumeSizeInGBs") or MIN_BOOT_GB)
        if boot_gb < MIN_BOOT_GB:
            raise ApiError(400, "InvalidParameter", f"bootVolumeSizeInGBs must be >= {MIN_BOOT_GB}")
        subnet = (details.get("createVnicDetails") or {}).get("subnetId") or details.get("subnetId")
        with self.lock:
            if not any(s["id"] == subnet for s in self.state["subnets"]):
                raise not_found()
        firmware, encrypt = _launch_options(details, image)
        self._check_limit(compartment, shape, ocpus)
        instance_id = self._add(
            "instances",
            str(compartment),
            {
                "id": self.ocid("instance"),
                "availabilityDomain": ad,
                "displayName": details.get("displayName") or f"instance-{uuid.uuid4().hex[:8]}",
                "faultDomain": "FAULT-DOMAIN-1",
                "imageId": image["id"],
                "lifecycleState": "PROVISIONING",
                "region": self.region,
                "shape": shape,
                "shapeConfig": {"ocpus": ocpus, "memoryInGBs": memory},
                "sourceDetails": {
                    "sourceType": "image",
                    "imageId": image["id"],
                    "bootVolumeSizeInGBs": boot_gb,
                },
                "launchMode": image["launchMode"],
                "launchOptions": {
                    **image["launchOptions"],
                    "firmware": firmware,
                    "isPvEncryptionInTransitEnabled": encrypt,
                },
                "metadata": details.get("metadata") or {},
                "extendedMetadata": {},
                "freeformTags": details.get("freeformTags") or {},
                "definedTags": {},
                "_launched": True,
            },
        )
        self._attach_boot_volume(str(compartment), instance_id, ad, boot_gb, encrypt)
        with self.lock:
            self.instance_polls[instance_id] = 0
            if token:
                self.launch_tokens[token] = instance_id
        return 200, public(self._find_instance(instance_id)), {"etag": str(uuid.uuid4())}

    def _check_limit(self, compartment: Any, shape: str, ocpus: float) -> None:
        limit = self.service_limits.get(shape)
        if limit is None:
            return
        with self.lock:
            used = sum(
                float((i.get("shapeConfig") or {}).get("ocpus") or 0)
                for i in self.state["instances"]
                if i["shape"] == shape and i["lifecycleState"] in LIVE_STATES
            )
        if used + ocpus > limit:
            raise ApiError(
                400,
                "LimitExceeded",
                f"The following service limits were exceeded: {shape} cores "
                f"({used:g} used + {ocpus:g} requested > {limit:g})",
            )

    def _attach_boot_volume(
        self, compartment: str, instance_id: str, ad: str, size_gb: int, encrypt: bool
    ) -> None:
        volume_id = self._add(
            "bootVolumes",
            compartment,
            {
                "id": self.ocid("bootvolume"),
                "availabilityDomain": ad,
                "displayName": f"boot volume of {instance_id}",
                "isHydrated": True,
                "lifecycleState": "AVAILABLE",
                "sizeInGBs": size_gb,
                "sizeInMBs": size_gb * 1024,
                "vpusPerGB": 10,
                "_instance": instance_id,
            },
        )
        self._add(
            "bootVolumeAttachments",
            compartment,
            {
                "id": self.ocid("bootvolumeattachment"),
                "availabilityDomain": ad,
                "bootVolumeId": volume_id,
                "displayName": f"Remote boot attachment for {instance_id}",
                "instanceId": instance_id,
                "lifecycleState": "ATTACHED",
                "isPvEncryptionInTransitEnabled": encrypt,
            },
        )

    def _get_instance(self, call: Call) -> Answer:
        instance = self._find_instance(call.groups[0])
        with self.lock:
            polls = self.instance_polls.get(instance["id"], 0) + 1
            self.instance_polls[instance["id"]] = polls
            state = instance["lifecycleState"]
            if state == "PROVISIONING" and polls >= self.launch_polls:
                instance["lifecycleState"] = "RUNNING"
            elif state == "TERMINATING" and polls >= self.terminate_polls:
                instance["lifecycleState"] = "TERMINATED"
                self._release_boot_volume(instance)
        return 200, public(instance), {"etag": str(uuid.uuid4())}

    def _release_boot_volume(self, instance: dict[str, Any]) -> None:
        """With the lock held: the attachment ends, the volume goes unless preserved."""
        for attachment in self.state["bootVolumeAttachments"]:
            if attachment["instanceId"] != instance["id"]:
                continue
            attachment["lifecycleState"] = "DETACHED"
            if not instance.get("_preserve_boot_volume"):
                for volume in self.state["bootVolumes"]:
                    if volume["id"] == attachment["bootVolumeId"]:
                        volume["lifecycleState"] = "TERMINATED"

    def _terminate(self, call: Call) -> Answer:
        instance = self._find_instance(call.groups[0])
        with self.lock:
            if instance["lifecycleState"] not in ("TERMINATING", "TERMINATED"):
                instance["lifecycleState"] = "TERMINATING"
                instance["_preserve_boot_volume"] = call.param("preserveBootVolume") == "true"
                self.instance_polls[instance["id"]] = 0
        return 204, None, {}

    def _capture(self, call: Call) -> Answer:
        details = call.json()
        instance = self._find_instance(str(details.get("instanceId")))
        if instance["lifecycleState"] != "RUNNING":
            raise ApiError(409, "IncorrectState", f"Instance is {instance['lifecycleState']}")
        with self.lock:
            output = self.console.get(instance["imageId"], b"")[-CONSOLE_LIMIT:]
        history = {
            "id": self.ocid("consolehistory"),
            "availabilityDomain": instance["availabilityDomain"],
            "compartmentId": instance["compartmentId"],
            "instanceId": instance["id"],
            "displayName": details.get("displayName") or f"history-{uuid.uuid4().hex[:8]}",
            "lifecycleState": HISTORY_STATES[0],
            "timeCreated": instance.get("timeCreated"),
            "freeformTags": details.get("freeformTags") or {},
            "definedTags": {},
        }
        with self.lock:
            self.histories[history["id"]] = {**history, "_data": output}
        return 200, history, {"etag": str(uuid.uuid4())}

    def _history(self, history_id: str) -> dict[str, Any]:
        with self.lock:
            found = self.histories.get(history_id)
        if found is None:
            raise not_found()
        return found

    def _get_history(self, call: Call) -> Answer:
        history = self._history(call.groups[0])
        with self.lock:
            step = HISTORY_STATES.index(history["lifecycleState"])
            history["lifecycleState"] = HISTORY_STATES[min(step + 1, len(HISTORY_STATES) - 1)]
        return 200, public(history), {"etag": str(uuid.uuid4())}

    def _history_content(self, call: Call) -> Answer:
        history = self._history(call.groups[0])
        if history["lifecycleState"] != "SUCCEEDED":
            raise ApiError(409, "IncorrectState", f"Console history is {history['lifecycleState']}")
        data: bytes = history["_data"]
        offset = int(call.param("offset") or 0)
        length = int(call.param("length") or len(data))
        chunk = data[offset : offset + length]
        remaining = max(len(data) - offset - len(chunk), 0)
        return 200, chunk, {"opc-bytes-remaining": str(remaining)}

    def _delete_history(self, call: Call) -> Answer:
        self._history(call.groups[0])
        with self.lock:
            del self.histories[call.groups[0]]
        return 204, None, {}


def _launch_options(details: dict[str, Any], image: dict[str, Any]) -> tuple[str, bool]:
    """(firmware, in-transit encryption) of a launch, each one the image allows."""
    options = details.get("launchOptions") or {}
    firmware = options.get("firmware") or image["launchOptions"]["firmware"]
    capabilities = image.get("_capabilities", {})
    allowed = (capabilities.get("Compute.Firmware") or {}).get("values") or [
        image["launchOptions"]["firmware"]
    ]
    if firmware not in allowed:
        raise ApiError(
            400, "InvalidParameter", f"Firmware {firmware} is not supported by the image"
        )
    encrypt = bool(details.get("isPvEncryptionInTransitEnabled")) or bool(
        options.get("isPvEncryptionInTransitEnabled")
    )
    declared = capabilities.get("Storage.ParaVirtualization.EncryptionInTransit") or {}
    if encrypt and declared.get("defaultValue") is not True:
        raise ApiError(
            400,
            "InvalidParameter",
            "In-transit encryption is not supported for the boot volume of this image",
        )
    return str(firmware), encrypt


def _shape_config(shape: str, config: Any) -> tuple[float, float]:
    """(OCPUs, GB) of a launch: a Flex shape needs them, whole OCPUs of at least 1 on A1; a
    fixed shape has its own (E2.1.Micro: 1/8 OCPU, 1 GB, counted as 1 and 1 here)."""
    if not shape.endswith(".Flex"):
        if config:
            raise ApiError(400, "InvalidParameter", f"shapeConfig is not valid for {shape}")
        return 1.0, 1.0
    if not isinstance(config, dict) or config.get("ocpus") is None:
        raise ApiError(400, "InvalidParameter", f"{shape} needs shapeConfig.ocpus")
    ocpus = float(config["ocpus"])
    memory = float(config.get("memoryInGBs") or ocpus * 6)
    if ".A1." in shape and (ocpus < 1 or not ocpus.is_integer()):
        raise ApiError(400, "InvalidParameter", "A1 OCPUs must be a whole number of at least 1")
    return ocpus, memory
