"""Plans + guard -> what goes to the pull request: the comment, a check run per layer, labels.
Pure: `freetier.github.publish` does the sending.

Each layer's check run carries, in its `output.text`, the same fingerprint marker as the
comment: deploy (review/trust.py) reads the two back and applies a layer only when they agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from freetier.comment import (
    DEFAULT_BUDGET,
    MARKER,
    fingerprint_marker,
    layer_verdict,
    render_comment,
)
from freetier.github.publish import CheckRun, Publication
from freetier.plans.model import LayerPlan

LABEL_DESTROY = "plan:destroy"
LABEL_NO_CHANGES = "plan:no-changes"
LABEL_OVER = "cost:over-free-tier"
MANAGED_LABELS = frozenset({LABEL_DESTROY, LABEL_NO_CHANGES, LABEL_OVER})


def labels_for(layers: Sequence[LayerPlan], guard: dict[str, Any] | None) -> frozenset[str]:
    labels = set()
    if any(p.destroys for p in layers):
        labels.add(LABEL_DESTROY)
    if layers and all(p.no_changes for p in layers):
        labels.add(LABEL_NO_CHANGES)
    if guard is not None and not guard["free"]:
        labels.add(LABEL_OVER)
    return frozenset(labels)


def check_name(layer: str) -> str:
    """The name of a layer's check run."""
    return f"freetier plan: {layer}"


def check_run_for(plan: LayerPlan, guard: dict[str, Any] | None) -> CheckRun:
    """success, neutral for no changes, failure for a failed plan or a blocking guard; the
    layer's fingerprint marker as the output's text."""
    verdict = layer_verdict(plan, guard)
    conclusion: Literal["success", "neutral", "failure"]
    if verdict.startswith("❌") or (guard is not None and not guard["free"]):
        conclusion = "failure"
    elif plan.no_changes:
        conclusion = "neutral"
    else:
        conclusion = "success"
    counts = ", ".join(f"{n} {k}" for k, n in plan.counts.items() if n) or "no changes"
    summary = "\n".join(plan.errors) if plan.failed else counts
    if guard is not None:
        summary += f"\n\nFree-tier guard: {guard['verdict']}"
    title = f"{plan.layer}: {verdict}"
    text = fingerprint_marker([plan])
    return CheckRun(check_name(plan.layer), conclusion, title, summary, text)


def build_publication(
    layers: Sequence[LayerPlan],
    guard: dict[str, Any] | None,
    head_sha: str,
    *,
    budget: int = DEFAULT_BUDGET,
    body: str | None = None,
) -> Publication:
    """`body` replaces the rendered comment (freetier pr appends its checks table)."""
    body = render_comment(layers, guard, budget=budget) if body is None else body
    labels = labels_for(layers, guard)
    return Publication(
        body=body,
        marker=MARKER,
        head_sha=head_sha,
        checks=tuple(check_run_for(p, guard) for p in layers),
        labels_add=labels,
        labels_remove=MANAGED_LABELS - labels,
    )
