"""The plans and the guard report a command names: read, checked, masked."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from freetier.errors import ConfigError
from freetier.files import read_text
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
            errors = json.loads(read_text(folder / ERRORS))
            layers.append(failed_plan(name, [str(e) for e in errors], secrets))
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
    try:
        body = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{path}:{exc.lineno}: not valid JSON: {exc.msg}"]) from None
    if not isinstance(body, dict) or not {"free", "verdict", "limits", "resources"} <= set(body):
        raise ConfigError([f"{path}: not the output of `freetier guard --format json`"])
    return body
