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
from freetier.doctor import STAGES, TOOLS, ToolStatus, blocked_stages, probe_tools
from freetier.errors import ConfigError, FreetierError
from freetier.pr import REPORT_JSON, REPORT_MD, run_pr, write_report
from freetier.report import render_text, verdict
from freetier.stack import load_stack, stack_schema_text
from freetier.stack.derive import describe_stack, stack_totals

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
    pr.add_argument(
        "--online",
        action="store_true",
        help="fail instead of skipping when cloud credentials are missing (the deploy gate)",
    )
    _add_format(pr)
    pr.set_defaults(handler=cmd_pr)
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
    report = run_pr(args.stack, env=os.environ, home=Path.home())
    skipped = [s for s in report.steps if s.outcome == "skipped"]
    if args.online and skipped:
        names = ", ".join(s.name for s in skipped)
        raise FreetierError(f"--online: step(s) skipped for lack of credentials or tools: {names}")
    written = write_report(report, args.out)
    if args.format == "json":
        sys.stdout.write((args.out / REPORT_JSON).read_text(encoding="utf-8"))
    else:
        sys.stdout.write(render_text(report))
        print(f"wrote {', '.join(str(p) for p in written)}")
    if report.failed:
        print(f"freetier: {verdict(report)} (see {args.out / REPORT_MD})", file=sys.stderr)
    return report.exit_code


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
