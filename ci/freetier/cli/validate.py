"""`freetier validate`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from freetier.cli.common import SubParsers, add_format, add_stack, progress

COMMANDS = {
    "validate": "prove the deployed stack is alive and still free (images, oci, cost, ...)",
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    validate = sub.add_parser(
        "validate",
        help=COMMANDS["validate"],
        description="Run independent checks against what is deployed: images (the image OCIDs "
        "are AVAILABLE and within the size gates), oci (instances RUNNING in their shapes, "
        "the tenancy free: the guard with --live), cost (the Usage API: 0.00 on every closed "
        "day of the month, usage by SKU projected against the allowance, the budget's alert "
        "rules quiet), idle (OCI Monitoring's last 7 days against Oracle's idle-reclaim rule), "
        "talos (nodes Ready, the kubeconfig certificate's days left) and flux (controllers, "
        "Kustomizations, HelmReleases). A check that cannot run (no credentials, no cluster) "
        "is skipped with its reason. Exit 0 all pass, 1 any fails, 2 bad input.",
    )
    add_stack(validate)
    validate.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this check (repeatable; default: all)",
    )
    validate.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="NAME",
        help="a skip of this check is a failure (repeatable)",
    )
    validate.add_argument(
        "--kubeconfig",
        type=Path,
        metavar="FILE",
        help="the cluster's kubeconfig for talos and flux (default: KUBECONFIG; neither: skipped)",
    )
    validate.add_argument(
        "--backend-config",
        type=Path,
        metavar="FILE",
        help="read the kubeconfig from the talos layer's remote state (see tofu/oci/README.md)",
    )
    validate.add_argument(
        "--summary",
        type=Path,
        metavar="FILE",
        help="also write the markdown report to FILE (a job summary), whatever --format is",
    )
    validate.add_argument(
        "--head",
        metavar="SHA",
        help="the branch head commit every Kustomization must have applied (flux)",
    )
    validate.add_argument(
        "--report-issue",
        metavar="OWNER/NAME",
        help="keep one issue 'freetier validate: failing' open in this repository while a "
        "check fails, closed when all pass (token in GITHUB_TOKEN)",
    )
    add_format(validate, ("text", "json", "markdown"))
    validate.set_defaults(handler=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from freetier.validate.render import RENDERERS
    from freetier.validate.run import run_validate

    if args.report_issue:
        from freetier.validate.issue import check_report_issue

        check_report_issue(args.report_issue, os.environ)
    report = run_validate(
        args.stack,
        args.check,
        args.require,
        env=os.environ,
        home=Path.home(),
        now=datetime.now(UTC),
        kubeconfig=args.kubeconfig,
        head=args.head,
        backend_config=args.backend_config,
        say=progress("validate"),
    )
    if args.summary is not None:
        from freetier.files import write_files

        write_files(args.summary.parent, {args.summary.name: RENDERERS["markdown"](report)})
    sys.stdout.write(RENDERERS[args.format](report))
    sys.stdout.flush()  # the report stands even if the issue cannot be written
    if args.report_issue:
        from freetier.validate.issue import report_issue

        print(f"validate: {report_issue(args.report_issue, report, os.environ)}", file=sys.stderr)
    return report.exit_code
