"""What every step shares: the inventory, a session per host, the report so far, and the
helpers that run a reading or a changing command on a host."""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from freetier.errors import FreetierError
from freetier.pve.inventory import Inventory, PveHost
from freetier.pve.report import Record, Status
from freetier.ssh import Output, Session


class Stop(Exception):
    """A step failed (its record says why): the steps after it would build on it."""


@dataclass(frozen=True)
class Waits:
    quorum: float = 120.0  # seconds for quorum after a join
    health: float = 900.0  # seconds for HEALTH_OK
    poll: float = 2.0  # seconds between two readings


@dataclass
class Context:
    inventory: Inventory
    sessions: dict[str, Session]
    dry_run: bool
    say: Callable[[str], None]
    waits: Waits = field(default_factory=Waits)
    tailscale_key: str | None = field(default=None, repr=False)
    records: list[Record] = field(default_factory=list)
    nodes: dict[str, str] = field(default_factory=dict)  # host -> its Proxmox node name
    kvm: dict[str, bool] = field(default_factory=dict)
    packages: dict[str, dict[str, str]] = field(default_factory=dict)

    def node(self, host: PveHost) -> str:
        return self.nodes.get(host.name, host.name)

    def add(self, record: Record, *, keep: bool = True) -> Record:
        if keep:
            self.records.append(record)
        self.say(f"{record.step} {record.host}: {record.status}: {record.summary}")
        return record

    async def read(
        self, host: PveHost, argv: Sequence[str], *, sudo: bool = True, timeout: float = 120.0
    ) -> Output:
        """A command that only reads: it runs in a dry run too."""
        return await self.sessions[host.name].run(argv, sudo=sudo, timeout=timeout)

    async def change(
        self,
        host: PveHost,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        secrets: Sequence[str] = (),
        timeout: float = 900.0,
    ) -> Output | None:
        """A command that changes the host: not run in a dry run (None then); a failure is a
        StepError quoting the command's output."""
        if self.dry_run:
            return None
        out = await self.sessions[host.name].run(
            argv, stdin=stdin, secrets=secrets, timeout=timeout
        )
        if not out.ok:
            raise StepError(f"`{shlex.join(argv)}` exited {out.code}: {out.tail()}")
        return out


class StepError(FreetierError):
    """A command of a step failed; the step's record quotes it."""


def status_of(changed: bool, dry_run: bool) -> Status:
    if not changed:
        return "done"
    return "planned" if dry_run else "changed"


async def each_host(
    ctx: Context,
    step: str,
    hosts: Sequence[PveHost],
    work: Callable[[PveHost], Awaitable[Record]],
) -> None:
    """`work` on every host at once; each failure becomes that host's failed record, and the
    run stops after all of them finished (Stop) if any failed."""
    done: dict[str, Record] = {}

    async def one(host: PveHost) -> None:
        try:
            record = await work(host)
        except FreetierError as exc:
            record = failure(step, host.name, exc)
        done[host.name] = ctx.add(record, keep=False)  # progress as each host finishes

    async with anyio.create_task_group() as group:
        for host in hosts:
            group.start_soon(one, host)
    ctx.records += [done[h.name] for h in hosts]  # the report in the stack's host order
    if any(r.status == "failed" for r in done.values()):
        raise Stop(step)


def failure(step: str, host: str, exc: BaseException) -> Record:
    lines = str(exc).splitlines() or [type(exc).__name__]
    return Record(step, host, "failed", f"step {step} on {host}: {lines[0]}", tuple(lines[1:]))


async def on_host(
    ctx: Context, step: str, host: PveHost, work: Callable[[], Awaitable[Record]]
) -> Record:
    """`work` on one host; a failure is recorded and stops the run."""
    try:
        record = ctx.add(await work())
    except FreetierError as exc:
        ctx.add(failure(step, host.name, exc))
        raise Stop(step) from None
    if record.status == "failed":
        raise Stop(step)
    return record


def last_lines(out: Output | None, count: int = 3) -> tuple[str, ...]:
    """The last lines a command printed: what its record quotes."""
    return () if out is None else tuple(out.stdout.strip().splitlines()[-count:])


async def run_change(
    ctx: Context,
    step: str,
    host: PveHost,
    about: str,
    argv: Sequence[str],
    summary: str,
    **options: Any,
) -> Record:
    """Run one changing command on `host` (not in a dry run) and record it for `about`."""
    out = await ctx.change(host, argv, **options)
    return Record(
        step, about, status_of(True, ctx.dry_run), summary, last_lines(out), (shlex.join(argv),)
    )
