"""The job summary GitHub Actions shows under a run."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write_step_summary(markdown: str, env: Mapping[str, str]) -> None:
    """Append `markdown` to $GITHUB_STEP_SUMMARY (1 MiB) when Actions provides one."""
    target = env.get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(markdown)
