"""`freetier images boot-check`: launch one instance of an imported image, read its serial
console, and terminate it. OCI shows RUNNING whether the image booted or not
(siderolabs/talos#12557); the console history is what tells.

    guard (room for one instance?) -> LaunchInstance -> RUNNING -> CaptureConsoleHistory ->
    GetConsoleHistory until SUCCEEDED -> GetConsoleHistoryContent -> verdict (again until the
    deadline while the console shows no verdict yet) -> TerminateInstance -> TERMINATED

The instance is launched as tofu/oci launches nodes (paravirtualized boot volume and NIC,
in-transit encryption as `recipes.PV_ENCRYPTION_IN_TRANSIT`, Balanced boot volume, IMDSv2),
with no public IP, tagged `freetier-role: boot-check`. It is terminated whatever happens after
the launch: a verdict, an error, the deadline, Ctrl-C. An instance a killed run left behind is
found by its tag and terminated by the next run before it counts its room.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import oci

from freetier.errors import ConfigError, RemoteError
from freetier.guard.run import guard_context
from freetier.images.boot_verdict import Verdict, check_instance, console_verdict, room_problems
from freetier.images.importer import SHAPES, find_image
from freetier.images.options import Arch
from freetier.images.recipes import LAUNCH_MODE, PV_ENCRYPTION_IN_TRANSIT
from freetier.oci_clients import DEFAULT_RETRY, RetryPolicy, call, list_all, make_client
from freetier.stack import Stack
from freetier.stack.model import is_flex
from freetier.tenancy import read_live

TAG = {"freetier-role": "boot-check"}
GONE = frozenset({"TERMINATING", "TERMINATED"})
# The Talos Oracle page's example shape config (1 OCPU, 4 GB); the guard checks it fits.
DEFAULT_OCPUS = 1.0
DEFAULT_MEMORY_GB = 4.0
CONTENT_CHUNK = 1024 * 1024

Say = Callable[[str], None]


@dataclass(frozen=True)
class Timing:
    """The deadline for a verdict, how often OCI is polled, and the termination's own
    deadline (it runs after the first one has passed too)."""

    deadline_seconds: float = 10 * 60
    interval_seconds: float = 10.0
    terminate_seconds: float = 5 * 60
    capture_seconds: float = 2 * 60  # one console capture, even one begun near the deadline
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class CheckOptions:
    arch: Arch = "arm64"
    subnet_id: str | None = None
    ocpus: float = DEFAULT_OCPUS
    memory_gb: float = DEFAULT_MEMORY_GB
    timing: Timing = field(default_factory=Timing)
    retry: RetryPolicy = DEFAULT_RETRY
    env: Mapping[str, str] | None = None


@dataclass
class BootCheck:
    """What the check found; `exit_code` is the command's."""

    image_id: str
    image_name: str
    os_name: str
    shape: str
    room: list[str] = field(default_factory=list)
    instance_id: str | None = None
    verdict: Verdict | None = None
    console_bytes: int = 0
    console_tail: list[str] = field(default_factory=list)
    in_transit: dict[str, Any] = field(default_factory=dict)
    terminated: str | None = None  # the instance's last state seen
    cleaned_up: list[str] = field(default_factory=list)

    def drift(self) -> list[str]:
        """In-transit encryption the instance got other than it was launched with: every
        tofu/oci plan would show that difference."""
        requested = self.in_transit.get("requested")
        return [
            f"in-transit encryption: launched {requested}, the {where.replace('_', ' ')} "
            f"shows {self.in_transit[where]} (tofu/oci would plan a change on every run)"
            for where in ("instance", "boot_volume_attachment")
            if where in self.in_transit and self.in_transit[where] != requested
        ]

    @property
    def problems(self) -> list[str]:
        found = self.drift()
        if self.verdict is not None and not self.verdict.ok:
            found.insert(0, f"{self.verdict.outcome}: {self.verdict.reason}")
        return found

    @property
    def exit_code(self) -> int:
        if self.room:
            return 3
        return 0 if self.verdict is not None and not self.problems else 1

    def lines(self) -> list[str]:
        """The report as text, one fact a line."""
        out = [f"image {self.image_name} ({self.image_id}), {self.os_name}, on {self.shape}"]
        out += [f"cleaned up {i}, left by an earlier check" for i in self.cleaned_up]
        if self.room:
            out += [f"no room for the check's instance: {p}" for p in self.room]
            return out
        out.append("room: the check's instance fits the free allowance")
        if self.verdict is not None:
            seen = f": {self.verdict.line}" if self.verdict.line else ""
            out.append(f"verdict: {self.verdict.outcome}, {self.verdict.reason}{seen}")
        if self.in_transit:
            out.append(
                "in-transit encryption: "
                + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.in_transit.items())
            )
        out += [f"problem: {p}" for p in self.drift()]
        if self.instance_id is not None:
            out.append(f"instance {self.instance_id}: {self.terminated or 'not terminated'}")
        return out

    def as_json(self) -> dict[str, Any]:
        verdict = self.verdict
        return {
            "image": {"id": self.image_id, "name": self.image_name, "os": self.os_name},
            "shape": self.shape,
            "room": {"ok": not self.room, "problems": self.room},
            "instance": self.instance_id,
            "verdict": None if verdict is None else verdict.outcome,
            "reason": None if verdict is None else verdict.reason,
            "line": None if verdict is None else verdict.line,
            "console": {"bytes": self.console_bytes, "tail": self.console_tail},
            "in_transit_encryption": self.in_transit,
            "terminated": self.terminated,
            "cleaned_up": self.cleaned_up,
            "problems": self.problems,
            "exit_code": self.exit_code,
        }


