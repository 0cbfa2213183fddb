"""What a volume's performance costs above the free level. Pure.

Block Volume bills performance in VPUs (volume performance units) per GB a month: 10 is
Balanced, 20 Higher Performance, 30-120 Ultra High Performance (the API reference of
`bootVolumeVpusPerGB`, https://docs.oracle.com/en-us/iaas/tools/dotnet/latest/api/
Oci.CoreService.Models.InstanceSourceViaImageDetails.html). Always Free volumes get the
Balanced level (the profile's `free_vpus_per_gb`); anything above it is billed at the price
list's `block_volume_vpu_gb_month`. A fixed level above the free one is billed for certain.
Performance-based auto-tune raises an attached volume up to its policy's `max_vpus_per_gb`
under load, so a maximum above the free level may be billed, estimated at that maximum.
Detached-volume auto-tune (`is_auto_tune_enabled`, or a `DETACHED_VOLUME` policy) only lowers
a detached volume to the lower-cost level, so it adds nothing
(https://docs.oracle.com/en-us/iaas/Content/Block/Tasks/autotunevolumeperformance.htm).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from freetier.guard.plan import is_unknown, lookup, quantity
from freetier.guard.resources import Resource

PERFORMANCE_BASED = "PERFORMANCE_BASED"


class Charge(NamedTuple):
    category: Literal["free", "paid", "may-be-billed"]
    reason: str  # "" when free
    monthly_cost: float | None
    warnings: tuple[str, ...] = ()


def performance_charge(
    r: Resource,
    size_gb: float,
    vpus_path: str,
    *,
    free_vpus: float,
    price: float,
    policies_path: str | None = None,
) -> Charge:
    """The charge for `r`'s VPUs at `vpus_path` (unset: the free level), raised to the highest
    performance-based auto-tune maximum under `policies_path` when there is one."""
    vpus, warnings = quantity(r, vpus_path, free_vpus)
    maximum, more = _autotune_maximum(r, policies_path) if policies_path else (0.0, ())
    warnings += more
    if vpus > free_vpus:
        why = f"{vpus_path} {vpus:g} > {free_vpus:g} VPUs/GB is billed"
        if maximum is None:
            why += ", auto-tuned to an unknown maximum"
        elif maximum > vpus:
            why += f", auto-tuned up to {maximum:g}"
        cost = None if maximum is None else (max(vpus, maximum) - free_vpus) * size_gb * price
        return Charge("paid", why, cost, warnings)
    if maximum is None:
        why = f"{policies_path}: performance-based auto-tune to an unknown maximum may be billed"
        return Charge("may-be-billed", why, None, warnings)
    if maximum > free_vpus:
        why = f"performance-based auto-tune up to {maximum:g} VPUs/GB may be billed"
        return Charge("may-be-billed", why, (maximum - free_vpus) * size_gb * price, warnings)
    return Charge("free", "", 0.0, warnings)


def _autotune_maximum(r: Resource, path: str) -> tuple[float | None, tuple[str, ...]]:
    """The highest `max_vpus_per_gb` of the performance-based auto-tune policies: 0 without
    one, None when such a policy's maximum is known only after apply. A list known only after
    apply is what a plan shows when the configuration sets none (the API then sets none):
    counted as none, with a warning, as other values known only after apply are."""
    if is_unknown(r, path):
        return 0.0, (f"{r.address}: {path} is unknown until apply; counted as none",)
    policies = lookup(r.values, path)
    highest = 0.0
    for index, policy in enumerate(policies if isinstance(policies, list) else ()):
        kind = policy.get("autotune_type") if isinstance(policy, dict) else None
        if not isinstance(kind, str) or kind.upper() != PERFORMANCE_BASED:
            continue  # DETACHED_VOLUME only lowers a detached volume's performance
        where = f"{path}[{index}].max_vpus_per_gb"
        if is_unknown(r, where) or lookup(r.values, where) is None:
            return None, ()
        highest = max(highest, quantity(r, where, 0.0)[0])
    return highest, ()
