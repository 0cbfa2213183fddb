"""The one polling loop freetier waits on a cluster with: things that move through steps, each
step tried again every `interval_s` until it passes or `deadline_s` has passed, a progress line
whenever a thing's step or reason changes (and at least once a minute), and a caller's error
naming what is still waiting at the deadline. `talos wait` (control planes) and `bootstrap`
(the cluster after the talos layer, then Flux) both wait through it.

A step that must fail at once (a Flux object `Stalled`) raises from `try_step`: the loop does
not catch it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from freetier.tofu.apply import format_duration

HEARTBEAT_S = 60.0


@dataclass
class Waiting:
    """One thing waited on: its steps, the one it is at and why that one has not passed."""

    name: str
    steps: tuple[str, ...]
    step: int = 0  # index into steps; len(steps) when done
    reason: str = "not tried yet"
    notes: list[str] = field(default_factory=list)  # lines to say once, drained by poll()
    said: tuple[int, str] = field(default=(-1, ""))

    @property
    def done(self) -> bool:
        return self.step >= len(self.steps)

    def where(self) -> str:
        return f"{self.name} ready" if self.done else f"{self.name} at {self.steps[self.step]}"

    def line(self) -> str:
        """What progress says about it now (without the time)."""
        return self.where() + (f" ({self.reason})" if self.reason and not self.done else "")


W = TypeVar("W", bound=Waiting)


def poll(
    items: Sequence[W],
    try_step: Callable[[W], bool],
    *,
    deadline_s: float,
    give_up: Callable[[Sequence[W], float], Exception],
    interval_s: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] = lambda line: None,
    describe: Callable[[W], str] | None = None,
) -> None:
    """Advance every item until all are done. `try_step(item)` runs the item's current step
    once and says whether it passed (setting `item.reason` when not); `give_up(waiting,
    elapsed)` is raised past the deadline. `describe` words the progress line (default:
    `Waiting.line`)."""
    say = describe or (lambda item: item.line())
    start = clock()
    last_beat = start
    while True:
        for item in items:
            while not item.done and try_step(item):
                item.step += 1
                item.reason = ""
        elapsed = clock() - start
        for item in items:
            for note in item.notes:
                progress(f"{note}; {format_duration(elapsed)}")
            item.notes.clear()
            said = (item.step, item.reason)
            if said != item.said:
                item.said = said
                progress(f"{say(item)}; {format_duration(elapsed)}")
        if all(item.done for item in items):
            return
        if elapsed + interval_s > deadline_s:
            raise give_up([item for item in items if not item.done], elapsed)
        if clock() - last_beat >= HEARTBEAT_S:
            last_beat = clock()
            waiting = ", ".join(item.where() for item in items if not item.done)
            progress(
                f"still waiting: {waiting}; {format_duration(elapsed)} of "
                f"{format_duration(deadline_s)}"
            )
        sleep(interval_s)