class _Clients:
    def __init__(self, config: Mapping[str, Any], options: CheckOptions) -> None:
        def make(cls: Any) -> Any:
            return make_client(cls, config, retry=options.retry, env=options.env)

        self.compute = make(oci.core.ComputeClient)
        self.network = make(oci.core.VirtualNetworkClient)
        self.identity = make(oci.identity.IdentityClient)
        self.tenancy = str(config["tenancy"])


def boot_check(
    stack: Stack,
    config: Mapping[str, Any],
    image_ref: str,
    *,
    options: CheckOptions | None = None,
    say: Say = lambda line: None,
) -> BootCheck:
    """Check that the image `image_ref` (an OCID, or the display name `images publish` gave
    it) boots. ConfigError for an image, subnet or availability domain that is not there;
    RemoteError when OCI fails (the instance terminated all the same)."""
    opts = options or CheckOptions()
    clients = _Clients(config, opts)
    compartment = stack.oci.compartment_ocid
    image = _image(clients.compute, compartment, image_ref)
    shape = SHAPES[opts.arch]
    report = BootCheck(str(image.id), str(image.display_name), str(image.operating_system), shape)
    subnet = opts.subnet_id or _subnet(clients.network, compartment, f"{stack.name}-public")
    ad = _availability_domain(clients, stack)
    report.cleaned_up = _terminate_leftovers(clients.compute, compartment, say)
    ctx = guard_context(stack)
    boot_gb = ctx.profile.defaults.boot_volume_gb
    flex = is_flex(shape)
    name = f"{stack.name}-boot-check-{uuid.uuid4().hex[:8]}"
    candidate = check_instance(
        name, shape, opts.ocpus if flex else None, opts.memory_gb if flex else None, boot_gb
    )
    say("counting the tenancy's resources against the free allowance")
    report.room = room_problems(read_live(compartment, config, retry=opts.retry), candidate, ctx)
    if report.room:
        return report
    details = _launch_details(stack, image.id, shape, subnet, ad, name, opts, ctx)
    instance_id = _launch(clients.compute, compartment, details, say)
    report.instance_id = instance_id
    try:
        _observe(clients, report, ad, opts.timing, say)
    finally:
        report.terminated = _terminate(clients.compute, instance_id, opts.timing, say)
    return report


def _image(compute: Any, compartment: str, ref: str) -> Any:
    if ref.startswith("ocid1.image."):
        try:
            image = call(compute.get_image, ref).data
        except RemoteError as exc:
            if "HTTP 404" in str(exc):
                raise ConfigError([f"image {ref}: not found"]) from None
            raise
    else:
        image = find_image(compute, compartment, ref)
        if image is None:
            raise ConfigError(
                [f"image {ref}: no image of that name in the stack's compartment (publish it)"]
            )
    if image.lifecycle_state != "AVAILABLE":
        raise ConfigError([f"image {ref}: {image.lifecycle_state}, not AVAILABLE yet"])
    return image


