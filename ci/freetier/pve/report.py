"""The bootstrap's report: one record per step and host, rendered as text or JSON. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

# done: already right, nothing run; changed: something was run and it is right now;
# planned: --dry-run, it would change; skipped: does not apply; failed: see the output.
Status = Literal["done", "changed", "planned", "skipped", "failed"]
CLUSTER = "cluster"  # the `host` of a record about the cluster as a whole


@dataclass(frozen=True)
class Record:
    step: str
    host: str
    status: Status
    summary: str
    output: tuple[str, ...] = ()  # what the commands printed that matters, masked
    commands: tuple[str, ...] = ()  # what was (or, planned, would be) run


def exit_code(records: Sequence[Record]) -> int:
    return 1 if any(r.status == "failed" for r in records) else 0


def render_text(records: Sequence[Record], *, dry_run: bool) -> str:
    lines = []
    width = max((len(r.step) for r in records), default=4)
    hwidth = max((len(r.host) for r in records), default=4)
    for r in records:
        lines.append(f"{r.step:<{width}}  {r.host:<{hwidth}}  {r.status:<7}  {r.summary}")
        lines += [f"    $ {c}" for c in r.commands if r.status in ("planned", "failed")]
        lines += [f"    | {o}" for o in r.output]
    counts = {
        s: sum(r.status == s for r in records)
        for s in ("done", "changed", "planned", "skipped", "failed")
    }
    tally = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    verb = "would change" if dry_run else "result"
    lines.append(f"proxmox bootstrap ({verb}): {tally or 'nothing to do'}")
    return "\n".join(lines) + "\n"


def report_json(records: Sequence[Record], *, dry_run: bool) -> dict[str, Any]:
    return {
        "dry_run": dry_run,
        "ok": exit_code(records) == 0,
        "steps": [
            {**asdict(r), "output": list(r.output), "commands": list(r.commands)} for r in records
        ],
    }
