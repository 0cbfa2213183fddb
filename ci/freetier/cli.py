"""`freetier`: a thin argparse layer over the library. Exit codes: 0 ok, 1 findings that block,
2 bad input or a missing tool."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from freetier import __version__
from freetier.cli_flux import register_flux
from freetier.cli_flux_validate import register_validate
from freetier.cli_images import register_images
from freetier.cli_images_publish import register_publish
from freetier.cli_plans import register_plan_commands, write_summary
from freetier.doctor import STAGES, TOOLS, ToolStatus, blocked_stages, probe_tools
from freetier.errors import ConfigError, FreetierError
from freetier.files import write_files
from freetier.guard.profile import profile_names
from freetier.guard.render import render_guard_json, render_guard_markdown, render_guard_text
from freetier.guard.run import parse_plan_spec, run_guard
from freetier.pr import REPORT_JSON, REPORT_MD, run_pr, write_report
from freetier.pr.plans import PullRequest
from freetier.report import render_text, verdict
from freetier.stack import load_stack, stack_schema_text
from freetier.stack.derive import describe_stack, stack_totals
from freetier.tenancy import read_tenancy
from freetier.tofu.vars import LAYERS, TFVARS_FILE, tfvars_text

DEFAULT_STACK = Path("stack.yaml")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.handler(args)
    except FreetierError as exc:
        if args.debug:
            traceback.print_exc()
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"freetier: error: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("freetier: interrupted", file=sys.stderr)
        return 130
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="freetier",
        description="Build, plan, check and run a $0 Kubernetes platform on OCI Always Free.",
        epilog="Exit codes: 0 ok, 1 findings that block, 2 bad input or missing tool.",
    )
    parser.add_argument("--version", action="version", version=f"freetier {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.set_defaults(debug=False)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    stack = sub.add_parser(
        "stack", help="work with stack.yaml", description="Work with stack.yaml."
    )
    stack_sub = stack.add_subparsers(title="commands", metavar="COMMAND")
    validate = stack_sub.add_parser(
        "validate",
        help="check stack.yaml: types, unknown keys, CIDRs, shapes, topology",
        description="Check a stack file and print what it asks OCI for. Writes nothing.",
    )
    validate.add_argument(
        "file", nargs="?", type=Path, default=DEFAULT_STACK, help="default: stack.yaml"
    )
    _add_format(validate)
    validate.set_defaults(handler=cmd_stack_validate)

    schema = sub.add_parser(
        "schema",
        help="print the JSON Schema of stack.yaml",
        description="Print the JSON Schema of stack.yaml (committed as stack.schema.json).",
    )
    schema.set_defaults(handler=cmd_schema)

    doctor = sub.add_parser(
        "doctor",
        help="which external tools each stage needs, and which are here",
        description="Look up every external tool the stages drive: found or missing, version, "
        "and the stages a missing one blocks. Exit 2 when a needed tool is missing.",
    )
    doctor.add_argument(
        "--stage",
        action="append",
        choices=STAGES,
        help="only the tools these stages need (repeatable); default: all",
    )
    _add_format(doctor)
    doctor.set_defaults(handler=cmd_doctor)

    pr = sub.add_parser(
        "pr",
        help="run every check for the stack and write the PR report",
        description="Run every stage check that exists for the stack and write "
        "out/pr-report.md and out/pr-report.json. Without cloud credentials it runs "
        "offline and says what it skipped.",
    )
    pr.add_argument("--stack", type=Path, default=DEFAULT_STACK, help="default: stack.yaml")
    pr.add_argument("--out", type=Path, default=Path("out"), help="report folder (default: out)")
    pr.add_argument("--repo", metavar="OWNER/NAME", help="post the comment to this repository")
    pr.add_argument("--pr", type=int, metavar="N", help="... on this pull request")
    pr.add_argument("--sha", help="the pull request's head commit (check runs attach there)")
    pr.add_argument("--base-sha", help="the base commit (recorded in the plan fingerprints)")
    pr.add_argument(
        "--backend-config",
        type=Path,
        metavar="FILE",
        help="settings of the S3-compatible state backend",
    )
    pr.add_argument("--no-backend", action="store_true", help="plan with local state only")
    pr.add_argument(
        "--online",
        action="store_true",
        help="fail instead of skipping when cloud credentials are missing (the deploy gate)",
    )
    _add_format(pr)
    pr.set_defaults(handler=cmd_pr)

    guard = sub.add_parser(
        "guard",
        help="prove the stack and its plans stay within Always Free ($0)",
        description="Classify every resource the stack, its tofu plans and (with --live) the "
        "tenancy hold: free within a limit, always free, may be billed, or paid. Limits are per "
        "tenancy, so everything is counted together. Exit 0 free, 1 blocking, 2 bad input.",
    )
    guard.add_argument("--stack", type=Path, default=DEFAULT_STACK, help="default: stack.yaml")
    guard.add_argument(
        "--plan",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="a layer's `tofu show -json` output (repeatable); an `oci` plan replaces what the "
        "guard derives from the stack",
    )
    guard.add_argument(
        "--live",
        action="store_true",
        help="also count the tenancy's existing resources (OCI credentials required)",
    )
    guard.add_argument("--profile", help="limit profile (default: the stack's free_tier.profile)")
    guard.add_argument(
        "--format", choices=("text", "json", "markdown"), default="text", help="output format"
    )
    guard.set_defaults(handler=cmd_guard)

    tofu = sub.add_parser("tofu", help="inputs of the tofu layers", description="Tofu layers.")
    tofu_sub = tofu.add_subparsers(title="commands", metavar="COMMAND")
    tvars = tofu_sub.add_parser(
        "vars",
        help="write a layer's stack.auto.tfvars.json from stack.yaml",
        description="Derive a layer's variables from stack.yaml and write "
        "tofu/LAYER/stack.auto.tfvars.json (never edit it by hand). --check only compares.",
    )
    tvars.add_argument("--layer", choices=LAYERS, required=True)
    tvars.add_argument("--stack", type=Path, default=DEFAULT_STACK, help="default: stack.yaml")
    tvars.add_argument(
        "--check", action="store_true", help="exit 1 if the file is missing or out of date"
    )
    tvars.set_defaults(handler=cmd_tofu_vars)

    register_plan_commands(sub)
    register_validate(register_flux(sub))
    register_publish(register_images(sub))
    return parser


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")


def cmd_stack_validate(args: argparse.Namespace) -> int:
    try:
        stack = load_stack(args.file)
    except ConfigError as exc:
        if args.format == "json":
            _print_json({"file": str(args.file), "valid": False, "errors": list(exc.problems)})
        raise
    if args.format == "json":
        totals = asdict(stack_totals(stack))
        _print_json(
            {
                "file": str(args.file),
                "valid": True,
                "name": stack.name,
                "topology": stack.topology,
                "totals": totals,
            }
        )
    else:
        print(f"{args.file}: valid: {stack.name}: {describe_stack(stack)}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(stack_schema_text())
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    wanted = set(args.stage or STAGES)
    statuses = probe_tools(t for t in TOOLS if wanted.intersection(t.stages))
    if args.format == "json":
        _print_json(
            {
                "tools": [_status_json(s) for s in statuses],
                "blocked_stages": blocked_stages(statuses),
            }
        )
    else:
        _print_doctor_table(statuses, sys.stdout)
    return 0 if all(s.ok for s in statuses) else 2


def cmd_pr(args: argparse.Namespace) -> int:
    pull = None
    if args.repo or args.pr or args.sha:
        if not (args.repo and args.pr and args.sha):
            raise ConfigError(["--repo, --pr and --sha go together (the pull request to post to)"])
        pull = PullRequest(args.repo, args.pr, args.sha, args.base_sha or "")
    run = run_pr(
        args.stack,
        env=os.environ,
        home=Path.home(),
        out=args.out,
        pr=pull,
        backend=not args.no_backend,
        backend_config=args.backend_config,
    )
    report = run.report
    skipped = [
        s
        for s in report.steps
        if s.outcome == "skipped" and (s.name == "oci" or s.name.startswith("plan:"))
    ]
    if args.online and skipped:
        names = ", ".join(s.name for s in skipped)
        raise FreetierError(f"--online: step(s) skipped for lack of credentials or tools: {names}")
    write_summary(run.full)
    written = write_report(run, args.out)
    if args.format == "json":
        sys.stdout.write((args.out / REPORT_JSON).read_text(encoding="utf-8"))
    else:
        sys.stdout.write(render_text(report))
        print(f"wrote {', '.join(str(p) for p in written)}")
    if report.failed:
        print(f"freetier: {verdict(report)} (see {args.out / REPORT_MD})", file=sys.stderr)
    return report.exit_code


def cmd_guard(args: argparse.Namespace) -> int:
    if args.profile is not None and args.profile not in profile_names():
        known = ", ".join(profile_names())
        raise ConfigError([f"--profile {args.profile}: unknown free-tier profile (known: {known})"])
    stack = load_stack(args.stack)
    plans = [parse_plan_spec(spec) for spec in args.plan]
    live = read_tenancy(stack, os.environ, Path.home()) if args.live else []
    result = run_guard(stack, plans, live=live, profile_name=args.profile)
    render = {
        "text": render_guard_text,
        "json": render_guard_json,
        "markdown": render_guard_markdown,
    }[args.format]
    sys.stdout.write(render(result))
    return result.exit_code


def cmd_tofu_vars(args: argparse.Namespace) -> int:
    stack = load_stack(args.stack)
    target = args.stack.parent / "tofu" / args.layer / TFVARS_FILE
    text = tfvars_text(stack)
    if args.check:
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current == text:
            print(f"{target}: up to date")
            return 0
        print(
            f"{target}: {'missing' if current is None else 'out of date'}; "
            f"run: freetier tofu vars --layer {args.layer}",
            file=sys.stderr,
        )
        return 1
    if not target.parent.is_dir():
        raise ConfigError([f"{target.parent}: no such layer folder"])
    write_files(target.parent, {TFVARS_FILE: text})
    print(f"wrote {target}")
    return 0


def _status_json(s: ToolStatus) -> dict[str, object]:
    return {
        "tool": s.tool.key,
        "status": s.status,
        "binary": s.binary,
        "path": s.path,
        "version": s.version,
        "detail": s.detail,
        "stages": list(s.tool.stages),
        "purpose": s.tool.purpose,
    }


def _print_doctor_table(statuses: list[ToolStatus], out: TextIO) -> None:
    rows = [("TOOL", "STATUS", "VERSION", "STAGES", "PATH / DETAIL")]
    rows += [
        (s.tool.key, s.status, s.version or "-", ",".join(s.tool.stages), s.path or s.detail)
        for s in statuses
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        out.write(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + f"  {row[4]}\n"
        )
    blocked = blocked_stages(statuses)
    out.write(f"blocked stages: {', '.join(blocked) if blocked else 'none'}\n")


def _print_json(body: object) -> None:
    json.dump(body, sys.stdout, indent=2)
    sys.stdout.write("\n")
