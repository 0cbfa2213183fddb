"""`tofu show -json` -> the resources that exist after the change. Pure, apart from reading."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from freetier.errors import ConfigError
from freetier.files import shown
from freetier.guard.resources import Resource
from freetier.plans.parse import check_format_version, load_plan_json


def read_plan(path: Path, layer: str) -> list[Resource]:
    return plan_resources(load_plan_json(path), layer, str(path))


def plan_resources(plan: Any, layer: str, where: str = "plan") -> list[Resource]:
    """Managed resources of the planned after-state: deletes drop out, replacements count once,
    `forget` keeps the resource (it stays in the cloud, only unmanaged)."""
    check_format_version(plan, where)
    changes = plan.get("resource_changes", [])
    if not isinstance(changes, list):
        raise ConfigError([f"{where}: resource_changes: expected a list"])
    return [r for index, rc in enumerate(changes) if (r := _resource(rc, layer, where, index))]


def _resource(rc: Any, layer: str, where: str, index: int) -> Resource | None:
    try:
        if rc.get("mode", "managed") != "managed":
            return None
        change = rc["change"]
        actions = change["actions"]
        address, rtype = rc["address"], rc["type"]
    except (AttributeError, KeyError, TypeError):
        raise ConfigError(
            [f"{where}: resource_changes[{index}]: missing address, type or change.actions"]
        ) from None
    if actions == ["delete"]:
        return None
    state = change.get("before") if actions == ["forget"] else change.get("after")
    values = state if isinstance(state, dict) else {}
    rid = values.get("id") if isinstance(values.get("id"), str) else None
    return Resource(address, rtype, values, f"plan:{layer}", rid, change.get("after_unknown"))


@lru_cache(maxsize=256)
def path_parts(path: str) -> tuple[str | int, ...]:
    """ "a[0].b" -> ("a", 0, "b"); cached, since the guard asks for the same few paths."""
    return tuple(int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path))


def _step(node: Any, part: str | int) -> Any:
    # Plain `dict`/`list` checks: plans are JSON, and an ABC check per step doubled the
    # guard's time on big plans.
    if isinstance(part, int):
        return node[part] if isinstance(node, list) and part < len(node) else None
    return node.get(part) if isinstance(node, dict) else None


def lookup(tree: Any, path: str) -> Any:
    """The value at `path`, or None when any step is missing."""
    node = tree
    for part in path_parts(path):
        node = _step(node, part)
        if node is None:
            return None
    return node


def is_unknown(resource: Resource, path: str) -> bool:
    """True when `path`, or a block containing it, is unknown until apply."""
    node = resource.unknown
    for part in path_parts(path):
        if node is True:
            return True
        node = _step(node, part)
        if node is None:
            return False
    return node is True


def quantity(resource: Resource, path: str, default: float) -> tuple[float, tuple[str, ...]]:
    """A counted attribute (a size, OCPUs, VPUs), read as a number: the provider types sizes as
    strings. Unset counts as `default`; unknown until apply counts as `default` with a warning
    naming the attribute. Anything else that is not a finite number >= 0 (NaN, infinite,
    negative, not a number) is bad input: ConfigError, one line naming resource and attribute."""
    default = float(default)
    if is_unknown(resource, path):
        return default, (
            f"{resource.address}: {path} is unknown until apply; counted as {default:g}",
        )
    value = lookup(resource.values, path)
    if value is None:
        return default, ()
    number = _finite(value)
    if number is None or number < 0:
        raise ConfigError(
            [
                f"{resource.origin}: {resource.address}: {path} = {shown(value)} is not a "
                "quantity (a finite number >= 0)"
            ]
        )
    return number, ()


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):  # "abc"; an integer too large for a float
        return None
    return number if math.isfinite(number) else None
