"""The guard on a plan of 5,000 resources, against `json.load` of the same file.

Prints both times and their ratio, measured in this process (these machines are noisy).
Target: guard <= 2 x json.load. Run: .venv/bin/python bench/guard.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from freetier.guard.classify import Context
from freetier.guard.evaluate import evaluate
from freetier.guard.plan import read_plan
from freetier.guard.profile import load_prices, load_profile

RESOURCES = 5_000
ROUNDS = 7
TARGET = 2.0


def synthetic_plan(count: int) -> dict[str, Any]:
    """A plan in `show -json` shape mixing the types the guard counts, plus network pieces."""
    kinds = [
        (
            "oci_core_instance",
            lambda n: {
                "shape": "VM.Standard.A1.Flex",
                "display_name": f"n{n}",
                "shape_config": [{"ocpus": 1, "memory_in_gbs": 6}],
                "source_details": [{"source_type": "image", "boot_volume_size_in_gbs": "50"}],
                "metadata": {"user_data": "x" * 200},
                "freeform_tags": {"app": "bench"},
            },
        ),
        ("oci_core_volume", lambda n: {"size_in_gbs": "50", "vpus_per_gb": "10"}),
        (
            "oci_core_security_list",
            lambda n: {
                "ingress_security_rules": [
                    {
                        "protocol": "6",
                        "source": "0.0.0.0/0",
                        "tcp_options": [{"min": 443, "max": 443}],
                    }
                ]
                * 5
            },
        ),
        ("oci_core_subnet", lambda n: {"cidr_block": "10.0.1.0/24"}),
        ("oci_core_public_ip", lambda n: {"lifetime": "EPHEMERAL"}),
    ]
    changes = []
    for n in range(count):
        rtype, after = kinds[n % len(kinds)]
        changes.append(
            {
                "address": f"{rtype}.r{n}",
                "mode": "managed",
                "type": rtype,
                "name": f"r{n}",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": after(n),
                    "after_unknown": {"id": True, "time_created": True},
                },
            }
        )
    return {"format_version": "1.2", "resource_changes": changes}


def best_of(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    ctx = Context(load_profile("always-free-2026-06"), load_prices())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.json"
        path.write_text(json.dumps(synthetic_plan(RESOURCES)))
        size_mb = path.stat().st_size / 1e6

        def load() -> object:
            with path.open() as handle:
                return json.load(handle)

        def guard() -> object:
            return evaluate(read_plan(path, "oci"), ctx)

        baseline = best_of(load)
        measured = best_of(guard)
    ratio = measured / baseline
    print(f"plan: {RESOURCES} resources, {size_mb:.1f} MB")
    print(
        f"json.load: {baseline * 1000:.1f} ms   guard (read + classify + totals): "
        f"{measured * 1000:.1f} ms"
    )
    print(f"ratio guard / json.load: {ratio:.2f} (target <= {TARGET:g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
