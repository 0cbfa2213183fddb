"""One layer end to end: inputs from stack.yaml, init, then plan (+ guard) or apply."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from freetier.errors import ConfigError, ToolError
from freetier.files import read_json, write_files
from freetier.layers import layer_folder
from freetier.plans.fingerprint import make_fingerprint, normalise_changes, upstream_digest
from freetier.plans.mask import NO_SECRETS
from freetier.plans.model import Fingerprint, LayerPlan, Reviewed, Secrets
from freetier.plans.parse import failed_plan, parse_plan
from freetier.stack import Stack
from freetier.tofu import run
from freetier.tofu.apply import Backoff, CapacityApplyResult, apply_with_capacity_retry
from freetier.tofu.inputs import check_secret_inputs, init_layer, layer_dir, layer_inputs
from freetier.tofu.lock import state_lock
from freetier.tofu.vars import TFVARS_FILE

# A layer's plan folder (out/plans/LAYER/), its owner's only. plan.bin and plan.json hold
# values in clear: they never leave the machine; plan.txt is masked.
PLAN_JSON = "plan.json"
PLAN_TEXT = "plan.txt"
FINGERPRINT = "fingerprint.json"
CHANGES = "changes.json"
ERRORS = "errors.json"
CAPACITY_LAYER = "oci"


@dataclass(frozen=True)
class PlannedLayer:
    plan: LayerPlan  # masked: safe for comments and logs
    folder: Path
    changes: bool


def vars_drift(
    stack: Stack,
    stack_file: Path,
    layer: str,
    *,
    backend: bool = False,
    backend_config: Path | None = None,
    tofu: run.Tofu | None = None,
) -> tuple[Path, str | None]:
    """The layer's variables file, and None when it is what stack.yaml (and the upstream
    layer's outputs) derive, else why not ("missing" or "out of date")."""
    target = layer_folder(stack_file, layer) / TFVARS_FILE
    wanted = layer_inputs(
        stack, stack_file, layer, backend=backend, backend_config=backend_config, tofu=tofu
    ).tfvars
    current = target.read_text(encoding="utf-8") if target.is_file() else None
    if current == wanted:
        return target, None
    return target, "missing" if current is None else "out of date"


def write_vars(
    stack: Stack,
    stack_file: Path,
    layer: str,
    *,
    backend: bool = False,
    backend_config: Path | None = None,
    tofu: run.Tofu | None = None,
) -> Path:
    """Write the layer's variables from stack.yaml (and the upstream layer's outputs), into a
    layer folder that exists; nothing is written when they cannot be derived."""
    folder = layer_folder(stack_file, layer)
    if not folder.is_dir():
        raise ConfigError([f"{folder}: no such layer folder"])
    inputs = layer_inputs(
        stack, stack_file, layer, backend=backend, backend_config=backend_config, tofu=tofu
    )
    write_files(folder, {TFVARS_FILE: inputs.tfvars})
    return folder / TFVARS_FILE


@contextmanager
def locked_layer(
    stack_file: Path,
    layer: str,
    *,
    backend: bool,
    backend_config: Path | None,
    command: str,
    progress: Callable[[str], None],
) -> Iterator[Path]:
    """The layer's folder, with its remote state locked for the block (tofu/lock.py); a layer
    that does not exist is bad input before any lock is taken."""
    folder = layer_dir(stack_file, layer)
    with state_lock(
        layer,
        backend=backend,
        backend_config=backend_config,
        command=command,
        cwd=stack_file.parent,
        progress=progress,
    ):
        yield folder


@dataclass(frozen=True)
class Prepared:
    folder: Path  # initialised, its variables written
    upstream: dict[str, Any] | None  # the upstream outputs the variables were derived from


def prepare(
    stack: Stack,
    stack_file: Path,
    layer: str,
    *,
    backend: bool,
    backend_config: Path | None,
    tofu: run.Tofu,
) -> Prepared:
    """Write the layer's variables from stack.yaml and the upstream layer's outputs (never by
    hand), then `init` on the layer's own state."""
    folder = layer_dir(stack_file, layer)
    check_secret_inputs(
        layer, {**os.environ, **{f"TF_VAR_{k}": v for k, v in tofu.secret_vars.items()}}
    )
    inputs = layer_inputs(
        stack, stack_file, layer, backend=backend, backend_config=backend_config, tofu=tofu
    )
    write_files(folder, {TFVARS_FILE: inputs.tfvars})
    init_layer(folder, layer, backend=backend, backend_config=backend_config, tofu=tofu)
    return Prepared(folder, inputs.upstream)


