"""The one shape every source of resources (stack, tofu plan, live tenancy) is turned into."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple


# A NamedTuple, not a frozen dataclass: as immutable, and twice as fast to build, which is
# most of the guard's time on a plan of thousands of resources (bench/guard.py).
class Resource(NamedTuple):
    """A resource that will exist after the change, with attributes as the OCI provider types
    them: `source_details[0].boot_volume_size_in_gbs` and `size_in_gbs` are strings,
    `shape_config[0].ocpus` and `memory_in_gbs` are numbers.

    `origin` is "stack", "plan:<layer>" or "live"; `id` is the OCID when known, so a live
    resource that a plan also manages is counted once. `unknown` is the plan's `after_unknown`
    tree as tofu writes it (`true` where a value is known only after apply).
    """

    address: str
    type: str
    values: Mapping[str, Any]
    origin: str
    id: str | None = None
    unknown: Any = None
