"""The bootstrap in order: connect to every host (host keys checked, so a changed key stops
everything before any change), preflight, cluster, QDevice, Ceph, Tailscale containers,
migration test. A failed step stops the run; a rerun reads the state again and continues."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from freetier.errors import ConfigError, FreetierError
from freetier.proxmox import ceph, cluster, guests
from freetier.proxmox.context import Context, Stop, Waits
from freetier.proxmox.preflight import preflight
from freetier.pve.inventory import Inventory, PveHost
from freetier.pve.report import Record
from freetier.ssh import Agent, Endpoint, KnownHosts, Session, connect

KNOWN_HOSTS = "proxmox.known_hosts"  # beside stack.yaml, committed with it


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    waits: Waits = field(default_factory=Waits)
    tailscale_key: str | None = None
    hosts: tuple[PveHost, ...] = ()  # the hosts per-host steps touch (all when empty)


def known_hosts_file(stack_file: Path) -> Path:
    return stack_file.parent / KNOWN_HOSTS


async def bootstrap(
    inventory: Inventory,
    suite: str,
    known: KnownHosts,
    agent: Agent,
    options: Options,
    say: Callable[[str], None],
) -> list[Record]:
    hosts = options.hosts or inventory.hosts
    reach = {h.name: h for h in (inventory.first, *hosts)}
    sessions = await _connect_all(tuple(reach.values()), known, agent, options, say)
    ctx = Context(inventory, sessions, options.dry_run, say, options.waits, options.tailscale_key)
    if options.tailscale_key:
        for session in sessions.values():
            session.secrets = (options.tailscale_key,)
    try:
        await preflight(ctx, tuple(reach.values()), suite)
        await cluster.create(ctx)
        await cluster.join_all(ctx, hosts)
        await cluster.qdevice(ctx)
        await ceph.ceph(ctx, hosts)
        await guests.tailscale(ctx, hosts)
        await guests.migration_test(ctx)
    except Stop:
        pass
    finally:
        with anyio.CancelScope(shield=True):
            for session in sessions.values():
                await session.close()
    return ctx.records


async def _connect_all(
    hosts: tuple[PveHost, ...],
    known: KnownHosts,
    agent: Agent,
    options: Options,
    say: Callable[[str], None],
) -> dict[str, Session]:
    """A session per host, all at once; every refusal (a changed key: ConfigError) or
    unreachable host is reported together, and nothing has run on any host yet."""
    sessions: dict[str, Session] = {}
    errors: dict[str, FreetierError] = {}
    pinned: list[str] = []

    async def one(host: PveHost) -> None:
        endpoint = Endpoint(host.name, host.address, host.port, host.user)
        try:
            session, line = await connect(endpoint, known, agent)
        except FreetierError as exc:
            errors[host.name] = exc
            return
        sessions[host.name] = session
        if line is not None:
            pinned.append(host.name)
            verb = "would pin (dry run)" if options.dry_run else "pinned"
            say(f"connect {host.name}: host key {verb} on first use: {line}")

    async with anyio.create_task_group() as group:
        for host in hosts:
            group.start_soon(one, host)
    if pinned and not options.dry_run and not errors:
        known.save()
    if errors:
        for session in sessions.values():
            await session.close()
        bad_input = [e for e in errors.values() if isinstance(e, ConfigError)]
        lines = [line for e in errors.values() for line in str(e).splitlines()]
        if bad_input:
            raise ConfigError(lines)
        raise ConnectError(lines)
    return sessions


class ConnectError(FreetierError):
    """A host could not be reached: nothing ran anywhere."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))


def addresses_from_outputs(outputs: Mapping[str, object]) -> dict[str, tuple[str, str]]:
    """Instance name -> (private, public) from the oci layer's outputs."""
    from freetier.tofu.vars import instance_addresses

    return instance_addresses(outputs)
