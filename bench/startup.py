"""What starting `freetier` costs, against a bare interpreter doing the least the same job
needs. Each pair is timed in this one run, interleaved, so a busy machine slows both sides.

- `freetier --help` against `python -c "import argparse"` (target at most 3x): the parser
  alone, no stage loaded;
- `freetier stack validate` on the shipped stack against `python -c "import pydantic,
  ruamel.yaml"` (target at most 2x): loading and checking stack.yaml, nothing else.

A third line puts the second in context: one pydantic model with one field, defined and
validated, against the same baseline. pydantic imports its schema machinery only when the
first model is defined, so this is the least any pydantic-based `stack validate` costs.

Run with the project's interpreter: `.venv/bin/python bench/startup.py [--rounds N]`.
Exit 1 when a ratio misses its target.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FREETIER = Path(sys.executable).with_name("freetier")
ONE_MODEL = """
import pydantic, ruamel.yaml

class One(pydantic.BaseModel):
    x: int

One(x=1)
"""
PAIRS = (
    ("freetier --help", [str(FREETIER), "--help"], ["-c", "import argparse"], 3.0),
    (
        "freetier stack validate",
        [str(FREETIER), "stack", "validate", str(ROOT / "stack.yaml")],
        ["-c", "import pydantic, ruamel.yaml"],
        2.0,
    ),
    ("one pydantic model (the floor)", [sys.executable, "-c", ONE_MODEL],
     ["-c", "import pydantic, ruamel.yaml"], None),
)  # fmt: skip


def _seconds(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="runs of each command (30)")
    rounds = parser.parse_args().rounds
    missed = 0
    for label, command, baseline_args, target in PAIRS:
        baseline_argv = [sys.executable, *baseline_args]
        _seconds(command), _seconds(baseline_argv)  # warm the page cache and the .pyc files
        measured, baseline = [], []
        for _ in range(rounds):
            measured.append(_seconds(command))
            baseline.append(_seconds(baseline_argv))
        ratio = statistics.median(measured) / statistics.median(baseline)
        if target is None:
            verdict = "no target"
        else:
            verdict = f"target <= {target:g}x: " + ("ok" if ratio <= target else "MISSED")
            missed += ratio > target
        print(
            f"{label}: {statistics.median(measured) * 1000:.0f} ms, baseline "
            f"`python {' '.join(baseline_args)}` {statistics.median(baseline) * 1000:.0f} ms, "
            f"ratio {ratio:.2f} ({verdict})"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
