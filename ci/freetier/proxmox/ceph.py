"""Steps 5-8: Ceph. Packages per host, `pveceph init` on the subnet, a monitor per host (one
at a time: each joins the monitors' quorum), a manager per host, OSDs on the configured
devices that are free (a device holding data is refused and named; one that already is an OSD
is left alone), the pool at the stack's size/min_size (reconciled when it differs), its RBD
storage for VMs, then HEALTH_OK (pve-docs pveceph.adoc for the commands)."""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable

import anyio

from freetier.proxmox.context import (
    Context,
    StepError,
    each_host,
    on_host,
    run_change,
    status_of,
)
from freetier.proxmox.preflight import CEPH_PACKAGES, osd_disks
from freetier.pve import parse
from freetier.pve.inventory import PveHost
from freetier.pve.report import CLUSTER, Record

CEPH_CONF = "/etc/pve/ceph.conf"


async def ceph(ctx: Context, hosts: tuple[PveHost, ...]) -> None:
    inv = ctx.inventory
    if not inv.ceph:
        ctx.add(Record("ceph", CLUSTER, "skipped", "proxmox.ceph.enabled is false"))
        return
    await each_host(ctx, "ceph-install", hosts, lambda h: _install(ctx, h))
    await on_host(ctx, "ceph-init", inv.first, lambda: _init(ctx))
    mons = await _names(ctx, ["ceph", "mon", "dump", "--format", "json"], parse.mon_names)
    for host in hosts:
        await on_host(ctx, "ceph-mon", host, functools.partial(_daemon, ctx, host, "mon", mons))
    mgrs = await _names(ctx, ["ceph", "mgr", "dump", "--format", "json"], parse.mgr_names)
    await each_host(ctx, "ceph-mgr", hosts, lambda h: _daemon(ctx, h, "mgr", mgrs))
    await each_host(ctx, "ceph-osd", hosts, lambda h: _osds(ctx, h))
    await on_host(ctx, "ceph-pool", inv.first, lambda: _pool(ctx))
    await on_host(ctx, "ceph-storage", inv.first, lambda: _storage(ctx))
    await on_host(ctx, "ceph-health", inv.first, lambda: _health(ctx))


async def _install(ctx: Context, host: PveHost) -> Record:
    missing = [p for p in CEPH_PACKAGES if p not in ctx.packages.get(host.name, {})]
    if not missing:
        return Record("ceph-install", host.name, "done", "Ceph packages installed")
    argv = ["pveceph", "install", "--repository", "no-subscription"]
    return await run_change(
        ctx,
        "ceph-install",
        host,
        host.name,
        argv,
        f"installed {', '.join(missing)}",
        stdin="y\n",
        timeout=1800,
    )


async def _init(ctx: Context) -> Record:
    first = ctx.inventory.first
    if (await ctx.read(first, ["test", "-e", CEPH_CONF])).ok:
        return Record("ceph-init", first.name, "done", f"{CEPH_CONF} exists")
    argv = ["pveceph", "init", "--network", ctx.inventory.network]
    return await run_change(
        ctx, "ceph-init", first, first.name, argv, f"Ceph configured on {ctx.inventory.network}"
    )


async def _names(ctx: Context, argv: list[str], reader: Callable[[str], set[str]]) -> set[str]:
    out = await ctx.read(ctx.inventory.first, argv)
    # no Ceph yet (a dry run before init): nothing exists
    return reader(out.stdout) if out.ok else set()


async def _daemon(ctx: Context, host: PveHost, kind: str, existing: set[str]) -> Record:
    step = f"ceph-{kind}"
    if ctx.node(host) in existing:
        return Record(step, host.name, "done", f"{kind} {ctx.node(host)} exists")
    argv = ["pveceph", kind, "create"]
    return await run_change(ctx, step, host, host.name, argv, f"{kind} created")


