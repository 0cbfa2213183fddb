"""`freetier doctor`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

from freetier.cli.common import SubParsers, add_format, print_json

if TYPE_CHECKING:
    from freetier.doctor.probe import ToolStatus


# The top-level commands this module adds, with their line in `freetier --help`.
COMMANDS = {
    "doctor": "which external tools each stage needs, and which are here",
}


def register(sub: SubParsers[argparse.ArgumentParser]) -> None:
    from freetier.doctor.tools import STAGES

    doctor = sub.add_parser(
        "doctor",
        help=COMMANDS["doctor"],
        description="Look up every external tool the stages drive: found or missing, version, "
        "and the stages a missing one blocks. Exit 2 when a needed tool is missing.",
    )
    doctor.add_argument(
        "--stage",
        action="append",
        choices=STAGES,
        help="only the tools these stages need (repeatable); default: all",
    )
    add_format(doctor)
    doctor.set_defaults(handler=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    from freetier.doctor.probe import blocked_stages, probe_tools
    from freetier.doctor.tools import STAGES, TOOLS

    wanted = set(args.stage or STAGES)
    statuses = probe_tools(t for t in TOOLS if wanted.intersection(t.stages))
    if args.format == "json":
        print_json(
            {
                "tools": [_status_json(s) for s in statuses],
                "blocked_stages": blocked_stages(statuses),
            }
        )
    else:
        _print_doctor_table(statuses, sys.stdout)
    return 0 if all(s.ok for s in statuses) else 2


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
    from freetier.doctor.probe import blocked_stages

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
