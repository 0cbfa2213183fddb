"""What a run found: steps with an outcome each, and the exit code that follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["ok", "warning", "skipped", "failed"]


@dataclass(frozen=True)
class StepResult:
    """One check. `failed` blocks (exit 1); `warning` and `skipped` only inform."""

    name: str
    title: str
    outcome: Outcome
    summary: str
    details: tuple[str, ...] = ()
    markdown: str = ""  # a section of its own in the PR report (the guard's tables)
    missing_tool: str = ""  # the tool whose absence skipped this step ("" when none did)


@dataclass(frozen=True)
class Report:
    title: str
    subject: str
    steps: tuple[StepResult, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[StepResult, ...]:
        return tuple(s for s in self.steps if s.outcome == "failed")

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def count(self, outcome: Outcome) -> int:
        return sum(s.outcome == outcome for s in self.steps)