def _subnet(network: Any, compartment: str, name: str) -> str:
    found = [
        s
        for s in list_all(network.list_subnets, compartment, display_name=name)
        if s.lifecycle_state == "AVAILABLE"
    ]
    if not found:
        raise ConfigError(
            [f"no subnet {name} in the stack's compartment: apply the oci layer, or pass --subnet"]
        )
    return str(found[0].id)


def _availability_domain(clients: _Clients, stack: Stack) -> str:
    ads = [a.name for a in list_all(clients.identity.list_availability_domains, clients.tenancy)]
    number = stack.oci.availability_domains[0]
    if number > len(ads):
        raise ConfigError(
            [f"oci.availability_domains: {number} does not exist ({len(ads)} in the region)"]
        )
    return str(ads[number - 1])


def _terminate_leftovers(compute: Any, compartment: str, say: Say) -> list[str]:
    """Instances an earlier, killed check left running: ours by their tag."""
    leftovers = [
        i.id
        for i in list_all(compute.list_instances, compartment)
        if (i.freeform_tags or {}).items() >= TAG.items() and i.lifecycle_state not in GONE
    ]
    for instance_id in leftovers:
        say(f"terminating {instance_id}, left by an earlier boot check")
        call(compute.terminate_instance, instance_id, preserve_boot_volume=False)
    return [str(i) for i in leftovers]


def _launch_details(
    stack: Stack,
    image_id: str,
    shape: str,
    subnet: str,
    ad: str,
    name: str,
    opts: CheckOptions,
    ctx: Any,
) -> Any:
    models = oci.core.models
    defaults = ctx.profile.defaults
    return models.LaunchInstanceDetails(
        compartment_id=stack.oci.compartment_ocid,
        availability_domain=ad,
        display_name=name,
        shape=shape,
        shape_config=models.LaunchInstanceShapeConfigDetails(
            ocpus=opts.ocpus, memory_in_gbs=opts.memory_gb
        )
        if is_flex(shape)
        else None,
        source_details=models.InstanceSourceViaImageDetails(
            source_type="image",
            image_id=image_id,
            boot_volume_size_in_gbs=defaults.boot_volume_gb,
            boot_volume_vpus_per_gb=defaults.free_vpus_per_gb,
        ),
        create_vnic_details=models.CreateVnicDetails(subnet_id=subnet, assign_public_ip=False),
        launch_options=models.LaunchOptions(
            network_type=LAUNCH_MODE,
            boot_volume_type=LAUNCH_MODE,
            is_pv_encryption_in_transit_enabled=PV_ENCRYPTION_IN_TRANSIT,
        ),
        is_pv_encryption_in_transit_enabled=PV_ENCRYPTION_IN_TRANSIT,
        instance_options=models.InstanceOptions(are_legacy_imds_endpoints_disabled=True),
        freeform_tags=dict(TAG),
    )


def _launch(compute: Any, compartment: str, details: Any, say: Say) -> str:
    """LaunchInstance with a retry token; when the call fails, an instance it may have
    created anyway (found by its unique name) is terminated before the error goes on."""
    token = uuid.uuid4().hex
    say(f"launching {details.display_name} ({details.shape})")
    try:
        return str(call(compute.launch_instance, details, opc_retry_token=token).data.id)
    except RemoteError:
        for found in list_all(
            compute.list_instances, compartment, display_name=details.display_name
        ):
            if found.lifecycle_state not in GONE:
                call(compute.terminate_instance, found.id, preserve_boot_volume=False)
        raise


def _observe(clients: _Clients, report: BootCheck, ad: str, timing: Timing, say: Say) -> None:
    compute = clients.compute
    instance_id = str(report.instance_id)
    deadline = timing.clock() + timing.deadline_seconds
    instance = _wait_running(compute, instance_id, deadline, timing, say)
    report.in_transit = _in_transit(compute, instance, ad)
    while True:
        text = _console(compute, instance_id, timing)
        report.console_bytes = len(text.encode())
        report.console_tail = text.splitlines()[-20:]
        report.verdict = console_verdict(text, report.os_name)
        say(f"console: {report.console_bytes} bytes, {report.verdict.outcome}")
        if report.verdict.final or timing.clock() >= deadline:
            return
        timing.sleep(min(timing.interval_seconds, max(deadline - timing.clock(), 0.0)))


