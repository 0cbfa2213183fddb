"""Steps 9-10: a Tailscale container on each host, and the migration test: a tiny VM 999
created on the first host's Ceph storage, migrated to the next host, found there, removed."""

from __future__ import annotations

import shlex
import time

from freetier.proxmox.context import Context, StepError, each_host, last_lines, on_host
from freetier.pve import parse
from freetier.pve.inventory import PveHost
from freetier.pve.report import CLUSTER, Record
from freetier.stack.model import MIGRATION_VMID

TEST_NAME = "freetier-migration-test"
TAILSCALE_NAME = "tailscale-{host}"
# The Tailscale container: a Debian system template (pveam), unprivileged, userspace
# networking (OCI's VNIC drops frames from MACs it does not know, so no bridged NIC).
KEY_FILE = "/run/freetier-ts-authkey"
INSTALL_TAILSCALE = (
    "command -v tailscale >/dev/null || (apt-get update -q && apt-get install -y -q curl && "
    "curl -fsSL https://tailscale.com/install.sh | sh)"
)
# tailscaled's own flag for a container without /dev/net/tun (tailscale.com/kb/1112)
USERSPACE_NETWORKING = (
    "echo 'FLAGS=\"--tun=userspace-networking\"' >/etc/default/tailscaled && "
    "systemctl restart tailscaled"
)
# Its NIC: on OCI a bridged MAC is dropped, so this bridge must be a routed/NAT one there.
BRIDGE = "vmbr0"


async def guests_view(ctx: Context) -> dict[int, parse.Guest]:
    out = await ctx.read(
        ctx.inventory.first,
        ["pvesh", "get", "/cluster/resources", "--type", "vm", "--output-format", "json"],
    )
    if not out.ok:
        raise StepError(f"pvesh get /cluster/resources exited {out.code}: {out.tail()}")
    return parse.guests(out.stdout)


async def migration_test(ctx: Context) -> None:
    hosts = ctx.inventory.hosts
    if len(hosts) < 2:
        ctx.add(Record("migration-test", CLUSTER, "skipped", "one host: nowhere to migrate"))
        return
    await on_host(ctx, "migration-test", hosts[0], lambda: _migrate(ctx, hosts[0], hosts[1]))


async def _migrate(ctx: Context, source: PveHost, target: PveHost) -> Record:
    step = "migration-test"
    vmid = str(MIGRATION_VMID)
    create = [
        "qm",
        "create",
        vmid,
        "--name",
        TEST_NAME,
        "--memory",
        "64",
        "--scsi0",
        f"{ctx.inventory.pool}:1",
    ]
    migrate = ["qm", "migrate", vmid, ctx.node(target)]
    destroy = ["qm", "destroy", vmid, "--purge"]
    commands = tuple(shlex.join(a) for a in (create, migrate, destroy))
    if ctx.dry_run:
        return Record(
            step,
            CLUSTER,
            "planned",
            f"VM {vmid}: {source.name} -> {target.name}, then removed",
            (),
            commands,
        )
    existing = (await guests_view(ctx)).get(MIGRATION_VMID)
    if existing is not None:
        if existing.name != TEST_NAME:
            return Record(
                step,
                CLUSTER,
                "failed",
                f"VM {vmid} exists and is {existing.name!r}, not the test VM: left alone",
            )
        holder = next((h for h in ctx.inventory.hosts if ctx.node(h) == existing.node), source)
        await ctx.change(holder, destroy)  # a test VM left by an interrupted run
    started = time.monotonic()
    await ctx.change(source, create)
    await ctx.change(source, migrate)
    found = (await guests_view(ctx)).get(MIGRATION_VMID)
    if found is None or found.node != ctx.node(target):
        where = "gone" if found is None else f"on {found.node}"
        raise StepError(f"VM {vmid} is {where} after `qm migrate`, not on {ctx.node(target)}")
    out = await ctx.change(target, destroy)
    return Record(
        step,
        CLUSTER,
        "done",
        f"VM {vmid} migrated {source.name} -> {target.name} and removed in "
        f"{time.monotonic() - started:.1f}s",
        last_lines(out),
        commands,
    )


