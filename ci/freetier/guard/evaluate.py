"""All resources together (limits are per tenancy) -> limits used, cost, verdict. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from freetier.errors import ConfigError
from freetier.guard.classify import A1_SHAPE, Assessment, Context, classify
from freetier.guard.profile import LimitName, Profile
from freetier.guard.resources import Resource

# The categories whose monthly cost (or unknown price) goes into the estimate.
BILLED = frozenset({"paid", "unknown", "may-be-billed"})


@dataclass(frozen=True)
class LimitUse:
    name: LimitName
    used: float
    limit: float
    unit: str
    note: str
    overage_cost: float | None  # per month; None when OCI refuses or bills at an unknown price

    @property
    def over(self) -> bool:
        return self.used > self.limit + 1e-9


@dataclass(frozen=True)
class GuardResult:
    profile: Profile
    assessments: tuple[Assessment, ...]
    limits: tuple[LimitUse, ...]
    blocking: tuple[str, ...]
    may_be_billed: tuple[str, ...]  # not certain to cost, not certain to be free either
    warnings: tuple[str, ...]
    monthly_cost: float  # what we can price, may-be-billed items at their most; see cost_known
    cost_known: bool
    sources: tuple[str, ...]

    @property
    def free(self) -> bool:
        return not self.blocking and not self.may_be_billed

    @property
    def exit_code(self) -> int:
        return 0 if self.free else 1


def evaluate(resources: Iterable[Resource], ctx: Context) -> GuardResult:
    kept = dedupe(list(resources))
    assessments = _classify_all(kept, ctx)
    limits = tuple(_limit_uses(assessments, ctx))
    blocking = [b for a in assessments for b in a.blocking]
    blocking += [
        f"{u.name}: {u.used:g} of {u.limit:g} {u.unit} ({u.note})" for u in limits if u.over
    ]
    may_be_billed = tuple(
        f"{a.resource.address}: {a.reason}" for a in assessments if a.category == "may-be-billed"
    )
    warnings = tuple(w for a in assessments for w in a.warnings)
    costs = [a.monthly_cost for a in assessments if a.category in BILLED]
    costs += [u.overage_cost for u in limits if u.over]
    known = [c for c in costs if c is not None]
    return GuardResult(
        profile=ctx.profile,
        assessments=assessments,
        limits=limits,
        blocking=tuple(blocking),
        may_be_billed=may_be_billed,
        warnings=warnings,
        monthly_cost=sum(known),
        cost_known=len(known) == len(costs),
        sources=tuple(sorted({r.origin for r in kept})),
    )


def _classify_all(resources: Sequence[Resource], ctx: Context) -> tuple[Assessment, ...]:
    """Every resource classified; bad quantities in any of them are reported together."""
    assessments: list[Assessment] = []
    problems: list[str] = []
    for r in resources:
        try:
            assessments.append(classify(r, ctx))
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return tuple(assessments)


def dedupe(resources: Sequence[Resource]) -> list[Resource]:
    """A live resource that the stack or a plan also describes is counted once, from the plan.

    Plans name existing resources by OCID; the stack and the cluster's tree (no OCIDs) by type
    and display name (a load balancer the OCI CCM made, by its freeform tag). A
    live boot volume of such an instance goes too: the instance counts its boot volume.
    """
    managed = [r for r in resources if r.origin != "live"]
    ids = {r.id for r in managed if r.id}
    names = {
        (r.type, r.values.get("display_name")) for r in managed if r.origin in ("stack", "cluster")
    }
    live = [r for r in resources if r.origin == "live"]
    dropped = {r.id for r in live if r.id in ids or (r.type, r.values.get("display_name")) in names}
    kept_live = [
        r
        for r in live
        if r.id not in dropped and r.values.get("attached_instance_id") not in ids | dropped
    ]
    return managed + kept_live


def _limit_uses(assessments: Sequence[Assessment], ctx: Context) -> Iterable[LimitUse]:
    used: dict[LimitName, float] = {}
    for a in assessments:
        for name, amount in a.usage.items():
            used[name] = used.get(name, 0.0) + amount
    for name, limit in ctx.profile.limits.items():
        amount = used.get(name, 0.0)
        yield LimitUse(
            name,
            amount,
            limit.limit,
            limit.unit,
            limit.note,
            _overage_cost(name, amount - limit.limit, ctx),
        )


def _overage_cost(name: LimitName, over: float, ctx: Context) -> float | None:
    if over <= 0:
        return 0.0
    prices, hours = ctx.prices, ctx.prices.hours_per_month
    a1 = prices.shapes[A1_SHAPE]
    balanced = ctx.profile.defaults.free_vpus_per_gb * prices.storage["block_volume_vpu_gb_month"]
    per_month: dict[str, float] = {
        "a1_ocpus": a1.ocpu_hour * hours,
        "a1_memory_gb": a1.gb_hour * hours,
        # A GB beyond the free ones is billed with its Balanced performance units.
        "block_storage_gb": prices.storage["block_volume_gb_month"] + balanced,
        "object_storage_gb": prices.storage["object_storage_gb_month"],
    }
    return over * per_month[name] if name in per_month else None
