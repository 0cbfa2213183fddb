"""`freetier pr`'s plan and comment steps: plan every layer it can, post the one comment."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from freetier.comment import DEFAULT_BUDGET, StepSection, render_comment
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

if TYPE_CHECKING:
    from freetier.proxmox.run import BootstrapResult


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


PROXMOX = "proxmox"
SSH_KEY_HELP = "--proxmox-ssh-key"


def proxmox_plan_step(
    stack_file: Path,
    *,
    ssh_key: Path | None,
    can_reach_oci: bool,
    backend: bool,
    backend_config: Path | None,
) -> tuple[StepResult, StepSection]:
    """The proxmox layer's plan: `freetier proxmox bootstrap --dry-run` (it reads every host
    and changes nothing). Without the hosts' SSH key (offline, forks), or without OCI
    credentials when the hosts' addresses are the oci layer's outputs, it is skipped."""
    from freetier.proxmox.run import needs_oci_outputs, run_bootstrap
    from freetier.stack import load_stack

    name, title = f"plan:{PROXMOX}", f"plan {PROXMOX}"
    missing = None
    if ssh_key is None:
        missing = (
            f"no SSH key for the Proxmox hosts ({SSH_KEY_HELP}): the bootstrap's dry run needs it"
        )
    elif not can_reach_oci and needs_oci_outputs(load_stack(stack_file)):
        missing = "no OCI credentials: the Proxmox hosts' addresses are the oci layer's outputs"
    if missing is not None:
        return (
            StepResult(name, title, "skipped", missing),
            StepSection(PROXMOX, f"Skipped: {missing}."),
        )
    try:
        result = run_bootstrap(
            stack_file,
            ssh_key=ssh_key,
            host_names=[],
            dry_run=True,
            tailscale_key=None,  # a dry run only reads; the key is for creating containers
            health_wait=0.0,
            quorum_wait=0.0,
            backend=backend,
            backend_config=backend_config,
            say=lambda line: None,
        )
    except UpstreamNotApplied as exc:
        line = f"not planned: {str(exc).splitlines()[0]}; review it in a later pull request"
        return StepResult(name, title, "warning", line), StepSection(PROXMOX, line)
    except FreetierError as exc:
        lines = str(exc).splitlines()
        line = f"the bootstrap's dry run failed: {lines[0] if lines else type(exc).__name__}"
        return StepResult(name, title, "failed", line), StepSection(PROXMOX, line, failed=True)
    return proxmox_result_step(result)


def proxmox_result_step(result: BootstrapResult) -> tuple[StepResult, StepSection]:
    """The dry run's report as the plan step (its tally) and the comment's section (the report
    as `freetier proxmox bootstrap --dry-run` prints it)."""
    tally = result.text.rstrip("\n").splitlines()[-1]
    failed = bool(result.exit_code)
    step = StepResult(
        f"plan:{PROXMOX}",
        f"plan {PROXMOX}",
        "failed" if failed else "ok",
        tally,
        tuple(f"{r.step} {r.host}: {r.summary}" for r in result.records if r.status == "failed"),
    )
    return step, StepSection(PROXMOX, tally, result.text, failed=failed)


def comment_body(
    report: Report,
    layers: Sequence[LayerPlan],
    guard: dict[str, object] | None,
    budget: int = DEFAULT_BUDGET,
    steps: Sequence[StepSection] = (),
) -> str:
    """The plan comment, then a compact table of every check of the run."""
    checks = ["", "### Checks", "", "| check | result |", "|---|---|"]
    checks += [f"| {s.title} | {s.outcome}: {_cell(s.summary)} |" for s in report.steps]
    tail = "\n".join(checks) + "\n"
    return render_comment(layers, guard, budget=budget - len(tail), steps=steps) + tail


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
