"""What already exists in the tenancy, read with the OCI SDK, as guard Resources: the
guard's `--live` input (an adapter: the guard itself stays pure).

`read_live` does the I/O (every list paginated to its last page); the `*_resource` functions
and `convert` are pure: SDK model objects in, `Resource` out, so they are tested without a
network. Values follow the OCI Terraform provider's attribute names and types (sizes in GB as
strings), so a live resource is counted by the same rules as a planned one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import oci

from freetier.errors import ConfigError
from freetier.guard.resources import Resource
from freetier.ingress import tagged_name
from freetier.oci_clients import (
    DEFAULT_RETRY,
    RetryPolicy,
    call,
    list_all,
    load_oci_config,
    make_client,
    remote_errors,
)
from freetier.stack import Stack

ORIGIN = "live"

# A resource in one of these states is gone or going, and is no longer counted.
GONE_STATES = frozenset({"TERMINATING", "TERMINATED", "DELETING", "DELETED"})
# A boot volume attachment in one of these states ties its volume to the instance.
ATTACHED_STATES = frozenset({"ATTACHING", "ATTACHED"})

# Output order: by type in this order, then by address.
TYPE_ORDER = (
    "oci_core_instance",
    "oci_core_boot_volume",
    "oci_core_volume",
    "oci_core_boot_volume_backup",
    "oci_core_volume_backup",
    "oci_objectstorage_bucket",
    "oci_core_public_ip",
    "oci_load_balancer_load_balancer",
    "oci_network_load_balancer_network_load_balancer",
    "oci_core_vcn",
)


@dataclass
class LiveListing:
    """The SDK model objects one read of a compartment returned, before conversion."""

    instances: list[Any] = field(default_factory=list)
    boot_volumes: list[Any] = field(default_factory=list)
    boot_volume_attachments: list[Any] = field(default_factory=list)
    volumes: list[Any] = field(default_factory=list)
    boot_volume_backups: list[Any] = field(default_factory=list)
    volume_backups: list[Any] = field(default_factory=list)
    buckets: list[Any] = field(default_factory=list)
    public_ips: list[Any] = field(default_factory=list)
    load_balancers: list[Any] = field(default_factory=list)
    network_load_balancers: list[Any] = field(default_factory=list)
    vcns: list[Any] = field(default_factory=list)


# --- pure converters -------------------------------------------------------------------------


def _gone(obj: Any) -> bool:
    return getattr(obj, "lifecycle_state", None) in GONE_STATES


def _gb(value: Any) -> str | None:
    """A size in GB as the provider types it: a string of the whole number."""
    if value is None:
        return None
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _live(type_: str, name: str | None, ocid: str, values: Mapping[str, Any]) -> Resource:
    return Resource(
        address=f"live:{type_}.{name or ocid}",
        type=type_,
        values=dict(values),
        origin=ORIGIN,
        id=ocid,
    )


def instance_resource(instance: Any) -> Resource | None:
    """`oci_core_instance`; None for a terminated or terminating instance."""
    if _gone(instance):
        return None
    config = instance.shape_config
    shape_config = (
        []
        if config is None
        else [
            {
                "ocpus": _number(config.ocpus),
                "memory_in_gbs": _number(config.memory_in_gbs),
            }
        ]
    )
    values = {
        "shape": instance.shape,
        "shape_config": shape_config,
        "display_name": instance.display_name,
        "state": instance.lifecycle_state,
        "availability_domain": instance.availability_domain,
    }
    return _live("oci_core_instance", instance.display_name, instance.id, values)


def attached_instances(attachments: Iterable[Any]) -> dict[str, str]:
    """Boot volume OCID -> instance OCID, for attachments that hold their volume."""
    return {
        att.boot_volume_id: att.instance_id
        for att in attachments
        if att.lifecycle_state in ATTACHED_STATES and att.boot_volume_id and att.instance_id
    }


def boot_volume_resource(volume: Any, attached: Mapping[str, str]) -> Resource | None:
    """`oci_core_boot_volume`, with `attached_instance_id` from the attachments (or None)."""
    if _gone(volume):
        return None
    values = {
        "size_in_gbs": _gb(volume.size_in_gbs),
        "vpus_per_gb": _gb(volume.vpus_per_gb),
        "display_name": volume.display_name,
        "availability_domain": volume.availability_domain,
        "state": volume.lifecycle_state,
        "attached_instance_id": attached.get(volume.id),
    }
    return _live("oci_core_boot_volume", volume.display_name, volume.id, values)


def volume_resource(volume: Any) -> Resource | None:
    """`oci_core_volume` (a block volume)."""
    if _gone(volume):
        return None
    values = {
        "size_in_gbs": _gb(volume.size_in_gbs),
        "vpus_per_gb": _gb(volume.vpus_per_gb),
        "display_name": volume.display_name,
        "availability_domain": volume.availability_domain,
        "state": volume.lifecycle_state,
    }
    return _live("oci_core_volume", volume.display_name, volume.id, values)


def backup_resource(backup: Any, type_: str) -> Resource | None:
    """`oci_core_volume_backup` or `oci_core_boot_volume_backup`."""
    if _gone(backup):
        return None
    values = {
        "size_in_gbs": _gb(backup.size_in_gbs),
        "display_name": backup.display_name,
        "type": backup.type,
        "state": backup.lifecycle_state,
    }
    return _live(type_, backup.display_name, backup.id, values)


def bucket_resource(bucket: Any) -> Resource:
    """`oci_objectstorage_bucket`, with `approximate_size` in bytes (0 when not reported)."""
    values = {
        "name": bucket.name,
        "namespace": bucket.namespace,
        "approximate_size": int(bucket.approximate_size or 0),
        "storage_tier": bucket.storage_tier,
    }
    ocid = bucket.id or f"{bucket.namespace}/{bucket.name}"
    return _live("oci_objectstorage_bucket", bucket.name, ocid, values)


def public_ip_resource(ip: Any) -> Resource | None:
    """`oci_core_public_ip`."""
    if _gone(ip):
        return None
    values = {
        "lifetime": ip.lifetime,
        "ip_address": ip.ip_address,
        "display_name": ip.display_name,
        "state": ip.lifecycle_state,
    }
    return _live("oci_core_public_ip", ip.display_name, ip.id, values)


def load_balancer_resource(lb: Any) -> Resource | None:
    """`oci_load_balancer_load_balancer`; `shape_details` is empty for fixed shapes."""
    if _gone(lb):
        return None
    details = lb.shape_details
    shape_details = (
        []
        if details is None
        else [
            {
                "minimum_bandwidth_in_mbps": details.minimum_bandwidth_in_mbps,
                "maximum_bandwidth_in_mbps": details.maximum_bandwidth_in_mbps,
            }
        ]
    )
    # The CCM names a load balancer after its Service's UID; ours carries the name the stack
    # gives it in a freeform tag (freetier.ingress), so the guard counts it once.
    name = tagged_name(getattr(lb, "freeform_tags", None)) or lb.display_name
    values = {
        "shape": lb.shape_name,
        "shape_details": shape_details,
        "display_name": name,
        "state": lb.lifecycle_state,
    }
    return _live("oci_load_balancer_load_balancer", name, lb.id, values)


def network_load_balancer_resource(nlb: Any) -> Resource | None:
    """`oci_network_load_balancer_network_load_balancer`."""
    if _gone(nlb):
        return None
    values = {"display_name": nlb.display_name, "state": nlb.lifecycle_state}
    type_ = "oci_network_load_balancer_network_load_balancer"
    return _live(type_, nlb.display_name, nlb.id, values)


def vcn_resource(vcn: Any) -> Resource | None:
    """`oci_core_vcn`."""
    if _gone(vcn):
        return None
    blocks = list(vcn.cidr_blocks or ([vcn.cidr_block] if vcn.cidr_block else []))
    values = {"cidr_blocks": blocks, "display_name": vcn.display_name, "state": vcn.lifecycle_state}
    return _live("oci_core_vcn", vcn.display_name, vcn.id, values)


def convert(listing: LiveListing) -> list[Resource]:
    """Every counted resource of a listing, by type (TYPE_ORDER) then address.

    Two resources of one type with the same display name are told apart by their OCIDs."""
    attached = attached_instances(listing.boot_volume_attachments)
    converted: list[Resource | None] = [
        *(instance_resource(i) for i in listing.instances),
        *(boot_volume_resource(v, attached) for v in listing.boot_volumes),
        *(volume_resource(v) for v in listing.volumes),
        *(backup_resource(b, "oci_core_boot_volume_backup") for b in listing.boot_volume_backups),
        *(backup_resource(b, "oci_core_volume_backup") for b in listing.volume_backups),
        *(bucket_resource(b) for b in listing.buckets),
        *(public_ip_resource(ip) for ip in listing.public_ips),
        *(load_balancer_resource(lb) for lb in listing.load_balancers),
        *(network_load_balancer_resource(n) for n in listing.network_load_balancers),
        *(vcn_resource(v) for v in listing.vcns),
    ]
    resources = _unique(_dedupe_by_id([r for r in converted if r is not None]))
    return sorted(resources, key=lambda r: (TYPE_ORDER.index(r.type), r.address))


def _dedupe_by_id(resources: list[Resource]) -> list[Resource]:
    """One resource per OCID (a boot volume listed in two ADs' pages is counted once)."""
    seen: set[tuple[str, str | None]] = set()
    out: list[Resource] = []
    for resource in resources:
        key = (resource.type, resource.id)
        if key not in seen:
            seen.add(key)
            out.append(resource)
    return out


def _unique(resources: list[Resource]) -> list[Resource]:
    counts = Counter(r.address for r in resources)
    return [
        r
        if counts[r.address] == 1
        else Resource(
            address=f"live:{r.type}.{r.id}",
            type=r.type,
            values=r.values,
            origin=r.origin,
            id=r.id,
            unknown=r.unknown,
        )
        for r in resources
    ]


# --- I/O -------------------------------------------------------------------------------------


def fetch(compartment_id: str, config: Mapping[str, Any], retry: RetryPolicy) -> LiveListing:
    """List every counted resource type of the compartment, following pagination."""

    def client(cls: Any) -> Any:
        return make_client(cls, config, retry=retry)

    identity = client(oci.identity.IdentityClient)
    compute = client(oci.core.ComputeClient)
    storage = client(oci.core.BlockstorageClient)
    network = client(oci.core.VirtualNetworkClient)
    objects = client(oci.object_storage.ObjectStorageClient)
    lbs = client(oci.load_balancer.LoadBalancerClient)
    nlbs = client(oci.network_load_balancer.NetworkLoadBalancerClient)

    listing = LiveListing()
    ads = [ad.name for ad in list_all(identity.list_availability_domains, config["tenancy"])]
    listing.instances = list_all(compute.list_instances, compartment_id)
    for ad in ads:
        listing.boot_volumes += list_all(
            storage.list_boot_volumes, availability_domain=ad, compartment_id=compartment_id
        )
        listing.boot_volume_attachments += list_all(
            compute.list_boot_volume_attachments, ad, compartment_id
        )
    listing.volumes = list_all(storage.list_volumes, compartment_id=compartment_id)
    listing.boot_volume_backups = list_all(storage.list_boot_volume_backups, compartment_id)
    listing.volume_backups = list_all(storage.list_volume_backups, compartment_id)
    listing.buckets = _buckets(objects, compartment_id)
    listing.public_ips = list_all(
        network.list_public_ips, "REGION", compartment_id, lifetime="RESERVED"
    )
    listing.load_balancers = list_all(lbs.list_load_balancers, compartment_id)
    listing.network_load_balancers = list_all(nlbs.list_network_load_balancers, compartment_id)
    listing.vcns = list_all(network.list_vcns, compartment_id)
    return listing


def _buckets(objects: Any, compartment_id: str) -> list[Any]:
    namespace: str = call(objects.get_namespace).data
    summaries = list_all(objects.list_buckets, namespace, compartment_id)
    get: Callable[..., Any] = objects.get_bucket
    return [call(get, namespace, s.name, fields=["approximateSize"]).data for s in summaries]


def read_live(
    compartment_id: str, config: Mapping[str, Any], *, retry: RetryPolicy = DEFAULT_RETRY
) -> list[Resource]:
    """Every resource of the compartment that counts against the Always Free limits.

    Raises RemoteError (one line: client, operation, HTTP status, service code) when OCI
    refuses or fails after the bounded retries, ConfigError when the credentials are unusable."""
    return convert(fetch(compartment_id, config, retry))


def read_tenancy(stack: Stack, env: Mapping[str, str], home: Path) -> list[Resource]:
    """The stack's compartment's existing resources, with the OCI config found in `env` and
    `home`."""
    return read_live(stack.oci.compartment_ocid, load_oci_config(env, home))


# --- region subscriptions (freetier init) ------------------------------------------------------


@dataclass(frozen=True)
class RegionSubscription:
    """One region the tenancy is subscribed to; exactly one is its home region."""

    name: str  # e.g. uk-london-1
    key: str  # e.g. LHR
    home: bool
    status: str  # READY or IN_PROGRESS


def region_subscriptions(
    config: Mapping[str, Any],
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    env: Mapping[str, str] | None = None,
) -> list[RegionSubscription]:
    """The tenancy's region subscriptions (IdentityClient.list_region_subscriptions): a signed
    call, so it also proves the API key. A key OCI refuses (401) is bad input: the config
    names the wrong fingerprint, user or tenancy, or the public key was never uploaded."""
    identity = make_client(oci.identity.IdentityClient, config, retry=retry, env=env)
    endpoint = getattr(identity.base_client, "endpoint", None)
    with remote_errors("IdentityClient list_region_subscriptions", endpoint):
        try:
            items = identity.list_region_subscriptions(config["tenancy"]).data
        except oci.exceptions.ServiceError as exc:
            if exc.status != 401:
                raise
            raise ConfigError(
                [
                    "OCI config: the API key was refused (HTTP 401 NotAuthenticated): check "
                    "user, fingerprint and tenancy, and that the public key is uploaded to "
                    "the user"
                ]
            ) from None
    return [
        RegionSubscription(
            name=str(item.region_name),
            key=str(item.region_key),
            home=bool(item.is_home_region),
            status=str(item.status),
        )
        for item in items
    ]
