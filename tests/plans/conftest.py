"""Real plans, made once per session by terraform on configurations of built-in resources.

Each scenario under fixtures/<name>/ has a v1/ configuration that is applied with local
state and a v2/ one that is then planned (a scenario without v2/ plans v1 again; one
without v1/ plans v2/ on no state). The scenarios are built in parallel threads.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from freetier.tofu.run import (
    COMMON_FLAGS,
    PLAN_FILE,
    Tofu,
    apply,
    init,
    parse_apply,
    plan_argv,
    show_json,
    show_text,
    state_pull,
)
from tests.plans.bigplan import isolated_tofu, without_tf_env

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Scenario:
    fixture: str  # folder under fixtures/
    taint: tuple[str, ...] = ()  # addresses tainted after v1 is applied
    plan_args: tuple[str, ...] = ()
    fails: bool = False  # the plan exits 1; its error diagnostics are kept


SCENARIOS: Mapping[str, Scenario] = {
    "changes": Scenario("changes"),
    # The same change again, applied and planned in another directory (other ids, times).
    "changes_again": Scenario("changes"),
    "replace": Scenario(
        "replace",
        taint=("terraform_data.tainted",),
        plan_args=("-replace=terraform_data.requested",),
    ),
    "refactor": Scenario("refactor"),
    "sensitive": Scenario("sensitive"),
    "nochange": Scenario("nochange"),
    "empty": Scenario("empty"),
    "drift": Scenario("drift", plan_args=("-refresh-only",)),
    "failing": Scenario("failing", fails=True),
}


@dataclass(frozen=True)
class RealPlan:
    name: str
    layer_dir: Path
    json_path: Path
    text_path: Path
    shown: dict[str, Any]
    text: str
    errors: tuple[str, ...]  # error diagnostics of a failing plan, rendered
    lineage: str  # of the state the plan was made against ("" when there is none)
    serial: int
    tofu: Tofu  # the isolated terraform that made it (run it inside `without_tf_env()`)


def _use_config(source: Path, layer: Path) -> None:
    for old in layer.iterdir():
        if old.name.endswith(".tf") or old.name == "modules":
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    shutil.copytree(source, layer, dirs_exist_ok=True)


def build(name: str, scenario: Scenario, root: Path) -> RealPlan:
    source = FIXTURES / scenario.fixture
    layer = root / name / "layer"
    layer.mkdir(parents=True)
    tofu: Tofu = isolated_tofu(root / name)
    if (source / "v1").is_dir():
        _use_config(source / "v1", layer)
        init(layer, tofu=tofu)
        apply(layer, tofu=tofu)
        for address in scenario.taint:
            tofu.run(["taint", "-no-color", address], layer)
    if (source / "v2").is_dir():
        _use_config(source / "v2", layer)
        init(layer, tofu=tofu)
    errors: tuple[str, ...] = ()
    if scenario.fails:
        done = tofu.run(
            ["plan", *COMMON_FLAGS, "-json", f"-out={PLAN_FILE}"], layer, ok_codes=frozenset({1})
        )
        errors = tuple(d.render() for d in parse_apply(done).errors)
    else:
        tofu.run([*plan_argv(), *scenario.plan_args], layer, ok_codes=frozenset({0, 2}))
    shown = show_json(layer, tofu=tofu)
    text = show_text(layer, tofu=tofu)
    lineage, serial = state_pull(layer, tofu=tofu)
    json_path, text_path = layer / "plan.json", layer / "plan.txt"
    json_path.write_text(json.dumps(shown), encoding="utf-8")
    text_path.write_text(text, encoding="utf-8")
    return RealPlan(name, layer, json_path, text_path, shown, text, errors, lineage, serial, tofu)


@pytest.fixture(scope="session")
def real_plans(tmp_path_factory: pytest.TempPathFactory) -> Mapping[str, RealPlan]:
    """scenario name -> RealPlan; treat `.shown` as read-only (deep-copy before editing)."""
    root = tmp_path_factory.mktemp("real-plans")
    with without_tf_env(), ThreadPoolExecutor(max_workers=len(SCENARIOS)) as pool:
        futures = {name: pool.submit(build, name, s, root) for name, s in SCENARIOS.items()}
        return {name: future.result() for name, future in futures.items()}