def _wait_running(compute: Any, instance_id: str, deadline: float, timing: Timing, say: Say) -> Any:
    last = ""
    while True:
        instance = call(compute.get_instance, instance_id).data
        state = str(instance.lifecycle_state)
        if state != last:
            say(f"{instance_id}: {state}")
            last = state
        if state == "RUNNING":
            return instance
        if state not in ("PROVISIONING", "STARTING"):
            raise RemoteError(f"OCI instance {instance_id} ended {state} before RUNNING")
        if timing.clock() >= deadline:
            minutes = timing.deadline_seconds / 60
            raise RemoteError(
                f"OCI instance {instance_id} still {state} after {minutes:g} minutes "
                "(raise --timeout)"
            )
        timing.sleep(min(timing.interval_seconds, max(deadline - timing.clock(), 0.0)))


def _in_transit(compute: Any, instance: Any, ad: str) -> dict[str, Any]:
    """In-transit encryption as launched, as the instance reports it, and as its boot volume
    attachment does: what tofu/oci's plans would compare."""
    found: dict[str, Any] = {"requested": PV_ENCRYPTION_IN_TRANSIT}
    options = instance.launch_options
    if options is not None and options.is_pv_encryption_in_transit_enabled is not None:
        found["instance"] = bool(options.is_pv_encryption_in_transit_enabled)
    attachments = list_all(
        compute.list_boot_volume_attachments, ad, instance.compartment_id, instance_id=instance.id
    )
    if attachments and attachments[0].is_pv_encryption_in_transit_enabled is not None:
        found["boot_volume_attachment"] = bool(attachments[0].is_pv_encryption_in_transit_enabled)
    return found


def _console(compute: Any, instance_id: str, timing: Timing) -> str:
    """One capture of the serial console history, read to its end, then deleted."""
    models = oci.core.models
    deadline = timing.clock() + timing.capture_seconds
    details = models.CaptureConsoleHistoryDetails(instance_id=instance_id, freeform_tags=dict(TAG))
    history = call(compute.capture_console_history, details).data
    try:
        while history.lifecycle_state != "SUCCEEDED":
            if history.lifecycle_state == "FAILED":
                raise RemoteError(f"OCI console history {history.id} of {instance_id} FAILED")
            if timing.clock() >= deadline:
                raise RemoteError(
                    f"OCI console history of {instance_id} still {history.lifecycle_state} "
                    f"after {timing.capture_seconds:g} seconds"
                )
            timing.sleep(min(timing.interval_seconds, 2.0))
            history = call(compute.get_console_history, history.id).data
        return _content(compute, str(history.id))
    finally:
        call(compute.delete_console_history, history.id)


def _content(compute: Any, history_id: str) -> str:
    chunks: list[bytes] = []
    offset = 0
    while True:
        response = call(
            compute.get_console_history_content, history_id, offset=offset, length=CONTENT_CHUNK
        )
        data = response.data if isinstance(response.data, bytes) else str(response.data).encode()
        chunks.append(data)
        offset += len(data)
        remaining = int(response.headers.get("opc-bytes-remaining") or 0)
        if remaining <= 0 or not data:
            return b"".join(chunks).decode("utf-8", errors="replace")


def _terminate(compute: Any, instance_id: str, timing: Timing, say: Say) -> str:
    """TerminateInstance (boot volume too) and wait for TERMINATED; the last state seen. A
    failure names the instance, so it can be terminated by hand."""
    hint = f"terminate it: oci compute instance terminate --instance-id {instance_id}"
    try:
        say(f"terminating {instance_id}")
        call(compute.terminate_instance, instance_id, preserve_boot_volume=False)
        end = timing.clock() + timing.terminate_seconds
        while True:
            state = str(call(compute.get_instance, instance_id).data.lifecycle_state)
            if state == "TERMINATED" or timing.clock() >= end:
                say(f"{instance_id}: {state}")
                return state
            timing.sleep(min(timing.interval_seconds, max(end - timing.clock(), 0.0)))
    except RemoteError as exc:
        raise RemoteError(f"{exc}; instance {instance_id} may still run: {hint}") from None
    except KeyboardInterrupt:
        say(f"interrupted while terminating {instance_id}: {hint}")
        raise
