from __future__ import annotations

import json

from freetier.report import MARKER, Report, StepResult, render_json, render_markdown, render_text

REPORT = Report(
    title="freetier plan report",
    subject="demo (stack.yaml)",
    steps=(
        StepResult("stack", "stack.yaml", "ok", "topology direct"),
        StepResult("oci", "OCI credentials", "skipped", "no credentials"),
        StepResult("schema", "stack.schema.json", "failed", "a | b <b>", ("fix: regenerate",)),
    ),
)


def test_markdown_has_marker_verdict_table_and_details() -> None:
    md = render_markdown(REPORT)
    assert md.splitlines()[0] == MARKER
    assert "**blocked: 1 check(s) failed**" in md
    assert "| ❌ | stack.schema.json | a \\| b &lt;b&gt; |" in md
    assert "<details><summary>stack.schema.json</summary>" in md
    assert "- fix: regenerate" in md


def test_json_carries_the_exit_code() -> None:
    body = json.loads(render_json(REPORT))
    assert body["exit_code"] == 1
    assert [s["outcome"] for s in body["steps"]] == ["ok", "skipped", "failed"]


def test_text_summary_one_line_per_step() -> None:
    lines = render_text(REPORT).splitlines()
    assert lines[0].split() == ["ok", "stack", "topology", "direct"]
    assert lines[-1] == "demo (stack.yaml): blocked: 1 check(s) failed"
    assert REPORT.count("skipped") == 1
