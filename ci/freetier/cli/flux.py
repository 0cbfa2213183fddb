"""`freetier flux render|validate`: the Flux tree rendered from stack.yaml, and any Flux
repository checked offline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from freetier.cli.common import SubParsers, add_format, add_stack
from freetier.cli.secrets import sops_binary

if TYPE_CHECKING:
    from freetier.flux.render import RenderPlan
    from freetier.stack import Stack


# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "flux": "the Flux tree (clusters/, infrastructure/, apps/)",
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    from freetier.flux.validate.render import FORMATS

    flux = sub.add_parser("flux", help=COMMANDS["flux"], description="Flux.")
    flux_sub = flux.add_subparsers(title="commands", metavar="COMMAND")
    render = flux_sub.add_parser(
        "render",
        help="write clusters/, infrastructure/ and apps/ from stack.yaml",
        description="Render the Flux tree from stack.yaml next to it. Files edited by hand since "
        "the last render are kept and reported as conflicts (exit 1) unless --force; "
        "apps/<cluster>/values/ and *.sops.yaml secrets are yours and never rewritten. "
        "--check writes nothing and exits 1 with a diff when the tree is out of date.",
    )
    add_stack(render)
    mode = render.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare only; exit 1 on any drift")
    mode.add_argument("--force", action="store_true", help="overwrite files edited by hand")
    render.set_defaults(handler=cmd_flux_render)

    validate = flux_sub.add_parser(
        "validate",
        help="check a Flux repository offline: builds, schemas, dependsOn, sources, SOPS",
        description="Find each cluster's root sync (a flux-system Kustomization, a "
        "FluxInstance's spec.sync, or --path), build every Flux Kustomization it reaches with "
        "`kubectl kustomize` in the context its parents give it, check core kinds against the "
        "Kubernetes schemas and Flux kinds against the GA Flux APIs, then each cluster's "
        "graph: dependsOn cycles and unknown names, sourceRef, missing paths and namespaces, "
        "postBuild.substituteFrom, SOPS content without decryption, plaintext Secrets, SOPS "
        "recipients against .sops.yaml. Nothing is decrypted. Findings are errors (will fail "
        "in the cluster), warnings (probably wrong, e.g. a Secret nothing here makes; list "
        "objects made outside Git in .freetier-flux.yaml) or info. Exit 0 no errors, 1 "
        "errors (or warnings with --strict), 2 bad input or missing tool.",
    )
    validate.add_argument(
        "path", nargs="?", type=Path, default=Path(), help="repository folder (default: .)"
    )
    add_format(
        validate,
        FORMATS,
        help="text (file:line: severity: object: rule: message), json, or sarif (GitHub code "
        "scanning)",
    )
    validate.add_argument(
        "--path",
        dest="entry_points",
        action="append",
        default=[],
        metavar="PATH",
        help="a root sync path (relative to the repository) when it cannot be found; "
        "repeatable, one per cluster",
    )
    validate.add_argument(
        "--strict", action="store_true", help="warnings fail the run too (exit 1)"
    )
    validate.add_argument(
        "--strict-substitution",
        action="store_true",
        help="postBuild variables without a value fail, as kustomize-controller's "
        "StrictPostBuildSubstitutions feature gate",
    )
    validate.add_argument(
        "--kubernetes-version",
        metavar="X.Y",
        help="schemas of this Kubernetes minor (default: stack.yaml's versions.kubernetes, "
        "else the newest bundled)",
    )
    validate.set_defaults(handler=cmd_flux_validate)


def cmd_flux_render(args: argparse.Namespace) -> int:
    from freetier.flux.render import (
        apply_render,
        plan_render,
        render_tree,
        secret_specs,
        seed_files,
    )
    from freetier.flux.render_write import sops_sealer
    from freetier.stack import load_stack

    stack = load_stack(args.stack)
    root = args.stack.parent
    generated = render_tree(stack)
    plan = plan_render(root, generated, seed_files(stack), secret_specs(stack), force=args.force)
    if args.check:
        return _report_check(root, stack, plan, generated)
    apply_render(root, plan, sops_sealer(root, sops_binary) if plan.secrets else None)
    return _report_render(plan)


def _report_render(plan: RenderPlan) -> int:
    for path in plan.writes:
        print(f"wrote {path}")
    for path in plan.removes:
        print(f"removed {path} (no longer generated)")
    for path in plan.seeds:
        print(f"created {path} (yours from now on)")
    for spec in plan.secrets:
        print(
            f"created {spec.path}: placeholder; fill it with `freetier secrets set {spec.name} "
            f"KEY --from-env VAR` (or --from-stdin) for KEY in: {' '.join(spec.key_names())}"
        )
    for conflict in plan.conflicts:
        sys.stdout.write(conflict.diff)
        print(f"freetier: conflict: {conflict.path}: {conflict.reason}", file=sys.stderr)
    if plan.conflicts:
        print(
            "freetier: kept the files above; move the change to stack.yaml or "
            "apps/<cluster>/values/, or render with --force",
            file=sys.stderr,
        )
        return 1
    if not plan.changes:
        print("flux tree up to date")
    return 0


def _report_check(root: Path, stack: Stack, plan: RenderPlan, generated: dict[str, str]) -> int:
    from freetier.flux.render import tree_problems

    problems = tree_problems(root, stack, plan, generated)
    if not problems:
        print("flux tree up to date")
        return 0
    for diff in plan.diffs():
        sys.stdout.write(diff)
    for line in problems:
        print(f"freetier: {line}", file=sys.stderr)
    print("freetier: run: freetier flux render", file=sys.stderr)
    return 1


def cmd_flux_validate(args: argparse.Namespace) -> int:
    from freetier.flux.consistency import consistency_check
    from freetier.flux.render import talos_bootstrap
    from freetier.flux.validate.render import RENDERERS
    from freetier.flux.validate.run import validate_repo
    from freetier.stack import load_stack

    # In a freetier repository the cross-layer checks (Talos <-> Cilium HelmRelease) run too.
    stack_file = args.path / "stack.yaml"
    # The Cilium that Talos bootstraps is read from tofu/talos's tfvars when they exist.
    extra = (
        [consistency_check(load_stack(stack_file), talos_bootstrap(args.path))]
        if stack_file.is_file()
        else []
    )
    result = validate_repo(
        args.path,
        kubernetes_version=args.kubernetes_version,
        extra_checks=extra,
        entry_points=args.entry_points,
        strict=args.strict,
        strict_substitution=args.strict_substitution,
    )
    sys.stdout.write(RENDERERS[args.format](result))
    return result.exit_code