async def tailscale(ctx: Context, hosts: tuple[PveHost, ...]) -> None:
    if not ctx.inventory.tailscale:
        ctx.add(Record("tailscale-lxc", CLUSTER, "skipped", "proxmox.tailscale_lxc is false"))
        return
    if ctx.tailscale_key is None and not ctx.dry_run:
        ctx.add(
            Record(
                "tailscale-lxc",
                CLUSTER,
                "skipped",
                "no Tailscale auth key given (--tailscale-authkey-env)",
            )
        )
        return
    view = await guests_view(ctx)
    await each_host(ctx, "tailscale-lxc", hosts, lambda h: _container(ctx, h, view))


async def _container(ctx: Context, host: PveHost, view: dict[int, parse.Guest]) -> Record:
    step = "tailscale-lxc"
    vmid = str(host.lxc_vmid)
    name = TAILSCALE_NAME.format(host=host.name)
    found = view.get(host.lxc_vmid)
    if found is not None and found.name != name:
        return Record(
            step,
            host.name,
            "failed",
            f"CT {vmid} exists and is {found.name!r}, not {name}: left alone",
        )
    if found is not None and found.status == "running":
        state = await ctx.read(host, ["pct", "exec", vmid, "--", "tailscale", "status", "--json"])
        if state.ok and '"BackendState": "Running"' in state.stdout:
            return Record(step, host.name, "done", f"CT {vmid} {name} on the tailnet")
    template = await _template(ctx, host)
    create = [
        "pct",
        "create",
        vmid,
        template,
        "--hostname",
        name,
        "--unprivileged",
        "1",
        "--storage",
        ctx.inventory.pool,
        "--memory",
        "256",
        "--onboot",
        "1",
        "--net0",
        f"name=eth0,bridge={BRIDGE},ip=dhcp",
    ]
    steps = [] if found is not None else [create]
    steps += [["pct", "start", vmid]] if found is None or found.status != "running" else []
    join = [
        _in_ct(vmid, "sh", "-c", INSTALL_TAILSCALE),
        _in_ct(vmid, "sh", "-c", USERSPACE_NETWORKING),
        ["pct", "push", vmid, KEY_FILE, KEY_FILE, "--perms", "0600"],
        _in_ct(vmid, "tailscale", "up", f"--auth-key=file:{KEY_FILE}", f"--hostname={name}"),
        _in_ct(vmid, "rm", "-f", KEY_FILE),
    ]
    commands = tuple(shlex.join(a) for a in (*steps, *join))
    if ctx.dry_run:
        return Record(
            step, host.name, "planned", f"CT {vmid} {name} joins the tailnet", (), commands
        )
    key = ctx.tailscale_key or ""
    for argv in steps:
        await ctx.change(host, argv)
    # The key reaches the host on stdin only, into a root-only file, and leaves with the step.
    await ctx.change(
        host, ["install", "-m", "0600", "/dev/stdin", KEY_FILE], stdin=key, secrets=(key,)
    )
    try:
        for argv in join:
            await ctx.change(host, argv, secrets=(key,))
    finally:
        await ctx.change(host, ["rm", "-f", KEY_FILE])
    return Record(step, host.name, "changed", f"CT {vmid} {name} on the tailnet", (), commands)


async def _template(ctx: Context, host: PveHost) -> str:
    """The newest Debian system template already on the host, else downloaded."""
    listing = await ctx.read(host, ["pveam", "list", "local"])
    names = [
        w
        for line in listing.stdout.splitlines()
        for w in line.split()[:1]
        if "debian-" in w and "standard" in w
    ]
    if names:
        return sorted(names)[-1]
    available = await ctx.read(host, ["pveam", "available", "--section", "system"])
    candidates = sorted(
        w
        for line in available.stdout.splitlines()
        for w in line.split()[1:2]
        if w.startswith("debian-") and "standard" in w
    )
    if not candidates:
        raise StepError("pveam available lists no Debian system template")
    if not ctx.dry_run:
        await ctx.change(host, ["pveam", "download", "local", candidates[-1]], timeout=1800)
    return f"local:vztmpl/{candidates[-1]}"


def _in_ct(vmid: str, *argv: str) -> list[str]:
    """`argv` run inside container `vmid`."""
    return ["pct", "exec", vmid, "--", *argv]
