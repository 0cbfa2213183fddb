"""The typed model of stack.yaml: shapes of the data only; cross-field rules live in checks.py."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
SEMVER = r"^v?[0-9]+\.[0-9]+\.[0-9]+$"

Topology = Literal["direct", "proxmox"]
FreeTierProfile = Literal["always-free-2026-06", "always-free-legacy"]
A1_SHAPE = "VM.Standard.A1.Flex"


def _cidr(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"not a CIDR block: {exc}") from None
    if net.version != 4:
        raise ValueError("only IPv4 CIDR blocks are supported")
    return str(net)


Cidr = Annotated[str, AfterValidator(_cidr), Field(examples=["10.0.0.0/16"])]
Name = Annotated[
    str,
    Field(
        pattern=DNS_LABEL,
        description="A DNS label: lower-case letters, digits and '-', at most 63 characters.",
    ),
]
Version = Annotated[str, Field(pattern=SEMVER)]


class _Model(BaseModel):
    # strict: a quoted "2" is not an OCPU count; forbid: a typo'd key is an error, not ignored.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Oci(_Model):
    region: Annotated[
        str,
        Field(
            pattern=r"^[a-z]{2,3}-[a-z]+-[0-9]+$",
            description="The tenancy's home region: Always Free A1 capacity exists only there.",
            examples=["uk-london-1"],
        ),
    ]
    compartment_ocid: Annotated[
        str,
        Field(
            pattern=r"^ocid1\.(compartment|tenancy)\.oc[0-9]+\.\.[a-z0-9]+$",
            description="Compartment (or the tenancy root) that holds every resource.",
        ),
    ]
    availability_domains: Annotated[
        list[Annotated[int, Field(ge=1, le=3)]],
        Field(min_length=1, description="Availability domain numbers (1-3) the stack may use."),
    ] = [1]


class Instance(_Model):
    name: Name
    role: Literal["controlplane", "worker", "proxmox-host"]
    shape: Annotated[str, Field(pattern=r"^(VM|BM)\.[A-Za-z0-9.]+$")] = A1_SHAPE
    ocpus: Annotated[float | None, Field(gt=0, description="Flex shapes only.")] = None
    memory_gb: Annotated[int | None, Field(ge=1, description="Flex shapes only.")] = None
    boot_volume_gb: Annotated[int, Field(ge=50, le=32768)] = 50
    availability_domain: Annotated[int, Field(ge=1, le=3)] = 1


class Bastion(_Model):
    enabled: bool = True
    name: Name = "bastion"
    shape: Literal["VM.Standard.E2.1.Micro"] = "VM.Standard.E2.1.Micro"
    boot_volume_gb: Annotated[int, Field(ge=50, le=32768)] = 50
    availability_domain: Annotated[int, Field(ge=1, le=3)] = 1


class Network(_Model):
    vcn_cidr: Cidr = "10.0.0.0/16"
    subnet_cidr: Cidr = "10.0.1.0/24"
    pod_cidr: Cidr = "10.244.0.0/16"
    service_cidr: Cidr = "10.96.0.0/12"
    admin_cidrs: Annotated[
        list[Cidr],
        Field(min_length=1, description="Source CIDRs allowed to reach SSH and the Talos API."),
    ]


class Versions(_Model):
    """Checked together against the dated table in freetier/stack/compatibility.yaml."""

    talos: Version
    kubernetes: Version
    cilium: Version
    flux: Annotated[
        Version,
        Field(description="The Flux release the bootstrap installs (fluxcd/flux2 tag)."),
    ] = "v2.9.5"


class Flux(_Model):
    repo_url: Annotated[str, Field(pattern=r"^(https|ssh)://[^\s]+$")]
    branch: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]+$", min_length=1)] = "main"


class Apps(_Model):
    cert_manager: bool = True
    tailscale_operator: bool = True
    oci_ccm: bool = True
    grafana_alloy: bool = True


class Ingress(_Model):
    """Traffic in: a Cilium Gateway whose LoadBalancer Service the OCI cloud controller manager
    turns into the one Always Free flexible load balancer (10 Mbps in and out)."""

    enabled: Annotated[
        bool,
        Field(
            description="Render the Gateway (and so the load balancer); false: no traffic in "
            "from the internet, no load balancer."
        ),
    ] = True
    hostname: Annotated[
        str | None,
        Field(
            pattern=r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z][-a-z0-9]{0,61}[a-z0-9]$",
            description="The DNS name that points at the load balancer: gets an HTTPS listener "
            "with a certificate from cert-manager. Unset: HTTP only.",
            examples=["www.example.com"],
        ),
    ] = None


class Budget(_Model):
    alert_email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    # A whole number: the OCI provider types a budget's amount as an integer ("Float per
    # spec, but the service will only accept integers", oracle/terraform-provider-oci
    # internal/service/budget/budget_budget_resource.go), so 1.5 would fail at plan.
    amount: Annotated[
        int,
        Field(gt=0, description="Monthly budget in the tenancy's currency, a whole number."),
    ] = 1


class FreeTier(_Model):
    profile: FreeTierProfile = "always-free-2026-06"
    allow_unknown: Annotated[
        list[str],
        Field(
            description="Resource types or shapes the guard does not know and you accept "
            "anyway (they are reported, not counted). Anything else unknown blocks.",
            examples=[["oci_core_image"]],
        ),
    ] = []


class ProxmoxHost(_Model):
    name: Name
    address: Annotated[
        str | None, Field(description="SSH address; omit when `instance` names an OCI instance.")
    ] = None
    instance: Annotated[
        Name | None, Field(description="The `instances` entry (role proxmox-host) this host is.")
    ] = None
    ssh_user: Annotated[
        str,
        Field(
            description="SSH login on the host. The base image allows no root login: its user "
            "is `debian`, and sudo authenticates with the forwarded SSH agent."
        ),
    ] = "debian"
    ssh_port: Annotated[int, Field(ge=1, le=65535)] = 22
    osd_devices: Annotated[
        list[Annotated[str, Field(pattern=r"^/dev/[A-Za-z0-9/_.-]+$")]],
        Field(
            description="Whole disks that become Ceph OSDs. `proxmox bootstrap` refuses any "
            "that holds a partition or a filesystem and names it.",
            examples=[["/dev/sdb"]],
        ),
    ] = []


class TalosVm(_Model):
    name: Name
    host: Name
    vmid: Annotated[
        int | None,
        Field(
            ge=100,
            le=999_999_999,
            description="Proxmox VM id; default 100 + its index in talos_vms. 999 is the "
            "bootstrap's migration test and 9000-9099 its Tailscale containers.",
        ),
    ] = None
    role: Literal["controlplane", "worker"] = "controlplane"
    cores: Annotated[int, Field(ge=1)] = 1
    memory_gb: Annotated[int, Field(ge=2)] = 4
    disk_gb: Annotated[int, Field(ge=10)] = 20


class Ceph(_Model):
    enabled: bool = True
    pool: Name = "vm-storage"
    replicas: Annotated[int, Field(ge=1, le=7, description="The pool's size.")] = 3
    min_size: Annotated[
        int | None,
        Field(ge=1, le=7, description="The pool's min_size; default replicas - replicas // 2."),
    ] = None


class ImageGates(_Model):
    """Size gates in GB (the design document's: base < 8, Proxmox < 10, total < 20, which
    keeps the uploads inside the 20 GB Always Free Object Storage)."""

    base_gb: Annotated[float, Field(gt=0)] = 8
    proxmox_gb: Annotated[float, Field(gt=0)] = 10
    total_gb: Annotated[float, Field(gt=0)] = 20


class Images(_Model):
    debian_suite: Literal["bookworm", "trixie"] = "bookworm"
    snapshot: Annotated[
        str | None,
        Field(
            pattern=r"^[0-9]{8}T[0-9]{6}Z$",
            description="snapshot.debian.org timestamp to pin the mirror, e.g. 20261101T000000Z",
        ),
    ] = None
    bucket: Name = "freetier-images"
    talos_schematic: Annotated[
        str | None,
        Field(
            pattern=r"^[0-9a-f]{64}$",
            description="Talos Image Factory schematic ID (extensions); default: vanilla",
        ),
    ] = None
    gates: ImageGates = ImageGates()


class Kubernetes(_Model):
    kube_proxy: Annotated[
        bool, Field(description="false: Cilium replaces kube-proxy (kubeProxyReplacement)")
    ] = False


class VmNetwork(_Model):
    """Where the Talos VMs are: one bridge of the same name on every host, one layer-2 segment
    across the hosts (`proxmox bootstrap` does not create it), static addresses handed to each
    VM through its cloud-init drive, so the talos layer knows them before any VM exists."""

    bridge: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,14}$")] = "vmbr0"
    cidr: Annotated[Cidr, Field(description="The VMs' subnet: their kubelet node IPs.")] = (
        "10.10.0.0/24"
    )
    gateway_host: Annotated[
        int, Field(ge=1, description="The gateway: this host number of `cidr` (cidrhost).")
    ] = 1
    first_host: Annotated[
        int,
        Field(
            ge=1,
            description="talos_vms[i] gets host number first_host + i of `cidr` (cidrhost).",
        ),
    ] = 11


class Proxmox(_Model):
    hosts: list[ProxmoxHost] = []
    talos_vms: list[TalosVm] = []
    ceph: Ceph = Ceph()
    vm_network: VmNetwork = VmNetwork()
    arch: Annotated[
        Literal["amd64", "arm64"],
        Field(description="The hosts' architecture: the Talos nocloud image's."),
    ] = "amd64"
    allow_tcg: Annotated[
        bool,
        Field(
            description="Run Talos VMs on hosts without /dev/kvm under TCG emulation (very "
            "slow). Off: `proxmox bootstrap` refuses such a host."
        ),
    ] = False
    tailscale_lxc: Annotated[
        bool,
        Field(description="A Tailscale container on each host (userspace networking)."),
    ] = True


class Stack(_Model):
    """stack.yaml: the one file a user edits; every stage derives its inputs from it."""

    name: Name
    topology: Topology = "direct"
    oci: Oci
    instances: list[Instance]
    bastion: Bastion = Bastion()
    network: Network
    versions: Versions
    flux: Flux
    apps: Apps = Apps()
    ingress: Ingress = Ingress()
    budget: Budget
    free_tier: FreeTier = FreeTier()
    images: Images = Images()
    kubernetes: Kubernetes = Kubernetes()
    proxmox: Proxmox | None = None

    def node_names(self) -> list[str]:
        return [i.name for i in self.instances] + (
            [self.bastion.name] if self.bastion.enabled else []
        )


def is_flex(shape: str) -> bool:
    return shape.endswith(".Flex")


def is_a1(shape: str) -> bool:
    return re.match(r"^VM\.Standard\.A1\.", shape) is not None


# VM ids `proxmox bootstrap` itself uses: its migration test VM and a Tailscale container per
# host (TAILSCALE_VMID_BASE + the host's index).
MIGRATION_VMID = 999
TAILSCALE_VMID_BASE = 9000
RESERVED_VMIDS: dict[int, str] = {
    MIGRATION_VMID: "the bootstrap's migration test VM",
    **{TAILSCALE_VMID_BASE + i: "a Tailscale container's" for i in range(100)},
}
FIRST_VMID = 100


def vm_id(pve: Proxmox, index: int) -> int:
    """The VM id of talos_vms[index]: its own, else FIRST_VMID + index."""
    vmid = pve.talos_vms[index].vmid
    return FIRST_VMID + index if vmid is None else vmid


def vm_address(pve: Proxmox, index: int) -> str:
    """The address of talos_vms[index] on the VM network (what cloud-init gives it).

    >>> vm_address(Proxmox(talos_vms=[{"name": "a", "host": "h"}]), 0)
    '10.10.0.11'
    """
    net = ipaddress.ip_network(pve.vm_network.cidr)
    return str(net[pve.vm_network.first_host + index])


def ceph_min_size(ceph: Ceph) -> int:
    """The pool's min_size: the stack's, else Ceph's own default for a replicated pool,
    size - size / 2 (ceph/ceph#20555, qa/standalone/mon/misc.sh checks exactly that)."""
    return ceph.replicas - ceph.replicas // 2 if ceph.min_size is None else ceph.min_size
