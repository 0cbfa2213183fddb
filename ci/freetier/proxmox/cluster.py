"""Steps 2-4: the cluster on the first host, the others joined one at a time (each join takes
the cluster's lock, pve-docs pvecm.adoc), quorum after each, and a QDevice when the host count
is even.

Joining without root SSH: `pvecm add` without `--use_ssh` joins through the peer's API
(`PVE::Cluster::Setup::join` logs in to https://PEER:8006 as root@pam), pinned by
`--fingerprint` (the peer's certificate fingerprint, from `pvesh get /cluster/config/join`),
and reads the peer's root password as one line from stdin when stdin is not a terminal
(proxmox/pve-cluster src/PVE/CLI/pvecm.pm `add`, proxmox/pve-common src/PVE/PTY.pm
`read_password`). "The root password of a cluster node is required for adding nodes"
(pvecm.adoc). The images have no root password and refuse root over SSH, so each join sets a
random one-time root password on the first host (`chpasswd`, on stdin), hands it to
`pvecm add` on stdin, and locks the root password again right after, whatever happened.
"""

from __future__ import annotations

import functools
import secrets

import anyio

from freetier.proxmox.context import Context, StepError, last_lines, on_host, run_change
from freetier.pve import parse
from freetier.pve.inventory import PveHost
from freetier.pve.report import CLUSTER, Record

LOCKED_ROOT = "!*"  # a shadow hash no password matches: root has no password again


async def cluster_view(ctx: Context, host: PveHost) -> parse.ClusterView:
    out = await ctx.read(host, ["pvesh", "get", "/cluster/status", "--output-format", "json"])
    if not out.ok:
        raise StepError(f"pvesh get /cluster/status exited {out.code}: {out.tail()}")
    return parse.cluster_status(out.stdout)


async def create(ctx: Context) -> None:
    first = ctx.inventory.first

    async def work() -> Record:
        view = await cluster_view(ctx, first)
        argv = ["pvecm", "create", ctx.inventory.cluster, "--link0", first.link]
        if view.name == ctx.inventory.cluster:
            return Record("cluster-create", first.name, "done", f"cluster {view.name} exists")
        if view.name is not None:
            return Record(
                "cluster-create",
                first.name,
                "failed",
                f"already in cluster {view.name!r}, not {ctx.inventory.cluster!r}",
            )
        return await run_change(
            ctx,
            "cluster-create",
            first,
            first.name,
            argv,
            f"cluster {ctx.inventory.cluster} created on {first.link}",
        )

    await on_host(ctx, "cluster-create", first, work)


async def join_all(ctx: Context, hosts: tuple[PveHost, ...]) -> None:
    first = ctx.inventory.first
    for host in hosts:
        if host is first:
            continue
        await on_host(ctx, "cluster-join", host, functools.partial(_join, ctx, host))


async def _join(ctx: Context, host: PveHost) -> Record:
    step = "cluster-join"
    first = ctx.inventory.first
    view = await cluster_view(ctx, host)
    if view.name == ctx.inventory.cluster:
        return Record(step, host.name, "done", f"member of {view.name}")
    if view.name is not None:
        return Record(
            step,
            host.name,
            "failed",
            f"already in cluster {view.name!r}, not {ctx.inventory.cluster!r}",
        )
    argv = ["pvecm", "add", first.link, "--fingerprint", "<first host's>", "--link0", host.link]
    if ctx.dry_run:
        return Record(
            step,
            host.name,
            "planned",
            f"join {ctx.inventory.cluster} via {first.name} (API join, one-time root password)",
            (),
            (" ".join(argv),),
        )
    before = await quorum(ctx, first)
    if not before.quorate:
        return Record(
            step,
            host.name,
            "failed",
            f"{first.name} is not quorate ({before.total} of {before.expected} votes): "
            "a join needs a quorate cluster",
        )
    info = await ctx.read(
        first, ["pvesh", "get", "/cluster/config/join", "--output-format", "json"]
    )
    if not info.ok:
        raise StepError(f"pvesh get /cluster/config/join exited {info.code}: {info.tail()}")
    fingerprint = parse.join_fingerprint(info.stdout, ctx.node(first))
    argv[4] = fingerprint
    password = secrets.token_urlsafe(24)
    try:
        await ctx.change(first, ["chpasswd"], stdin=f"root:{password}\n", secrets=(password,))
        out = await ctx.change(host, argv, stdin=password + "\n", secrets=(password,))
    finally:
        with anyio.CancelScope(shield=True):
            await ctx.change(first, ["usermod", "--password", LOCKED_ROOT, "root"])
    await wait_quorum(ctx, host)
    return Record(
        step,
        host.name,
        "changed",
        f"joined {ctx.inventory.cluster}; quorate",
        last_lines(out),
        (" ".join(argv),),
    )


async def quorum(ctx: Context, host: PveHost) -> parse.Quorum:
    out = await ctx.read(host, ["corosync-quorumtool", "-s"])
    # corosync-quorumtool exits 2 when not quorate but still prints the blocks
    if not out.stdout.strip():
        raise StepError(f"corosync-quorumtool -s exited {out.code}: {out.tail()}")
    return parse.quorum(out.stdout)


async def wait_quorum(ctx: Context, joined: PveHost) -> None:
    """Quorate, with the joined node counted, on the first host; else stop before the next."""
    first = ctx.inventory.first
    deadline = anyio.current_time() + ctx.waits.quorum
    while True:
        now = await quorum(ctx, first)
        view = await cluster_view(ctx, first)
        if now.quorate and view.members.get(ctx.node(joined)):
            return
        if anyio.current_time() > deadline:
            raise StepError(
                f"no quorum {ctx.waits.quorum:g}s after {joined.name} joined ({now.total} of "
                f"{now.expected} votes, quorum {now.quorum}): not joining the other hosts"
            )
        await anyio.sleep(ctx.waits.poll)


async def qdevice(ctx: Context) -> None:
    first = ctx.inventory.first
    address = ctx.inventory.qdevice
    step = "qdevice"
    if address is None:
        ctx.add(
            Record(
                step,
                CLUSTER,
                "skipped",
                f"{len(ctx.inventory.hosts)} hosts: an odd count needs no QDevice",
            )
        )
        return

    async def work() -> Record:
        now = await quorum(ctx, first)
        if now.qdevice:
            return Record(step, CLUSTER, "done", f"QDevice on {address} votes")
        argv = ["pvecm", "qdevice", "setup", address]
        return await run_change(
            ctx, step, first, CLUSTER, argv, f"QDevice on {address} (corosync-qnetd)"
        )

    await on_host(ctx, step, first, work)
