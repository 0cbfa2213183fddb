"""`freetier guard`: gather resources from the stack, plans and (optionally) the tenancy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from freetier.errors import ConfigError
from freetier.guard.classify import Context
from freetier.guard.evaluate import GuardResult, evaluate
from freetier.guard.from_stack import ingress_resources, stack_resources
from freetier.guard.plan import read_plan
from freetier.guard.profile import load_prices, load_profile
from freetier.guard.resources import Resource
from freetier.stack import Stack
from freetier.stack.model import FreeTier
from freetier.talos.cilium import oci_ccm_enabled

# The layer whose plan replaces what the guard derives from stack.yaml.
STACK_LAYER = "oci"


def parse_plan_spec(spec: str) -> tuple[str, Path]:
    """ "oci=plan.json" -> ("oci", Path("plan.json"))."""
    name, sep, file = spec.partition("=")
    if not sep or not name or not file:
        raise ConfigError([f"--plan {spec}: expected NAME=FILE, e.g. oci=out/oci/plan.json"])
    return name, Path(file)


def guard_context(stack: Stack, profile_name: str | None = None) -> Context:
    return Context(
        profile=load_profile(profile_name or stack.free_tier.profile),
        prices=load_prices(),
        allow_unknown=frozenset(stack.free_tier.allow_unknown),
    )


def gather(
    stack: Stack,
    plans: Sequence[tuple[str, Path]],
    live: Sequence[Resource] = (),
    cluster: Sequence[Resource] = (),
) -> list[Resource]:
    """The stack's layer-1 resources unless an `oci` plan says exactly what they are, its
    ingress load balancer unless the cluster's tree says what it is (`cluster`, from
    `guard.from_cluster`), every plan's after-state, then the tenancy's existing resources."""
    names = [name for name, _ in plans]
    if len(set(names)) != len(names):
        raise ConfigError([f"--plan: a layer is named twice: {', '.join(sorted(names))}"])
    resources = ingress_resources(stack) if STACK_LAYER in names else stack_resources(stack)
    if not oci_ccm_enabled(stack):
        cluster = ()  # no OCI CCM: no Service becomes an OCI load balancer
    in_tree = {r.address for r in cluster}
    resources = [r for r in resources if r.address not in in_tree] + list(cluster)
    for name, path in plans:
        resources += read_plan(path, name)
    return resources + list(live)


def run_guard(
    stack: Stack,
    plans: Sequence[tuple[str, Path]],
    *,
    live: Sequence[Resource] = (),
    cluster: Sequence[Resource] = (),
    profile_name: str | None = None,
) -> GuardResult:
    ctx = guard_context(stack, profile_name)
    return evaluate(gather(stack, plans, live, cluster), ctx)


# The newest Always Free allowance: the profile a stack gets unless it names another.
CURRENT_PROFILE: str = FreeTier.model_fields["profile"].default


def current_verdict(stack: Stack) -> GuardResult:
    """What the stack's own resources cost on the current allowance, offline: said by
    `stack validate` and the PR comment before anything is created."""
    return run_guard(stack, [], profile_name=CURRENT_PROFILE)
