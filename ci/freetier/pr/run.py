"""`freetier pr`: every check for the stack, every layer's plan, the guard, one comment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from freetier.comment import render_full
from freetier.doctor.probe import probe_tools
from freetier.files import write_files
from freetier.guard.render import guard_json
from freetier.plans.secrets import registered_secrets
from freetier.pr import steps
from freetier.pr.plans import (
    PullRequest,
    comment_body,
    plan_steps,
    post_step,
    proxmox_plan_step,
)
from freetier.report import Report, StepResult, render_json, render_markdown
from freetier.stack import load_stack

REPORT_MD = "pr-report.md"
REPORT_JSON = "pr-report.json"
COMMENT_MD = "comment.md"
COMMENT_FULL_MD = "comment-full.md"
PLANS_DIR = "plans"  # plan.bin / plan.json hold values in clear: never uploaded


@dataclass(frozen=True)
class PrRun:
    report: Report
    comment: str
    full: str


def run_pr(
    stack_file: Path,
    *,
    env: Mapping[str, str],
    home: Path,
    out: Path = Path("out"),
    path: str | None = None,
    pr: PullRequest | None = None,
    backend: bool = True,
    backend_config: Path | None = None,
    require_tools: bool = False,
    proxmox_ssh_key: Path | None = None,
) -> PrRun:
    """Bad input raises ConfigError before any check runs; findings land in the report. With
    `require_tools` (CI), a check that cannot run for a missing tool fails instead of being
    skipped: a CI machine that lacks one must not pass for it."""
    stack = load_stack(stack_file)
    secrets = registered_secrets(env)
    oci_step = steps.check_oci_step(stack, env, home)
    tools = probe_tools(path=path)
    kubectl_ok = any(t.tool.key == "kubectl" and t.ok for t in tools)
    results = [
        steps.check_stack_step(stack, stack_file),
        steps.check_schema_step(stack_file.parent / "stack.schema.json"),
        steps.check_tools_step(tools),
        steps.check_flux_tree_step(stack, stack_file.parent),
        steps.check_flux_validate_step(stack, stack_file.parent, kubectl_ok),
        oci_step,
    ]
    commits = (pr.base_sha, pr.head_sha) if pr else ("", "")
    plan_results, layers, plan_files = plan_steps(
        stack,
        stack_file,
        out / PLANS_DIR,
        can_reach_oci=oci_step.outcome == "ok",
        secrets=secrets,
        backend=backend,
        backend_config=backend_config,
        commits=commits,
        path=path,
    )
    sections = []
    if stack.topology == "proxmox":  # its layer between oci and talos, planned by a dry run
        proxmox_step, section = proxmox_plan_step(
            stack_file,
            ssh_key=proxmox_ssh_key,
            can_reach_oci=oci_step.outcome == "ok",
            backend=backend,
            backend_config=backend_config,
        )
        sections.append(section)
        after = [i for i, s in enumerate(plan_results) if s.name == "plan:oci"]
        plan_results.insert(after[0] + 1 if after else 0, proxmox_step)
    guard_step, guard = steps.check_guard_step(stack, env, home, plan_files)
    results += [*plan_results, guard_step]
    if require_tools:
        results = [_required(s) for s in results]
    guard_body = guard_json(guard) if guard is not None else None
    report = _report(stack.name, stack_file, results)
    body = comment_body(report, layers, guard_body, steps=sections)
    results.append(post_step(body, layers, guard_body, pr, env))
    report = _report(stack.name, stack_file, results)
    return PrRun(report, body, render_full(layers, guard_body, sections))


def _required(step: StepResult) -> StepResult:
    if not step.missing_tool:
        return step
    why = f"{step.summary}; this run requires it (install it: ./dev setup, freetier doctor)"
    return replace(step, outcome="failed", summary=why)


def _report(name: str, stack_file: Path, results: list[StepResult]) -> Report:
    return Report(
        title="freetier plan report", subject=f"{name} ({stack_file.name})", steps=tuple(results)
    )


def write_report(run: PrRun, out_dir: Path) -> list[Path]:
    return write_files(
        out_dir,
        {
            REPORT_MD: render_markdown(run.report),
            REPORT_JSON: render_json(run.report),
            COMMENT_MD: run.comment,
            COMMENT_FULL_MD: run.full,
        },
    )


def offline_steps(report: Report) -> list[str]:
    """The steps skipped for lack of credentials or tools: what `--online` refuses."""
    return [
        s.name
        for s in report.steps
        if s.outcome == "skipped" and (s.name == "oci" or s.name.startswith("plan:"))
    ]
