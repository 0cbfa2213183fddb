"""Results of a run and their renderings."""

from freetier.report.model import Outcome, Report, StepResult
from freetier.report.render import MARKER, render_json, render_markdown, render_text, verdict

__all__ = [
    "MARKER",
    "Outcome",
    "Report",
    "StepResult",
    "render_json",
    "render_markdown",
    "render_text",
    "verdict",
]
