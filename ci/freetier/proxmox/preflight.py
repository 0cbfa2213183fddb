"""Step 1, on every host at once, before anything changes: sudo, Debian release, architecture,
/dev/kvm (Talos VMs refused without it unless the stack allows TCG), the OSD disks, the clock
and the Proxmox packages of the image."""

from __future__ import annotations

import time

from freetier.proxmox.context import Context, each_host
from freetier.pve import parse
from freetier.pve.inventory import PveHost
from freetier.pve.report import Record

STEP = "preflight"
ARCHITECTURES = {"aarch64": "arm64", "x86_64": "amd64"}
# What the Proxmox image installs (images/proxmox/third-party.yaml) and the cluster needs.
PROXMOX_PACKAGES = ("proxmox-ve", "pve-manager", "pve-cluster", "qemu-server", "corosync")
CEPH_PACKAGES = ("ceph-mon", "ceph-mgr", "ceph-osd", "ceph-volume")
QDEVICE_PACKAGES = ("corosync-qdevice",)
# Ceph warns above mon_clock_drift_allowed (0.05 s, docs.ceph.com rados/configuration/
# mon-config-ref); over SSH the reading is only good to half a round trip, so a skew that is
# surely above 1 s (time sync broken) fails and smaller ones are reported.
MAX_SKEW = 1.0
DPKG_FORMAT = "${Package} ${Version}\\n"


async def preflight(ctx: Context, hosts: tuple[PveHost, ...], suite: str) -> None:
    await each_host(ctx, STEP, hosts, lambda host: _check(ctx, host, suite))


async def _check(ctx: Context, host: PveHost, suite: str) -> Record:
    problems: list[str] = []
    facts: list[str] = []
    sudo = await ctx.read(host, ["true"])
    if not sudo.ok:
        return Record(
            STEP,
            host.name,
            "failed",
            f"sudo refused (it authenticates with the forwarded agent): {sudo.tail()}",
        )
    name = (await ctx.read(host, ["hostname"], sudo=False)).stdout.strip()
    ctx.nodes[host.name] = name or host.name
    release = parse.os_release(
        (await ctx.read(host, ["cat", "/etc/os-release"], sudo=False)).stdout
    )
    codename = release.get("VERSION_CODENAME", "?")
    if release.get("ID") != "debian" or codename != suite:
        problems.append(
            f"{release.get('PRETTY_NAME', 'unknown OS')}: expected Debian {suite} "
            "(images.debian_suite)"
        )
    facts.append(f"Debian {release.get('VERSION_ID', '?')} ({codename})")
    machine = (await ctx.read(host, ["uname", "-m"], sudo=False)).stdout.strip()
    if machine not in ARCHITECTURES:
        problems.append(f"architecture {machine}: expected one of {', '.join(ARCHITECTURES)}")
    facts.append(ARCHITECTURES.get(machine, machine))
    kvm = (await ctx.read(host, ["test", "-c", "/dev/kvm"], sudo=False)).ok
    ctx.kvm[host.name] = kvm
    facts.append("/dev/kvm" if kvm else "no /dev/kvm")
    if not kvm and host.talos_vms and not ctx.inventory.allow_tcg:
        problems.append(
            f"no /dev/kvm: its Talos VMs ({', '.join(host.talos_vms)}) could only run under TCG "
            "emulation, far too slow for Talos; use a host with KVM, or set "
            "proxmox.allow_tcg: true to accept it"
        )
    problems += await _disks(ctx, host, facts)
    before = time.time()
    clock = await ctx.read(host, ["date", "+%s.%N"], sudo=False)
    after = time.time()
    try:
        skew = float(clock.stdout.strip()) - (before + after) / 2
    except ValueError:
        problems.append(f"date printed {clock.stdout.strip()[:40]!r}")
    else:
        facts.append(f"clock {skew:+.2f}s")
        if abs(skew) > MAX_SKEW + (after - before) / 2:
            problems.append(f"clock {skew:+.1f}s off: fix time sync (chrony) before Ceph")
    problems += await _packages(ctx, host, facts)
    if problems:
        return Record(STEP, host.name, "failed", "; ".join(problems), tuple(facts))
    return Record(STEP, host.name, "done", ", ".join(facts))


async def _disks(ctx: Context, host: PveHost, facts: list[str]) -> list[str]:
    if not ctx.inventory.ceph or not host.osd_devices:
        return []
    listing = await ctx.read(
        host, ["lsblk", "--json", "--paths", "--output", "NAME,PATH,TYPE,FSTYPE,MOUNTPOINT"]
    )
    if not listing.ok:
        return [f"lsblk failed: {listing.tail()}"]
    disks = parse.disks(listing.stdout)
    osds = await osd_disks(ctx, host)
    problems = []
    free = []
    for device in host.osd_devices:
        disk = disks.get(device)
        if disk is None:
            problems.append(f"{device}: no such disk")
        elif device in osds:
            facts.append(f"{device} is an OSD")
        elif (why := disk.holds_data()) is not None:
            problems.append(
                f"{device} {why}: refusing to make it an OSD (wipe it yourself if its data can go)"
            )
        else:
            free.append(device)
    if free:
        facts.append(f"free: {', '.join(free)}")
    return problems


async def osd_disks(ctx: Context, host: PveHost) -> set[str]:
    """The devices of the host that already hold an OSD (none while Ceph is not installed)."""
    out = await ctx.read(host, ["ceph-volume", "lvm", "list", "--format", "json"])
    return parse.osd_devices(out.stdout) if out.ok else set()


async def _packages(ctx: Context, host: PveHost, facts: list[str]) -> list[str]:
    wanted = PROXMOX_PACKAGES + CEPH_PACKAGES + (QDEVICE_PACKAGES if ctx.inventory.qdevice else ())
    out = await ctx.read(host, ["dpkg-query", "-W", "-f", DPKG_FORMAT, *wanted], sudo=False)
    found = parse.packages(out.stdout)
    ctx.packages[host.name] = found
    missing = [p for p in PROXMOX_PACKAGES + QDEVICE_PACKAGES if p in wanted and p not in found]
    if missing:
        return [f"missing {', '.join(missing)}: not the freetier Proxmox image (images/proxmox)?"]
    facts.append(f"proxmox-ve {found['proxmox-ve']}")
    return []
