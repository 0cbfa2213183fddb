"""The CLI of the plan loop: `plan`, `apply`, `comment render|post` and `deploy`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from freetier.comment import DEFAULT_BUDGET, render_comment, render_full
from freetier.errors import ConfigError
from freetier.files import read_text
from freetier.github import publish
from freetier.guard.render import render_guard_text
from freetier.guard.run import parse_plan_spec, run_guard
from freetier.plans.model import LayerPlan, Secrets
from freetier.plans.parse import failed_plan, read_layer_plan
from freetier.plans.secrets import registered_secrets
from freetier.review.deploy import deploy
from freetier.review.gate import apply_reviewed
from freetier.review.publication import build_publication
from freetier.stack import load_stack
from freetier.tofu import run
from freetier.tofu.layer import (
    ERRORS,
    FINGERPRINT,
    PLAN_JSON,
    PLAN_TEXT,
    apply_layer,
    plan_layer,
    prepare,
    read_fingerprint,
    reviewed_from_folder,
)
from freetier.tofu.vars import LAYERS

DEFAULT_STACK = Path("stack.yaml")
FULL_COMMENT = "comment-full.md"


def register_plan_commands(sub: Any) -> None:
    plan = sub.add_parser(
        "plan",
        help="plan a tofu layer and guard the plan",
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
        help="apply a tofu layer: a reviewed plan exactly, or with capacity retries",
        description="With --plan DIR (a folder written by `freetier plan`): apply that plan if "
        "the state has not moved since, else plan again and apply only an identical plan; "
        "refuse otherwise. Without --plan: apply directly, retrying A1 'Out of host "
        "capacity' across the stack's availability domains until --deadline.",
    )
    _layer_args(apply)
    apply.add_argument("--plan", type=Path, metavar="DIR", help="the reviewed plan's folder")
    apply.add_argument(
        "--deadline",
        type=_minutes,
        default=60.0,
        metavar="MINUTES",
        help="without --plan: give up after this many minutes of capacity errors (default 60)",
    )
    apply.set_defaults(handler=cmd_apply)

    comment = sub.add_parser(
        "comment",
        help="the pull-request comment",
        description="Render or post the one plan comment.",
    )
    comment_sub = comment.add_subparsers(title="commands", metavar="COMMAND")
    render = comment_sub.add_parser(
        "render",
        help="print the comment for some plans (pure; nothing is sent)",
        description="Render one comment for all layers to stdout. --plan takes a plan.json "
        "(its folder's plan.txt and fingerprint.json are read too) or a folder of `freetier "
        "plan`.",
    )
    _comment_args(render)
    render.set_defaults(handler=cmd_comment_render)
    post = comment_sub.add_parser(
        "post",
        help="post or update the sticky comment, check runs and labels",
        description="Post the comment (edited in place, never a second copy), a check run per "
        "layer and the plan labels, with GITHUB_TOKEN. The full rendering goes to "
        "$GITHUB_STEP_SUMMARY when set.",
    )
    _comment_args(post)
    post.add_argument("--repo", required=True, metavar="OWNER/NAME")
    post.add_argument("--pr", required=True, type=int, metavar="N")
    post.add_argument("--sha", required=True, help="the pull request's head commit")
    post.set_defaults(handler=cmd_comment_post)

    dep = sub.add_parser(
        "deploy",
        help="on main: apply every layer exactly as its merged pull request reviewed it",
        description="Find the merged pull request of --sha, read the plan fingerprints its "
        "comment carries, and for each layer in order plan again and apply only an identical "
        "plan. A refusal stops later layers and is posted to the pull request.",
    )
    dep.add_argument("--repo", required=True, metavar="OWNER/NAME")
    dep.add_argument("--sha", required=True, help="the commit on main being deployed")
    dep.add_argument("--stack", type=Path, default=DEFAULT_STACK, help="default: stack.yaml")
    dep.add_argument("--out", type=Path, default=Path("out/deploy"))
    _backend_args(dep)
    dep.set_defaults(handler=cmd_deploy)


def _layer_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--layer", choices=LAYERS, required=True)
    parser.add_argument("--stack", type=Path, default=DEFAULT_STACK, help="default: stack.yaml")
    _backend_args(parser)


def _backend_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend-config",
        type=Path,
        metavar="FILE",
        help="settings of the S3-compatible state backend (see tofu/oci/README.md)",
    )
    parser.add_argument(
        "--no-backend", action="store_true", help="local state only (tofu init -backend=false)"
    )


def _comment_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plan",
        action="append",
        default=[],
        required=True,
        metavar="NAME=FILE",
        help="a layer's plan (repeatable)",
    )
    parser.add_argument(
        "--guard", type=Path, metavar="FILE", help="`freetier guard --format json` output"
    )
    parser.add_argument(
        "--budget",
        type=int,
        default=DEFAULT_BUDGET,
        help=f"most characters in the comment (default {DEFAULT_BUDGET})",
    )
    parser.add_argument(
        "--secret-env",
        action="append",
        default=[],
        metavar="VAR",
        help="also mask the value of this environment variable (repeatable)",
    )


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of minutes: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 minutes")
    return value


def _secrets(args: argparse.Namespace) -> Secrets:
    return registered_secrets(os.environ, getattr(args, "secret_env", ()))


def cmd_plan(args: argparse.Namespace) -> int:
    stack = load_stack(args.stack)
    planned = plan_layer(
        stack,
        args.stack,
        args.layer,
        args.out,
        backend=not args.no_backend,
        backend_config=args.backend_config,
        secrets=_secrets(args),
        commits=_commits(),
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
    stack = load_stack(args.stack)
    say = lambda line: print(f"{args.layer}: {line}", file=sys.stderr, flush=True)  # noqa: E731
    if args.plan is not None:
        reviewed = reviewed_from_folder(args.plan)
        tofu = run.Tofu.find()
        folder = prepare(
            stack,
            args.stack,
            args.layer,
            backend=not args.no_backend,
            backend_config=args.backend_config,
            tofu=tofu,
        )
        done = apply_reviewed(
            folder, args.layer, reviewed, args.plan, tofu=tofu, secrets=_secrets(args)
        )
        print(f"{args.layer}: applied ({done.how})")
        return 0
    result = apply_layer(
        stack,
        args.stack,
        args.layer,
        deadline_s=args.deadline * 60,
        backend=not args.no_backend,
        backend_config=args.backend_config,
        progress=say,
    )
    print(
        f"{args.layer}: applied after {result.attempts} attempt(s), AD rotation {result.rotation}"
    )
    return 0


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
    if path is None:
        return None
    try:
        body = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{path}:{exc.lineno}: not valid JSON: {exc.msg}"]) from None
    if not isinstance(body, dict) or not {"free", "verdict", "limits", "resources"} <= set(body):
        raise ConfigError([f"{path}: not the output of `freetier guard --format json`"])
    return body


def cmd_comment_render(args: argparse.Namespace) -> int:
    layers = load_plans(args.plan, _secrets(args))
    sys.stdout.write(render_comment(layers, load_guard(args.guard), budget=args.budget))
    return 0


def cmd_comment_post(args: argparse.Namespace) -> int:
    secrets = _secrets(args)
    layers = load_plans(args.plan, secrets)
    guard = load_guard(args.guard)
    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        raise ConfigError(
            ["GITHUB_TOKEN: not set; the comment needs a token that may write pull requests"]
        )
    write_summary(render_full(layers, guard))
    done = publish(
        args.repo,
        args.pr,
        build_publication(layers, guard, args.sha, budget=args.budget),
        token=token,
    )
    action = "created" if done.created else "updated"
    print(
        f"comment {done.comment_id} {action}; {len(done.check_run_ids)} check run(s); "
        f"labels: {', '.join(done.labels) or 'none'}"
    )
    return 1 if any(p.failed for p in layers) or (guard and not guard["free"]) else 0


def cmd_deploy(args: argparse.Namespace) -> int:
    stack = load_stack(args.stack)
    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        raise ConfigError(
            ["GITHUB_TOKEN: not set; deploy reads the reviewed plan from the merged pull request"]
        )
    applied = deploy(
        stack,
        args.stack,
        repo=args.repo,
        sha=args.sha,
        token=token,
        out=args.out,
        secrets=_secrets(args),
        backend=not args.no_backend,
        backend_config=args.backend_config,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(
        f"deployed {len(applied)} layer(s): "
        + (", ".join(f"{a.layer} ({a.how})" for a in applied) or "none")
    )
    return 0


def write_summary(markdown: str) -> None:
    """The full rendering, for $GITHUB_STEP_SUMMARY (1 MiB) when Actions provides one."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(markdown)


def _commits() -> tuple[str, str]:
    """Base and head of the change being planned, when CI says (GitHub's pull_request)."""
    return os.environ.get("FREETIER_BASE_SHA", ""), os.environ.get("FREETIER_HEAD_SHA", "")
