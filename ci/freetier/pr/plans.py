"""`freetier pr`'s plan and comment steps: plan every layer it can, post the one comment."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from freetier.comment import DEFAULT_BUDGET, render_comment
from freetier.errors import FreetierError
from freetier.github.publish import publish
from freetier.layers import present_layers
from freetier.plans.model import LayerPlan, Secrets
from freetier.report import Report, StepResult
from freetier.review.publication import build_publication
from freetier.stack import Stack
from freetier.tofu.layer import PLAN_JSON, plan_layer
from freetier.tofu.run import TOFU_NAMES, Tofu
from freetier.tofu.vars import UpstreamNotApplied


@dataclass(frozen=True)
class PullRequest:
    repo: str
    number: int
    head_sha: str
    base_sha: str = ""


def plan_steps(
    stack: Stack,
    stack_file: Path,
    out: Path,
    *,
    can_reach_oci: bool,
    secrets: Secrets,
    backend: bool,
    backend_config: Path | None,
    commits: tuple[str, str],
    path: str | None,
) -> tuple[list[StepResult], list[LayerPlan], list[tuple[str, Path]]]:
    """A step per layer; plans need OCI credentials (the provider reads the tenancy)."""
    layers = present_layers(stack_file)
    missing, tool = None, ""
    if not can_reach_oci:
        missing = "no OCI credentials: plans need the tenancy"
    elif not any(shutil.which(n, path=path) for n in TOFU_NAMES):
        missing, tool = "neither tofu nor terraform is installed", "tofu"
    if missing is not None:
        skipped = [
            StepResult(f"plan:{n}", f"plan {n}", "skipped", missing, missing_tool=tool)
            for n in layers
        ]
        return skipped, [], []
    tofu = Tofu.find(path)
    results, plans, files = [], [], []
    for layer in layers:
        try:
            planned = plan_layer(
                stack,
                stack_file,
                layer,
                out,
                backend=backend,
                backend_config=backend_config,
                tofu=tofu,
                secrets=secrets,
                commits=commits,
                command="pr",
            )
        except UpstreamNotApplied as exc:  # e.g. the first pull request: nothing applied yet
            line = f"not planned: {str(exc).splitlines()[0]}; review it in a later pull request"
            results.append(StepResult(f"plan:{layer}", f"plan {layer}", "warning", line))
            continue
        except FreetierError as exc:
            results.append(
                StepResult(f"plan:{layer}", f"plan {layer}", "failed", str(exc).splitlines()[0])
            )
            continue
        plans.append(planned.plan)
        if planned.plan.failed:
            results.append(
                StepResult(
                    f"plan:{layer}",
                    f"plan {layer}",
                    "failed",
                    planned.plan.errors[0],
                    planned.plan.errors[1:],
                )
            )
            continue
        counts = ", ".join(f"{n} {k}" for k, n in planned.plan.counts.items() if n)
        results.append(StepResult(f"plan:{layer}", f"plan {layer}", "ok", counts or "no changes"))
        files.append((layer, planned.folder / PLAN_JSON))
    return results, plans, files


def comment_body(
    report: Report,
    layers: Sequence[LayerPlan],
    guard: dict[str, object] | None,
    budget: int = DEFAULT_BUDGET,
) -> str:
    """The plan comment, then a compact table of every check of the run."""
    checks = ["", "### Checks", "", "| check | result |", "|---|---|"]
    checks += [f"| {s.title} | {s.outcome}: {_cell(s.summary)} |" for s in report.steps]
    tail = "\n".join(checks) + "\n"
    return render_comment(layers, guard, budget=budget - len(tail)) + tail


def post_step(
    body: str,
    layers: Sequence[LayerPlan],
    guard: dict[str, object] | None,
    pr: PullRequest | None,
    env: Mapping[str, str],
) -> StepResult:
    title = "pull-request comment"
    token = env.get("GITHUB_TOKEN", "")
    if pr is None or not token:
        why = "not a pull request (--repo/--pr/--sha)" if pr is None else "no GITHUB_TOKEN"
        return StepResult("comment", title, "skipped", f"{why}: the comment is in out/ only")
    publication = build_publication(layers, guard, pr.head_sha, body=body)
    try:
        done = publish(pr.repo, pr.number, publication, token=token)
    except FreetierError as exc:
        return StepResult("comment", title, "failed", str(exc).splitlines()[0])
    action = "created" if done.created else "updated in place"
    return StepResult(
        "comment",
        title,
        "ok",
        f"comment {done.comment_id} {action} on {pr.repo}#{pr.number}; "
        f"{len(done.check_run_ids)} check run(s)",
    )


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")
