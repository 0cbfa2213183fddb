"""The free-tier guard: every planned and existing resource against the Always Free limits."""

from freetier.guard.classify import Assessment, Context, classify
from freetier.guard.evaluate import GuardResult, LimitUse, dedupe, evaluate
from freetier.guard.from_stack import stack_resources
from freetier.guard.plan import plan_resources, read_plan
from freetier.guard.profile import Prices, Profile, load_prices, load_profile, profile_names
from freetier.guard.render import (
    guard_json,
    render_guard_json,
    render_guard_markdown,
    render_guard_text,
    verdict_line,
)
from freetier.guard.resources import Resource

__all__ = [
    "Assessment",
    "Context",
    "GuardResult",
    "LimitUse",
    "Prices",
    "Profile",
    "Resource",
    "classify",
    "dedupe",
    "evaluate",
    "guard_json",
    "load_prices",
    "load_profile",
    "plan_resources",
    "profile_names",
    "read_plan",
    "render_guard_json",
    "render_guard_markdown",
    "render_guard_text",
    "stack_resources",
    "verdict_line",
]
