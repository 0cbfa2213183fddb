"""`freetier pr`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from freetier.cli.common import SubParsers, add_backend, add_format, add_stack

# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "pr": "run every check for the stack and write the PR report",
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    pr = sub.add_parser(
        "pr",
        help=COMMANDS["pr"],
        description="Run every stage check that exists for the stack and write "
        "out/pr-report.md and out/pr-report.json. Without cloud credentials it runs "
        "offline and says what it skipped.",
    )
    add_stack(pr)
    pr.add_argument("--out", type=Path, default=Path("out"), help="report folder (default: out)")
    pr.add_argument("--repo", metavar="OWNER/NAME", help="post the comment to this repository")
    pr.add_argument("--pr", metavar="N", help="... on this pull request")
    pr.add_argument("--sha", help="the pull request's head commit (check runs attach there)")
    pr.add_argument("--base-sha", help="the base commit (recorded in the plan fingerprints)")
    add_backend(
        pr,
        config_help="settings of the S3-compatible state backend",
        no_backend_help="plan with local state only",
    )
    pr.add_argument(
        "--proxmox-ssh-key",
        type=Path,
        metavar="FILE",
        help="proxmox topology: the hosts' image user key, for the bootstrap's dry run "
        "(the proxmox layer's plan); without it that plan is skipped",
    )
    pr.add_argument(
        "--online",
        action="store_true",
        help="fail instead of skipping when cloud credentials are missing (the deploy gate)",
    )
    add_format(pr)
    pr.set_defaults(handler=cmd_pr)


def cmd_pr(args: argparse.Namespace) -> int:
    from freetier.errors import ConfigError, FreetierError
    from freetier.github.names import pull_problem, repo_problem, require, sha_problem
    from freetier.pr import REPORT_JSON, REPORT_MD, run_pr, write_report
    from freetier.pr.plans import PullRequest
    from freetier.pr.run import offline_steps
    from freetier.report import render_text, verdict
    from freetier.report.summary import write_step_summary

    pull = None
    base = sha_problem(args.base_sha, "--base-sha") if args.base_sha is not None else None
    if args.repo or args.pr or args.sha:
        if not (args.repo and args.pr and args.sha):
            raise ConfigError(["--repo, --pr and --sha go together (the pull request to post to)"])
        require(repo_problem(args.repo), pull_problem(args.pr), sha_problem(args.sha), base)
        pull = PullRequest(args.repo, int(args.pr), args.sha, args.base_sha or "")
    require(base)
    run = run_pr(
        args.stack,
        env=os.environ,
        home=Path.home(),
        out=args.out,
        pr=pull,
        backend=not args.no_backend,
        backend_config=args.backend_config,
        require_tools=args.online or os.environ.get("CI") == "true",
        proxmox_ssh_key=args.proxmox_ssh_key,
    )
    report = run.report
    skipped = offline_steps(report)
    if args.online and skipped:
        names = ", ".join(skipped)
        raise FreetierError(f"--online: step(s) skipped for lack of credentials or tools: {names}")
    write_step_summary(run.full, os.environ)
    written = write_report(run, args.out)
    if args.format == "json":
        sys.stdout.write((args.out / REPORT_JSON).read_text(encoding="utf-8"))
    else:
        sys.stdout.write(render_text(report))
        print(f"wrote {', '.join(str(p) for p in written)}")
    if report.failed:
        print(f"freetier: {verdict(report)} (see {args.out / REPORT_MD})", file=sys.stderr)
    return report.exit_code
