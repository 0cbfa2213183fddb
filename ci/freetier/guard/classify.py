"""One resource -> what it costs and what it counts against. Pure: no I/O, no totals."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, NamedTuple

from freetier.guard.performance import Charge, performance_charge
from freetier.guard.plan import is_unknown, quantity
from freetier.guard.profile import LimitName, Prices, Profile
from freetier.guard.resources import Resource

Category = Literal["free", "always-free", "may-be-billed", "paid", "unknown", "allowed"]
# Which category wins when a resource is two things at once (a free A1 instance whose boot
# volume runs above the free performance level is paid).
RANK: Mapping[Category, int] = MappingProxyType(
    {"always-free": 0, "free": 1, "allowed": 2, "may-be-billed": 3, "paid": 4, "unknown": 5}
)
A1_SHAPE = "VM.Standard.A1.Flex"
MICRO_SHAPE = "VM.Standard.E2.1.Micro"
GIB = 1024**3
NO_USAGE: Mapping[LimitName, float] = MappingProxyType({})


@dataclass(frozen=True)
class Context:
    profile: Profile
    prices: Prices
    allow_unknown: frozenset[str] = frozenset()


class Assessment(NamedTuple):  # built once per resource: see Resource on why not a dataclass
    resource: Resource
    category: Category
    reason: str
    usage: Mapping[LimitName, float] = NO_USAGE
    monthly_cost: float | None = 0.0  # None: billed at a price we do not know
    blocking: tuple[str, ...] = ()  # rules broken by this resource alone
    warnings: tuple[str, ...] = ()


def classify(resource: Resource, ctx: Context) -> Assessment:
    rule = RULES.get(resource.type)
    if rule is not None:
        return rule(resource, ctx)
    if not resource.type.startswith("oci_"):
        return Assessment(resource, "always-free", "not an OCI resource: no cloud cost")
    if resource.type in ctx.profile.always_free_types:
        return Assessment(resource, "always-free", ctx.profile.always_free_types[resource.type])
    return _unknown(resource, ctx, resource.type, "resource type")


def _unknown(resource: Resource, ctx: Context, name: str, what: str) -> Assessment:
    if name in ctx.allow_unknown:
        return Assessment(
            resource,
            "allowed",
            f"{what} {name} is not known to the guard; allowed by free_tier.allow_unknown",
            monthly_cost=None,
            warnings=(f"{resource.address}: {what} {name} allowed without a cost check",),
        )
    return Assessment(
        resource,
        "unknown",
        f"{what} {name} is not known to the guard: it may be billed",
        monthly_cost=None,
        blocking=(
            f"{resource.address}: unknown {what} {name} (allow it in stack.yaml "
            "free_tier.allow_unknown if you accept the risk)",
        ),
    )


def _with_charge(a: Assessment, charge: Charge) -> Assessment:
    """`a` plus what its volume's performance costs above the free level."""
    if charge.category == "free":
        return a._replace(warnings=a.warnings + charge.warnings) if charge.warnings else a
    cost = (
        None
        if a.monthly_cost is None or charge.monthly_cost is None
        else a.monthly_cost + charge.monthly_cost
    )
    paid = (f"{a.resource.address}: {charge.reason}",) if charge.category == "paid" else ()
    return a._replace(
        category=max(a.category, charge.category, key=RANK.__getitem__),
        reason=f"{a.reason}; {charge.reason}",
        monthly_cost=cost,
        blocking=a.blocking + paid,
        warnings=a.warnings + charge.warnings,
    )


def _charge(r: Resource, ctx: Context, size: float, vpus: str, policies: str | None) -> Charge:
    return performance_charge(
        r,
        size,
        vpus,
        free_vpus=ctx.profile.defaults.free_vpus_per_gb,
        price=ctx.prices.storage["block_volume_vpu_gb_month"],
        policies_path=policies,
    )


def _instance(r: Resource, ctx: Context) -> Assessment:
    assessment = _instance_shape(r, ctx)
    if not _inline_boot_volume(r):
        return assessment
    size = assessment.usage.get("block_storage_gb", 0.0)
    return _with_charge(
        assessment, _charge(r, ctx, size, "source_details[0].boot_volume_vpus_per_gb", None)
    )


def _instance_shape(r: Resource, ctx: Context) -> Assessment:
    if is_unknown(r, "shape"):
        return Assessment(
            r, "may-be-billed", "shape unknown until apply: not counted", monthly_cost=None
        )
    shape = str(r.values.get("shape", ""))
    boot, warnings = _boot_volume(r, ctx)
    if shape == MICRO_SHAPE:
        usage: dict[LimitName, float] = {"micro_instances": 1, "block_storage_gb": boot}
        return Assessment(r, "free", "E2.1.Micro", usage, warnings=warnings)
    ocpus, w1 = quantity(r, "shape_config[0].ocpus", 1)
    memory, w2 = quantity(r, "shape_config[0].memory_in_gbs", 1)
    warnings += w1 + w2
    if shape == A1_SHAPE:
        blocking: tuple[str, ...] = ()
        if not ocpus.is_integer() or ocpus < 1:
            blocking = (
                f"{r.address}: A1 OCPUs must be whole numbers of at least 1 (got {ocpus:g})",
            )
        usage = {
            "a1_instances": 1,
            "a1_ocpus": ocpus,
            "a1_memory_gb": memory,
            "block_storage_gb": boot,
        }
        return Assessment(
            r,
            "free",
            f"A1 {ocpus:g} OCPU / {memory:g} GB",
            usage,
            blocking=blocking,
            warnings=warnings,
        )
    price = ctx.prices.shapes.get(shape)
    if price is None:
        return _unknown(r, ctx, shape, "shape")
    cost = (ocpus * price.ocpu_hour + memory * price.gb_hour) * ctx.prices.hours_per_month
    return Assessment(
        r,
        "paid",
        f"{shape} is not Always Free ({ocpus:g} OCPU / {memory:g} GB)",
        {"block_storage_gb": boot},
        monthly_cost=cost,
        blocking=(f"{r.address}: paid shape {shape}",),
        warnings=warnings,
    )


