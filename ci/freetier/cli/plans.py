"""`freetier plan` and `freetier apply`: a tofu layer planned and guarded, or applied."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from freetier.cli.common import SubParsers, add_backend, add_stack, minutes, progress
from freetier.layers import LAYERS

if TYPE_CHECKING:
    from freetier.plans.model import Secrets
    from freetier.stack import Stack


# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "plan": "plan a tofu layer and guard the plan",
    "apply": "apply a tofu layer: a reviewed plan exactly, or with capacity retries",
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    plan = sub.add_parser(
        "plan",
        help=COMMANDS["plan"],
        description="Write the layer's variables from stack.yaml, init, plan, and save "
        "out/plans/LAYER/ (plan.bin, plan.json, the masked plan.txt, fingerprint.json); then "
        "run the free-tier guard on the plan. Exit 0 free, 1 blocking or a failed plan, 2 bad "
        "input or missing tool.",
    )
    _layer_args(plan)
    plan.add_argument("--out", type=Path, default=Path("out/plans"), help="default: out/plans")
    plan.set_defaults(handler=cmd_plan)

    apply = sub.add_parser(
        "apply",
        help=COMMANDS["apply"],
        description="With --plan DIR (a folder written by `freetier plan`): apply that plan if "
        "the state has not moved since, else plan again and apply only an identical plan; "
        "refuse otherwise. Without --plan: apply directly, retrying A1 'Out of host "
        "capacity' across the stack's availability domains until --deadline.",
    )
    _layer_args(apply)
    apply.add_argument("--plan", type=Path, metavar="DIR", help="the reviewed plan's folder")
    apply.add_argument(
        "--deadline",
        type=minutes,
        default=60.0,
        metavar="MINUTES",
        help="without --plan: give up after this many minutes of capacity errors (default 60)",
    )
    apply.add_argument(
        "--wait",
        type=minutes,
        default=15.0,
        metavar="MINUTES",
        help="talos: then wait this long for the Kubernetes API on every control plane "
        "(default 15; see `freetier talos wait`)",
    )
    apply.set_defaults(handler=cmd_apply)


def _layer_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--layer", choices=LAYERS, required=True)
    add_stack(parser)
    add_backend(parser)


def registered(names: Iterable[str] = ()) -> Secrets:
    """The secrets to mask: the registered environment variables, and `names` too."""
    from freetier.plans.secrets import registered_secrets

    return registered_secrets(os.environ, names)


def cmd_plan(args: argparse.Namespace) -> int:
    from freetier.guard.render import render_guard_text
    from freetier.guard.run import run_guard
    from freetier.stack import load_stack
    from freetier.tofu.layer import PLAN_JSON, plan_layer

    stack = load_stack(args.stack)
    planned = plan_layer(
        stack,
        args.stack,
        args.layer,
        args.out,
        backend=not args.no_backend,
        backend_config=args.backend_config,
        secrets=registered(),
        commits=_commits(),
        progress=progress(args.layer),
    )
    if planned.plan.failed:
        for line in planned.plan.errors:
            print(f"freetier: {args.layer}: {line}", file=sys.stderr)
        return 1
    changes = "changes" if planned.changes else "no changes"
    print(f"{args.layer}: {changes}; plan in {planned.folder}")
    guard = run_guard(stack, [(args.layer, planned.folder / PLAN_JSON)])
    sys.stdout.write(render_guard_text(guard))
    return guard.exit_code


def cmd_apply(args: argparse.Namespace) -> int:
    from freetier.review.gate import apply_reviewed_layer
    from freetier.stack import load_stack
    from freetier.tofu import run
    from freetier.tofu.layer import apply_layer, reviewed_from_folder

    stack = load_stack(args.stack)
    if args.plan is not None:
        done = apply_reviewed_layer(
            stack,
            args.stack,
            args.layer,
            reviewed_from_folder(args.plan),
            args.plan,
            backend=not args.no_backend,
            backend_config=args.backend_config,
            tofu=run.Tofu.find(),
            secrets=registered(),
            progress=progress(args.layer),
        )
        print(f"{args.layer}: applied ({done.how})")
        return _wait(args, stack)
    result = apply_layer(
        stack,
        args.stack,
        args.layer,
        deadline_s=args.deadline * 60,
        backend=not args.no_backend,
        backend_config=args.backend_config,
        progress=progress(args.layer),
    )
    print(
        f"{args.layer}: applied after {result.attempts} attempt(s), AD rotation {result.rotation}"
    )
    return _wait(args, stack)


def _wait(args: argparse.Namespace, stack: Stack) -> int:
    """After the talos layer: wait until the cluster answers (the provider does not)."""
    if args.layer != "talos":
        return 0
    from freetier.cluster.run import wait_for_layer

    ready = wait_for_layer(
        stack,
        args.stack,
        backend=not args.no_backend,
        backend_config=args.backend_config,
        deadline_s=args.wait * 60,
        progress=progress("talos: wait"),
    )
    print(f"talos: Kubernetes answers on {len(ready)} control plane(s)")
    return 0


def _commits() -> tuple[str, str]:
    """Base and head of the change being planned, when CI says (GitHub's pull_request)."""
    return os.environ.get("FREETIER_BASE_SHA", ""), os.environ.get("FREETIER_HEAD_SHA", "")
