"""The plans and the guard report a command names: read, checked, masked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from freetier.errors import ConfigError
from freetier.files import read_json
from freetier.guard.run import parse_plan_spec
from freetier.layers import LAYERS
from freetier.plans.model import LayerPlan, Secrets
from freetier.plans.parse import failed_plan, read_layer_plan
from freetier.tofu.layer import ERRORS, FINGERPRINT, PLAN_JSON, PLAN_TEXT, read_fingerprint


def load_plans(specs: Sequence[str], secrets: Secrets) -> list[LayerPlan]:
    """`NAME=FILE|DIR` -> masked LayerPlans; a folder with errors.json is a failed plan."""
    layers = []
    for spec in specs:
        name, path = parse_plan_spec(spec)
        if name not in LAYERS:
            raise ConfigError([f"--plan {spec}: no layer {name!r} (layers: {', '.join(LAYERS)})"])
        folder, plan_json = (path, path / PLAN_JSON) if path.is_dir() else (path.parent, path)
        if (folder / ERRORS).is_file():
            errors = read_json(folder / ERRORS)
            if not isinstance(errors, list) or not all(isinstance(e, str) for e in errors):
                raise ConfigError([f"{folder / ERRORS}: not a list of error lines"])
            layers.append(failed_plan(name, errors, secrets))
            continue
        text = folder / PLAN_TEXT
        plan = read_layer_plan(plan_json, name, secrets, text if text.is_file() else None)
        if (folder / FINGERPRINT).is_file():
            plan = replace(plan, fingerprint=read_fingerprint(folder))
        layers.append(plan)
    names = [p.layer for p in layers]
    if len(set(names)) != len(names):
        raise ConfigError([f"--plan: a layer is named twice: {', '.join(sorted(names))}"])
    return layers


def load_guard(path: Path | None) -> dict[str, Any] | None:
    """`freetier guard --format json` output, or None when no file is named."""
    if path is None:
        return None
    body = read_json(path)
    try:
        GuardReport.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(
            [f"{path}: not the output of `freetier guard --format json` ({where}: {first['msg']})"]
        ) from None
    checked: dict[str, Any] = body  # the model accepts only an object
    return checked


class _Shape(BaseModel):
    model_config = ConfigDict(strict=True)


class _Profile(_Shape):
    name: str
    source: str
    read: str


class _Limit(_Shape):
    name: str
    used: float
    limit: float
    unit: str
    over: bool


class _Resource(_Shape):
    address: str
    category: str
    origin: str
    reason: str
    monthly_cost: float | None


class GuardReport(_Shape):
    """The fields of `guard.render.guard_json` that the comment and the labels read."""

    profile: _Profile
    free: bool
    verdict: str
    limits: list[_Limit]
    resources: list[_Resource]
    blocking: list[str]
    warnings: list[str]
