"""One layer end to end: inputs from stack.yaml, init, then plan (+ guard) or apply."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from freetier.errors import ConfigError
from freetier.guard.evaluate import GuardResult
from freetier.guard.run import run_guard
from freetier.report import write_files
from freetier.stack import Stack
from freetier.tofu import run
from freetier.tofu.apply import Backoff, CapacityApplyResult, apply_with_capacity_retry
from freetier.tofu.vars import TFVARS_FILE, tfvars_text

PLAN_JSON = "plan.json"


@dataclass(frozen=True)
class LayerPlan:
    plan: run.PlanResult
    plan_json: Path
    guard: GuardResult


def layer_dir(stack_file: Path, layer: str) -> Path:
    folder = stack_file.parent / "tofu" / layer
    if not (folder / "versions.tf").is_file():
        raise ConfigError([f"{folder}: no such tofu layer (expected versions.tf there)"])
    return folder


def prepare(
    stack: Stack,
    stack_file: Path,
    layer: str,
    *,
    backend: bool,
    backend_config: Path | None,
    tofu: run.Tofu,
) -> Path:
    """Write the layer's variables from stack.yaml (never by hand), then `init`."""
    folder = layer_dir(stack_file, layer)
    write_files(folder, {TFVARS_FILE: tfvars_text(stack)})
    run.init(folder, backend=backend, backend_config=backend_config, tofu=tofu)
    return folder


def plan_layer(
    stack: Stack,
    stack_file: Path,
    layer: str,
    out: Path,
    *,
    backend: bool = True,
    backend_config: Path | None = None,
    tofu: run.Tofu | None = None,
) -> LayerPlan:
    """plan.bin and plan.json in out/LAYER/, and the guard's verdict on that plan."""
    tofu = tofu or run.Tofu.find()
    folder = prepare(
        stack, stack_file, layer, backend=backend, backend_config=backend_config, tofu=tofu
    )
    target = (out / layer).resolve()
    target.mkdir(parents=True, exist_ok=True)
    result = run.plan(folder, out=target / run.PLAN_FILE, tofu=tofu)
    shown = run.show_json(folder, target / run.PLAN_FILE, tofu=tofu)
    write_files(target, {PLAN_JSON: json.dumps(shown, indent=1) + "\n"})
    guard = run_guard(stack, [(layer, target / PLAN_JSON)])
    return LayerPlan(result, target / PLAN_JSON, guard)


def apply_layer(
    stack: Stack,
    stack_file: Path,
    layer: str,
    *,
    deadline_s: float,
    backend: bool = True,
    backend_config: Path | None = None,
    backoff: Backoff | None = None,
    tofu: run.Tofu | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> CapacityApplyResult:
    """Apply, retrying "Out of host capacity" across the stack's availability domains."""
    tofu = tofu or run.Tofu.find()
    folder = prepare(
        stack, stack_file, layer, backend=backend, backend_config=backend_config, tofu=tofu
    )
    return apply_with_capacity_retry(
        folder,
        list(stack.oci.availability_domains),
        deadline_s=deadline_s,
        backoff=backoff,
        tofu=tofu,
        progress=progress,
    )
