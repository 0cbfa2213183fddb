"""The checks `freetier pr` runs. Each takes what it needs and returns a StepResult; none raises
for a finding, so one failing check never hides the others."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from freetier.doctor.probe import ToolStatus, blocked_stages
from freetier.errors import ConfigError, FreetierError
from freetier.flux.consistency import consistency_check
from freetier.flux.render import talos_bootstrap, tree_problems
from freetier.flux.validate.render import summary
from freetier.flux.validate.run import validate_repo
from freetier.guard.evaluate import GuardResult
from freetier.guard.render import render_guard_markdown, verdict_line, verdict_with_figures
from freetier.guard.run import CURRENT_PROFILE, current_verdict, run_guard
from freetier.report import Outcome, StepResult
from freetier.stack import Stack, stack_schema_text
from freetier.stack.derive import describe_stack

# Stages `freetier pr` reaches today; a missing tool for another stage does not concern it.
PR_STAGES = frozenset({"pr", "oci", "talos", "flux", "secrets"})


def check_stack_step(stack: Stack, stack_file: Path) -> StepResult:
    return StepResult("stack", "stack.yaml", "ok", f"{stack_file}: {describe_stack(stack)}")


def check_schema_step(schema_file: Path) -> StepResult:
    title = "stack.schema.json"
    if not schema_file.is_file():
        return StepResult(
            "schema",
            title,
            "skipped",
            f"no {schema_file.name} beside the stack; editors lack completion",
        )
    if schema_file.read_text(encoding="utf-8") != stack_schema_text():
        return StepResult(
            "schema",
            title,
            "failed",
            f"{schema_file} is out of date with the stack model",
            ("regenerate it: freetier schema > stack.schema.json",),
        )
    return StepResult("schema", title, "ok", f"{schema_file} matches the stack model")


def check_tools_step(statuses: list[ToolStatus]) -> StepResult:
    relevant = [s for s in statuses if PR_STAGES.intersection(s.tool.stages)]
    missing = [s for s in relevant if not s.ok]
    details = tuple(
        f"{s.tool.key}: {s.status}"
        + (f" ({s.detail})" if s.detail else "")
        + f"; needed by {', '.join(s.tool.stages)}"
        for s in missing
    )
    if not missing:
        found = ", ".join(f"{s.binary} {s.version}" for s in relevant)
        return StepResult("tools", "tools", "ok", f"found {found}")
    blocked = [stage for stage in blocked_stages(missing) if stage in PR_STAGES]
    return StepResult(
        "tools",
        "tools",
        "warning",
        f"{len(missing)} tool(s) missing; stages that cannot run here: {', '.join(blocked)}",
        details,
    )


def oci_config_file(env: Mapping[str, str], home: Path) -> Path | None:
    """The OCI CLI config the SDK would read, if there is one."""
    from freetier.oci_clients import oci_config_path  # the oci SDK is slow to import

    path = oci_config_path(env, home)
    return path if path.is_file() else None


def check_oci_step(stack: Stack, env: Mapping[str, str], home: Path) -> StepResult:
    """Offline: no credentials means no live read of the tenancy; with them, the config must fit."""
    title = "OCI credentials"
    config_file = oci_config_file(env, home)
    if config_file is None:
        return StepResult(
            "oci",
            title,
            "skipped",
            "no OCI credentials (OCI_CLI_CONFIG_FILE or ~/.oci/config): "
            "ran offline, the tenancy's existing resources were not read",
        )
    from freetier.oci_clients import load_oci_config

    try:
        config = load_oci_config(env, home)
    except ConfigError as exc:
        return StepResult("oci", title, "failed", exc.problems[0])
    problems = []
    if config.get("region") != stack.oci.region:
        problems.append(
            f"config region {config.get('region')} differs from stack oci.region {stack.oci.region}"
        )
    if stack.oci.compartment_ocid.startswith("ocid1.tenancy.") and (
        stack.oci.compartment_ocid != config.get("tenancy")
    ):
        problems.append("stack oci.compartment_ocid names a tenancy other than the config's")
    if problems:
        return StepResult("oci", title, "failed", "; ".join(problems))
    profile = env.get("OCI_CLI_PROFILE") or "DEFAULT"
    return StepResult("oci", title, "ok", f"{config_file} [{profile}] fits the stack")


def check_guard_step(
    stack: Stack, env: Mapping[str, str], home: Path, plans: Sequence[tuple[str, Path]] = ()
) -> tuple[StepResult, GuardResult | None]:
    """The free-tier guard on the layers' plans (or, without plans, on what the stack creates),
    plus the tenancy when credentials exist."""
    title = "free-tier guard"
    note = f"plans of {', '.join(n for n, _ in plans)}" if plans else "the stack only"
    try:
        live = []
        if oci_config_file(env, home) is not None:
            from freetier.tenancy import read_tenancy  # the oci SDK is slow to import

            live = read_tenancy(stack, env, home)
            note += f", with {len(live)} existing resource(s) of the tenancy"
        else:
            note = f"offline: {note}"
        result = run_guard(stack, plans, live=live)
    except FreetierError as exc:
        return StepResult("guard", title, "failed", str(exc).splitlines()[0]), None
    outcome: Outcome = "ok" if result.free else "failed"
    if result.free and result.warnings:
        outcome = "warning"
    current: tuple[str, ...] = ()
    if result.profile.name != CURRENT_PROFILE:  # what it would cost on today's allowance
        current = (verdict_with_figures(current_verdict(stack)),)
    step = StepResult(
        "guard",
        title,
        outcome,
        f"{verdict_line(result)} ({note}; profile {result.profile.name})",
        current + result.blocking + result.warnings,
        markdown=render_guard_markdown(result),
    )
    return step, result


def check_flux_tree_step(stack: Stack, root: Path) -> StepResult:
    """The Flux tree on disk is exactly what stack.yaml renders, and consistent with Talos."""
    problems = tree_problems(root, stack)
    if not problems:
        return StepResult("flux-tree", "Flux tree", "ok", "up to date with stack.yaml")
    return StepResult(
        "flux-tree",
        "Flux tree",
        "failed",
        f"{len(problems)} difference(s) from what stack.yaml renders: run `freetier flux render`",
        tuple(problems),
    )


def check_flux_validate_step(stack: Stack, root: Path, kubectl_ok: bool) -> StepResult:
    title = "Flux validation"
    if not kubectl_ok:
        return StepResult(
            "flux-validate",
            title,
            "skipped",
            "kubectl (kustomize) is not installed",
            missing_tool="kubectl",
        )
    try:
        bootstrap = talos_bootstrap(root)
        result = validate_repo(root, extra_checks=[consistency_check(stack, bootstrap)])
    except FreetierError as exc:
        return StepResult("flux-validate", title, "failed", str(exc).splitlines()[0])
    if not result.exit_code:  # info and warnings (made outside Git?) do not block a merge
        return StepResult("flux-validate", title, "ok", summary(result))
    failing = result.failing
    lines = tuple(
        f"{f.file}:{f.line or 0}: {f.severity}: {f.object_ref}: {f.rule}: {f.message}"
        for f in failing
    )
    return StepResult("flux-validate", title, "failed", f"{len(failing)} error(s)", lines)
