"""`freetier pr`: run every check that exists for the stack and build one report."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from freetier.doctor import probe_tools
from freetier.pr import steps
from freetier.report import Report, render_json, render_markdown, write_files
from freetier.stack import load_stack

REPORT_MD = "pr-report.md"
REPORT_JSON = "pr-report.json"


def run_pr(
    stack_file: Path,
    *,
    env: Mapping[str, str],
    home: Path,
    path: str | None = None,
) -> Report:
    """Bad input raises ConfigError before any check runs; findings land in the report."""
    stack = load_stack(stack_file)
    results = (
        steps.check_stack_step(stack, stack_file),
        steps.check_schema_step(stack_file.parent / "stack.schema.json"),
        steps.check_tools_step(probe_tools(path=path)),
        steps.check_oci_step(stack, env, home),
        steps.check_guard_step(stack, env, home),
    )
    return Report(
        title="freetier plan report", subject=f"{stack.name} ({stack_file.name})", steps=results
    )


def write_report(report: Report, out_dir: Path) -> list[Path]:
    return write_files(
        out_dir, {REPORT_MD: render_markdown(report), REPORT_JSON: render_json(report)}
    )