def plan_layer(
    stack: Stack,
    stack_file: Path,
    layer: str,
    out: Path,
    *,
    backend: bool = True,
    backend_config: Path | None = None,
    tofu: run.Tofu | None = None,
    secrets: Secrets = NO_SECRETS,
    commits: tuple[str, str] = ("", ""),
    command: str = "plan",
    progress: Callable[[str], None] = lambda line: None,
) -> PlannedLayer:
    """Plan into out/LAYER/: plan.bin, plan.json, the masked text, the fingerprint and the
    normalised changes the apply gate compares, holding the state lock (tofu/lock.py). A plan
    that fails is a result, not a crash: its errors go into the comment."""
    tofu = tofu or run.Tofu.find()
    target = (out / layer).resolve()
    with locked_layer(
        stack_file,
        layer,
        backend=backend,
        backend_config=backend_config,
        command=command,
        progress=progress,
    ):
        target.mkdir(parents=True, exist_ok=True)
        target.chmod(0o700)
        try:
            prepared = prepare(
                stack, stack_file, layer, backend=backend, backend_config=backend_config, tofu=tofu
            )
            folder = prepared.folder
            result = run.plan(folder, out=target / run.PLAN_FILE, tofu=tofu)
        except ToolError as exc:
            if exc.missing:
                raise
            message = without_runner_paths(str(exc), stack_file, tofu.exe)
            failed = failed_plan(layer, message.splitlines(), secrets)
            write_files(target, {ERRORS: json.dumps(list(failed.errors), indent=1) + "\n"})
            return PlannedLayer(failed, target, False)
        shown = run.show_json(folder, target / run.PLAN_FILE, tofu=tofu)
        text = run.show_text(folder, target / run.PLAN_FILE, tofu=tofu)
        lineage, serial = run.state_pull(folder, tofu=tofu)
    upstream = upstream_digest(prepared.upstream, secrets)
    fingerprint = make_fingerprint(shown, folder, lineage, serial, *commits, secrets, upstream)
    plan = replace(parse_plan(shown, layer, secrets, text), fingerprint=fingerprint)
    write_files(
        target,
        {
            PLAN_JSON: json.dumps(shown) + "\n",
            PLAN_TEXT: plan.text,
            FINGERPRINT: json.dumps(asdict(fingerprint), indent=1) + "\n",
            CHANGES: json.dumps(normalise_changes(shown, secrets)) + "\n",
        },
    )
    (target / ERRORS).unlink(missing_ok=True)
    return PlannedLayer(plan, target, result.changes)


def without_runner_paths(text: str, stack_file: Path, exe: str) -> str:
    """`text` with the repository's paths relative to it and the tofu binary by its name: a
    failed plan's errors go into the pull request, the runner's file system does not.

    >>> without_runner_paths("/ci/bin/tofu init -backend-config=/w/repo/b.hcl: exit code 1",
    ...                      Path("/w/repo/stack.yaml"), "/ci/bin/tofu")
    'tofu init -backend-config=b.hcl: exit code 1'
    """
    text = text.replace(exe, Path(exe).name)
    roots = {str(stack_file.absolute().parent), str(stack_file.resolve().parent)}
    for root in sorted(roots, key=len, reverse=True):
        text = text.replace(f"{root}/", "").replace(root, ".")
    return text


def read_fingerprint(folder: Path) -> Fingerprint:
    path = folder / FINGERPRINT
    body = read_json(path)
    fields = {f.name: f.type for f in dataclasses.fields(Fingerprint)}
    if (
        not isinstance(body, dict)
        or set(body) != set(fields)
        or not all(
            type(body[name]) is (int if kind == "int" else str) for name, kind in fields.items()
        )
    ):
        raise ConfigError([f"{path}: not a fingerprint written by `freetier plan`"])
    return Fingerprint(**body)


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
    """Apply holding the state lock; the oci layer retrying "Out of host capacity" across the
    stack's availability domains."""
    tofu = tofu or run.Tofu.find()
    with locked_layer(
        stack_file,
        layer,
        backend=backend,
        backend_config=backend_config,
        command="apply",
        progress=progress,
    ):
        folder = prepare(
            stack, stack_file, layer, backend=backend, backend_config=backend_config, tofu=tofu
        ).folder
        if layer != CAPACITY_LAYER:  # only the oci layer launches instances
            start = time.monotonic()
            done = run.apply(folder, tofu=tofu)
            return CapacityApplyResult(1, 0, time.monotonic() - start, done)
        return apply_with_capacity_retry(
            folder,
            list(stack.oci.availability_domains),
            deadline_s=deadline_s,
            backoff=backoff,
            tofu=tofu,
            progress=progress,
        )


def reviewed_from_folder(folder: Path) -> Reviewed:
    """A plan folder written by `freetier plan` (fingerprint.json, changes.json, plan.bin)."""
    folder = folder.resolve()  # tofu runs in the layer's folder
    printed = read_fingerprint(folder)
    changes_file = folder / CHANGES
    normalised = read_json(changes_file, 1 << 30) if changes_file.is_file() else None
    if normalised is not None and not (
        isinstance(normalised, list) and all(isinstance(c, dict) for c in normalised)
    ):
        raise ConfigError([f"{changes_file}: not the changes written by `freetier plan`"])
    return Reviewed(
        printed.changes,
        printed.lineage,
        printed.serial,
        folder / run.PLAN_FILE,
        normalised,
        printed.upstream,
    )
