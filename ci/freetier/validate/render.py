"""A validate Report as text, JSON or markdown (the job summary and the failing issue). Pure."""

from __future__ import annotations

import json

from freetier.validate.model import Report

MARK = {"pass": "✅", "fail": "❌", "skip": "⏭️", "info": "💬"}


def render_text(report: Report) -> str:
    lines = []
    for r in report.results:
        lines.append(f"{r.status:<5} {r.name:<7} {r.summary}")
        lines += [f"              {d}" for d in r.details]
    lines.append(_verdict(report))
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    body = {
        "exit_code": report.exit_code,
        "failed": list(report.failed),
        "checks": [
            {"name": r.name, "status": r.status, "summary": r.summary, "details": list(r.details)}
            for r in report.results
        ],
    }
    return json.dumps(body, indent=2) + "\n"


def render_markdown(report: Report) -> str:
    lines = ["## freetier validate", "", "| check | status | summary |", "|---|---|---|"]
    for r in report.results:
        lines.append(f"| {r.name} | {MARK[r.status]} {r.status} | {_cell(r.summary)} |")
    for r in report.results:
        if r.details:
            lines += ["", f"<details><summary>{r.name}</summary>", ""]
            lines += [f"- {_cell(d)}" for d in r.details]
            lines += ["", "</details>"]
    lines += ["", _verdict(report)]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _verdict(report: Report) -> str:
    if report.failed:
        return f"failing: {', '.join(report.failed)}"
    return "all checks that ran passed"


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
