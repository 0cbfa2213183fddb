"""How much loading stack.yaml costs over just parsing its YAML.

Prints a ratio against a baseline measured in the same process, since these machines are
noisy: `load_stack` (read, parse, validate, cross-check) / ruamel parse alone.
"""

from __future__ import annotations

import statistics
import sys
import timeit
from pathlib import Path

from ruamel.yaml import YAML

from freetier.stack import load_stack

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "stack.yaml"
ROUNDS = 7
NUMBER = 50


def _parse_only() -> None:
    YAML(typ="rt").load(STACK.read_text(encoding="utf-8"))


def _load() -> None:
    load_stack(STACK)


def main() -> int:
    baseline = statistics.median(timeit.repeat(_parse_only, number=NUMBER, repeat=ROUNDS))
    measured = statistics.median(timeit.repeat(_load, number=NUMBER, repeat=ROUNDS))
    per_load_ms = measured / NUMBER * 1000
    print(f"load_stack: {per_load_ms:.2f} ms per load")
    print(f"ratio load_stack / yaml-parse baseline: {measured / baseline:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
