"""`freetier comment render|post`: the one pull-request comment for every layer's plan."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from freetier.cli.common import SubParsers
from freetier.cli.plans import registered

# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "comment": "the pull-request comment",
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    comment = sub.add_parser(
        "comment",
        help=COMMANDS["comment"],
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
    post.add_argument("--pr", required=True, metavar="N")
    post.add_argument("--sha", required=True, help="the pull request's head commit")
    post.set_defaults(handler=cmd_comment_post)


def _comment_args(parser: argparse.ArgumentParser) -> None:
    from freetier.comment import DEFAULT_BUDGET

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


def cmd_comment_render(args: argparse.Namespace) -> int:
    from freetier.comment import render_comment
    from freetier.review.inputs import load_guard, load_plans

    layers = load_plans(args.plan, registered(args.secret_env))
    sys.stdout.write(render_comment(layers, load_guard(args.guard), budget=args.budget))
    return 0


def cmd_comment_post(args: argparse.Namespace) -> int:
    from freetier.comment import render_full
    from freetier.errors import ConfigError
    from freetier.github.names import pull_problem, repo_problem, require, sha_problem
    from freetier.github.publish import publish
    from freetier.report.summary import write_step_summary
    from freetier.review.inputs import load_guard, load_plans
    from freetier.review.publication import build_publication

    require(repo_problem(args.repo), pull_problem(args.pr), sha_problem(args.sha))
    secrets = registered(args.secret_env)
    layers = load_plans(args.plan, secrets)
    guard = load_guard(args.guard)
    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        raise ConfigError(
            ["GITHUB_TOKEN: not set; the comment needs a token that may write pull requests"]
        )
    write_step_summary(render_full(layers, guard), os.environ)
    done = publish(
        args.repo,
        int(args.pr),
        build_publication(layers, guard, args.sha, budget=args.budget),
        token=token,
    )
    action = "created" if done.created else "updated"
    print(
        f"comment {done.comment_id} {action}; {len(done.check_run_ids)} check run(s); "
        f"labels: {', '.join(done.labels) or 'none'}"
    )
    return 1 if any(p.failed for p in layers) or (guard and not guard["free"]) else 0