async def _osds(ctx: Context, host: PveHost) -> Record:
    step = "ceph-osd"
    if not host.osd_devices:
        return Record(step, host.name, "skipped", "no osd_devices for this host")
    listing = await ctx.read(
        host, ["lsblk", "--json", "--paths", "--output", "NAME,PATH,TYPE,FSTYPE,MOUNTPOINT"]
    )
    disks = parse.disks(listing.stdout) if listing.ok else {}
    osds = await osd_disks(ctx, host)
    created, commands, refused = [], [], []
    for device in host.osd_devices:
        if device in osds:
            continue
        disk = disks.get(device)
        why = "is missing" if disk is None else disk.holds_data()
        if why is not None:
            refused.append(f"{device} {why}")
            continue
        argv = ["pveceph", "osd", "create", device]
        commands.append(shlex.join(argv))
        await ctx.change(host, argv)
        created.append(device)
    if refused:
        return Record(
            step,
            host.name,
            "failed",
            f"refusing {'; '.join(refused)}: an OSD wipes its disk",
            (),
            tuple(commands),
        )
    if not created:
        return Record(step, host.name, "done", f"OSDs on {', '.join(host.osd_devices)}")
    return Record(
        step,
        host.name,
        status_of(True, ctx.dry_run),
        f"OSD created on {', '.join(created)}",
        (),
        tuple(commands),
    )


async def _pool(ctx: Context) -> Record:
    inv, first = ctx.inventory, ctx.inventory.first
    out = await ctx.read(first, ["ceph", "osd", "pool", "ls", "detail", "--format", "json"])
    pools = parse.pools(out.stdout) if out.ok else {}
    want = (inv.size, inv.min_size)
    sizes = ["--size", str(inv.size), "--min_size", str(inv.min_size)]
    if inv.pool not in pools:
        argv = ["pveceph", "pool", "create", inv.pool, *sizes, "--add_storages", "1"]
        summary = f"pool {inv.pool} created, size {inv.size}/{inv.min_size}"
    elif pools[inv.pool] != want:
        have = pools[inv.pool]
        argv = ["pveceph", "pool", "set", inv.pool, *sizes]
        summary = f"pool {inv.pool} size {have[0]}/{have[1]} -> {inv.size}/{inv.min_size}"
    else:
        return Record(
            "ceph-pool", first.name, "done", f"pool {inv.pool} size {inv.size}/{inv.min_size}"
        )
    return await run_change(ctx, "ceph-pool", first, first.name, argv, summary)


async def _storage(ctx: Context) -> Record:
    inv, first = ctx.inventory, ctx.inventory.first
    out = await ctx.read(first, ["pvesh", "get", "/storage", "--output-format", "json"])
    storages = parse.storages(out.stdout) if out.ok else {}
    found = storages.get(inv.pool)
    if found is not None:
        if found.get("type") != "rbd" or found.get("pool", inv.pool) != inv.pool:
            return Record(
                "ceph-storage",
                first.name,
                "failed",
                f"storage {inv.pool} exists but is {found.get('type')}, not RBD on pool {inv.pool}",
            )
        return Record("ceph-storage", first.name, "done", f"RBD storage {inv.pool}")
    argv = ["pvesm", "add", "rbd", inv.pool, "--pool", inv.pool, "--content", "images,rootdir"]
    return await run_change(
        ctx,
        "ceph-storage",
        first,
        first.name,
        argv,
        f"RBD storage {inv.pool} for VMs and containers",
    )


async def _health(ctx: Context) -> Record:
    first = ctx.inventory.first
    if ctx.dry_run:
        return Record("ceph-health", CLUSTER, "skipped", "dry run: HEALTH_OK not awaited")
    deadline = anyio.current_time() + ctx.waits.health
    while True:
        out = await ctx.read(first, ["ceph", "health", "--format", "json"])
        if not out.ok:
            raise StepError(f"ceph health exited {out.code}: {out.tail()}")
        health = parse.health(out.stdout)
        if health.status == "HEALTH_OK":
            return Record("ceph-health", CLUSTER, "done", "HEALTH_OK")
        if anyio.current_time() > deadline:
            return Record(
                "ceph-health",
                CLUSTER,
                "failed",
                f"{health.status} after {ctx.waits.health:g}s",
                health.checks,
            )
        await anyio.sleep(ctx.waits.poll)
