"""Report -> markdown (PR), JSON (machines) and a short text summary (terminal). Pure."""

from __future__ import annotations

import json
from dataclasses import asdict

from freetier.report.model import Outcome, Report

ICONS: dict[Outcome, str] = {"ok": "✅", "warning": "⚠️", "skipped": "⏭️", "failed": "❌"}
# Marks the comment as freetier's so later runs can find it and edit it in place.
MARKER = "<!-- freetier:pr-report -->"


def verdict(report: Report) -> str:
    if report.failed:
        return f"blocked: {len(report.failed)} check(s) failed"
    return "ok"


def render_markdown(report: Report) -> str:
    lines = [
        MARKER,
        f"## {report.title}",
        "",
        f"`{report.subject}`: **{verdict(report)}**",
        "",
        "| | check | result |",
        "|---|---|---|",
    ]
    lines += [f"| {ICONS[s.outcome]} | {s.title} | {_cell(s.summary)} |" for s in report.steps]
    for step in report.steps:
        if step.markdown:
            lines += ["", step.markdown.rstrip()]
        if step.details:
            lines += [
                "",
                f"<details><summary>{step.title}</summary>",
                "",
                *(f"- {_inline(d)}" for d in step.details),
                "",
                "</details>",
            ]
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    body = {
        "title": report.title,
        "subject": report.subject,
        "verdict": verdict(report),
        "exit_code": report.exit_code,
        "steps": [asdict(s) for s in report.steps],
    }
    return json.dumps(body, indent=2) + "\n"


def render_text(report: Report) -> str:
    width = max((len(s.name) for s in report.steps), default=0)
    lines = [f"{s.outcome:<8} {s.name:<{width}}  {s.summary}" for s in report.steps]
    lines.append(f"{report.subject}: {verdict(report)}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|")


def _inline(text: str) -> str:
    # Keep a finding on one line and stop it from opening HTML or a table row.
    return " ".join(text.split()).replace("<", "&lt;").replace(">", "&gt;")
