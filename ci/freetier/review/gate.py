"""Apply exactly what was reviewed, or refuse and say why.

A reviewed plan is applied as saved when the state has not moved since (same lineage and
serial). Otherwise the layer is planned again and applied only when the new plan makes the
same changes, compared semantically (normalised changes, not text); else nothing is applied.
Digests are compared only when both were made the same way (`freetier.plans.keyed`): with
the same fingerprint key, or both without one; anything else is refused, saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from freetier.errors import FreetierError
from freetier.layers import UPSTREAM
from freetier.plans.fingerprint import (
    changes_digest,
    diff_changes,
    normalise_changes,
    upstream_digest,
)
from freetier.plans.keyed import Hashing, incomparable
from freetier.plans.mask import NO_SECRETS
from freetier.plans.model import Reviewed, Secrets
from freetier.stack import Stack
from freetier.tofu import run
from freetier.tofu.layer import locked_layer, prepare

REPLAN_FILE = "replan.bin"


class Refused(FreetierError):
    """The layer's plan is not the reviewed one; nothing was applied. Exit code 1."""

    def __init__(self, layer: str, reasons: list[str]) -> None:
        self.layer = layer
        self.reasons = tuple(reasons)
        super().__init__(
            f"{layer}: refused to apply: "
            + "; ".join(reasons[:5])
            + (f"; and {len(reasons) - 5} more" if len(reasons) > 5 else "")
        )


@dataclass(frozen=True)
class Applied:
    layer: str
    how: Literal["saved plan", "identical re-plan"]
    apply: run.ApplyResult


def apply_reviewed(
    folder: Path,
    layer: str,
    reviewed: Reviewed,
    work: Path,
    *,
    tofu: run.Tofu,
    secrets: Secrets = NO_SECRETS,
    upstream: str = "",
) -> Applied:
    """`folder` is the initialised layer; `work` a scratch folder for the re-plan; `upstream`
    the digest of the upstream outputs its variables were derived from now. A saved plan is
    applied only when neither the layer's state nor its upstream outputs moved since."""
    lineage, serial = run.state_pull(folder, tofu=tofu)
    unchanged = (lineage, serial) == (reviewed.lineage, reviewed.serial)
    upstream_moved = reviewed.upstream is not None and reviewed.upstream != upstream
    if (
        unchanged
        and not upstream_moved
        and reviewed.plan_file is not None
        and reviewed.plan_file.is_file()
    ):
        return Applied(
            layer, "saved plan", run.apply(folder, plan_file=reviewed.plan_file, tofu=tofu)
        )
    why_not = incomparable(reviewed.changes, Hashing(secrets.fingerprint_key))
    if why_not is not None:
        raise Refused(layer, [why_not])
    work.mkdir(parents=True, exist_ok=True)
    replan = work.resolve() / REPLAN_FILE
    run.plan(folder, out=replan, tofu=tofu)
    shown = run.show_json(folder, replan, tofu=tofu)
    if changes_digest(shown, secrets) != reviewed.changes:
        moved = [_upstream_moved(layer)] if upstream_moved else []
        raise Refused(layer, moved + _reasons(reviewed, shown, secrets))
    return Applied(layer, "identical re-plan", run.apply(folder, plan_file=replan, tofu=tofu))


def apply_reviewed_layer(
    stack: Stack,
    stack_file: Path,
    layer: str,
    reviewed: Reviewed,
    work: Path,
    *,
    backend: bool,
    backend_config: Path | None,
    tofu: run.Tofu,
    secrets: Secrets = NO_SECRETS,
    command: str = "apply",
    progress: Callable[[str], None] = lambda line: None,
) -> Applied:
    """Write the layer's variables, init, and `apply_reviewed`, holding the state lock from
    before init until the apply has ended."""
    with locked_layer(
        stack_file,
        layer,
        backend=backend,
        backend_config=backend_config,
        command=command,
        progress=progress,
    ):
        prepared = prepare(
            stack, stack_file, layer, backend=backend, backend_config=backend_config, tofu=tofu
        )
        return apply_reviewed(
            prepared.folder,
            layer,
            reviewed,
            work,
            tofu=tofu,
            secrets=secrets,
            upstream=upstream_digest(prepared.upstream, secrets),
        )


def _upstream_moved(layer: str) -> str:
    return (
        f"the outputs of the {UPSTREAM.get(layer, 'upstream')} layer that {layer} is derived "
        "from changed since the review, so it was planned again against them"
    )


def _reasons(reviewed: Reviewed, shown: object, secrets: Secrets) -> list[str]:
    now = normalise_changes(shown, secrets)
    if reviewed.normalised is not None:
        lines = diff_changes(reviewed.normalised, now, secrets)
        if lines:
            return lines
    summary = ", ".join(f"{'/'.join(e['actions'])} {e['address']}" for e in now[:10]) or "none"
    return [f"the plan now makes other changes than the reviewed one (now: {summary})"]
