"""The PR comment for a REAL plan of 10,000 resources, against `json.load` of the same file.

terraform plans 10,000 built-in resources (about 20 s, not timed), then we time, in this
process: json.load of plan.json (the baseline) and `freetier comment render`'s work (read +
parse + mask + render within the budget). Prints both, their ratio (target <= 3) and the
comment's length (must stay under the budget). Run: .venv/bin/python bench/comment.py [N]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.plans.bigplan import make_big_plan  # noqa: E402

from freetier.comment import DEFAULT_BUDGET, render_comment  # noqa: E402
from freetier.plans.parse import read_layer_plan  # noqa: E402

ROUNDS = 5
TARGET = 3.0


def median_time(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        print(f"planning {n} resources with terraform (not timed)...", flush=True)
        folder = make_big_plan(Path(tmp), n).parent
        plan_json, plan_txt = folder / "plan.json", folder / "plan.txt"

        def load() -> object:
            with plan_json.open() as handle:
                return json.load(handle)

        def render() -> str:
            return render_comment([read_layer_plan(plan_json, "oci", text_file=plan_txt)])

        baseline = median_time(load)
        measured = median_time(render)
        comment = render()
        size_mb = plan_json.stat().st_size / 1e6
    print(f"plan: {n} resources, plan.json {size_mb:.1f} MB")
    print(
        f"json.load: {baseline * 1000:.0f} ms   comment (read + parse + mask + render): "
        f"{measured * 1000:.0f} ms"
    )
    print(f"ratio comment / json.load: {measured / baseline:.2f} (target <= {TARGET:g})")
    print(f"comment: {len(comment):,} characters (budget {DEFAULT_BUDGET:,})")
    return 0 if len(comment) <= DEFAULT_BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