def _inline_boot_volume(r: Resource) -> bool:
    """Plans and the stack carry an instance's boot volume inline; the live tenancy reports it
    as a resource of its own (oci_core_boot_volume)."""
    return r.origin != "live" or "source_details" in r.values


def _boot_volume(r: Resource, ctx: Context) -> tuple[float, tuple[str, ...]]:
    if not _inline_boot_volume(r):
        return 0, ()
    return quantity(
        r, "source_details[0].boot_volume_size_in_gbs", ctx.profile.defaults.boot_volume_gb
    )


def _volume(r: Resource, ctx: Context) -> Assessment:
    return _sized_volume(r, ctx, "volume", ctx.profile.defaults.block_volume_gb)


def _boot_volume_resource(r: Resource, ctx: Context) -> Assessment:
    return _sized_volume(r, ctx, "boot volume", ctx.profile.defaults.boot_volume_gb)


def _sized_volume(r: Resource, ctx: Context, what: str, default_gb: int) -> Assessment:
    """oci_core_volume and oci_core_boot_volume: their size counts against the block storage
    limit; performance above the free level, fixed or auto-tuned, is billed."""
    size, warnings = quantity(r, "size_in_gbs", default_gb)
    base = Assessment(
        r, "free", f"{size:g} GB {what}", {"block_storage_gb": size}, warnings=warnings
    )
    return _with_charge(base, _charge(r, ctx, size, "vpus_per_gb", "autotune_policies"))


def _backup(r: Resource, ctx: Context) -> Assessment:
    return Assessment(r, "free", "volume backup", {"volume_backups": 1})


def _bucket(r: Resource, ctx: Context) -> Assessment:
    # A bucket being created is empty: its size is known only after apply, and it is 0.
    size = 0.0 if is_unknown(r, "approximate_size") else quantity(r, "approximate_size", 0)[0]
    gb = size / GIB
    return Assessment(r, "free", f"bucket ({gb:.2f} GB stored)", {"object_storage_gb": gb})


def _vcn(r: Resource, ctx: Context) -> Assessment:
    return Assessment(r, "free", "VCN", {"vcns": 1})


def _public_ip(r: Resource, ctx: Context) -> Assessment:
    lifetime = r.values.get("lifetime")
    if lifetime == "EPHEMERAL":
        return Assessment(r, "always-free", "ephemeral public IP")
    why = "reserved public IPs are not in the Always Free list; price unconfirmed"
    if is_unknown(r, "lifetime") or lifetime is None:
        why = "lifetime unknown until apply; a reserved IP may be billed"
    return Assessment(r, "may-be-billed", why, monthly_cost=None)


def _load_balancer(r: Resource, ctx: Context) -> Assessment:
    shape = str(r.values.get("shape", ""))
    free_mbps = ctx.profile.defaults.load_balancer_free_mbps
    if shape == "flexible":
        mbps, warnings = quantity(r, "shape_details[0].maximum_bandwidth_in_mbps", free_mbps)
    else:
        digits = shape.removesuffix("Mbps")
        mbps, warnings = (float(digits), ()) if digits.isdigit() else (float("inf"), ())
    if mbps <= free_mbps and shape == "flexible":
        return Assessment(
            r,
            "free",
            f"flexible load balancer at {mbps:g} Mbps",
            {"load_balancers": 1},
            warnings=warnings,
        )
    net = ctx.prices.network
    hours = ctx.prices.hours_per_month
    cost = (
        None
        if mbps == float("inf")
        else (net["load_balancer_base_hour"] + mbps * net["load_balancer_mbps_hour"]) * hours
    )
    return Assessment(
        r,
        "paid",
        f"load balancer shape {shape or '?'} at {mbps:g} Mbps; only "
        f"{free_mbps} Mbps flexible is free",
        monthly_cost=cost,
        blocking=(f"{r.address}: load balancer above {free_mbps} Mbps is billed",),
        warnings=warnings,
    )


def _network_load_balancer(r: Resource, ctx: Context) -> Assessment:
    return Assessment(r, "free", "network load balancer", {"network_load_balancers": 1})


RULES: dict[str, Callable[[Resource, Context], Assessment]] = {
    "oci_core_instance": _instance,
    "oci_core_volume": _volume,
    "oci_core_boot_volume": _boot_volume_resource,
    "oci_core_volume_backup": _backup,
    "oci_core_boot_volume_backup": _backup,
    "oci_objectstorage_bucket": _bucket,
    "oci_core_vcn": _vcn,
    "oci_core_public_ip": _public_ip,
    "oci_load_balancer_load_balancer": _load_balancer,
    "oci_load_balancer": _load_balancer,
    "oci_network_load_balancer_network_load_balancer": _network_load_balancer,
}
