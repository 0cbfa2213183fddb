"""The simulated tools: a command line on a host -> (stdout, stderr, exit code), against the
shared Cluster. Output shapes follow the real tools (see freetier.pve.parse for the sources)."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable

from tests.fakes.pve.state import CEPH_PACKAGES, Cluster, Guest, Refused, SimHost

Result = tuple[str, str, int]
ROOT_ONLY = {
    "pvecm",
    "pveceph",
    "pvesh",
    "qm",
    "pct",
    "ceph",
    "ceph-volume",
    "pvesm",
    "pveam",
    "corosync-quorumtool",
    "chpasswd",
    "usermod",
    "install",
    "rm",
    "true",
    "lsblk",
}


def command_key(words: list[str]) -> str:
    """ "pvecm add" for `pvecm add 10.0.0.1 ...`: what times and faults are keyed by."""
    if words and words[0] in ("pvecm", "pveceph", "qm", "pct", "pvesh", "ceph", "pveam"):
        return " ".join(words[:2])
    return words[0] if words else ""


def run(cluster: Cluster, host: SimHost, words: list[str], stdin: str, root: bool) -> Result:
    tool = words[0]
    if tool in ROOT_ONLY and not root:
        return "", f"{tool}: permission denied (are you root?)\n", 1
    handler = TOOLS.get(tool)
    if handler is None:
        return "", f"sh: 1: {tool}: not found\n", 127
    try:
        return handler(cluster, host, words[1:], stdin)
    except Refused as exc:
        return "", f"{exc}\n", exc.code


def _plain(out: str = "") -> Result:
    return out, "", 0


def _json(value: object) -> Result:
    return json.dumps(value) + "\n", "", 0


def _system(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    raise Refused("unreachable")


def _hostname(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    return _plain(host.name + "\n")


def _cat(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    if args == ["/etc/os-release"]:
        version = {"bookworm": "12", "trixie": "13"}.get(host.codename, "11")
        return _plain(
            f'PRETTY_NAME="Debian GNU/Linux {version} ({host.codename})"\n'
            f'NAME="Debian GNU/Linux"\nVERSION_ID="{version}"\n'
            f"VERSION_CODENAME={host.codename}\nID=debian\n"
        )
    raise Refused(f"cat: {args[0]}: No such file or directory", 1)


def _uname(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    return _plain(host.machine + "\n")


def _test(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    if args == ["-c", "/dev/kvm"]:
        return "", "", 0 if host.kvm else 1
    if args == ["-e", "/etc/pve/ceph.conf"]:
        return "", "", 0 if cluster.ceph_network and host.name in cluster.members else 1
    return "", "", 1


def _date(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    return _plain(f"{time.time() + host.clock_offset:.9f}\n")


def _true(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    return _plain()


def _dpkg(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    names = args[3:]  # -W -f FORMAT names...
    found = [f"{n} {host.packages[n]}" for n in names if n in host.packages]
    missing = [n for n in names if n not in host.packages]
    err = "".join(f"dpkg-query: no packages found matching {n}\n" for n in missing)
    return "".join(f"{line}\n" for line in found), err, 1 if missing else 0


def _lsblk(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    devices = [
        {
            "name": d.path,
            "path": d.path,
            "type": "disk",
            "fstype": d.fstype,
            "mountpoint": d.mountpoint,
            **(
                {"children": [{"name": c, "path": c, "type": "part"} for c in d.children]}
                if d.children
                else {}
            ),
        }
        for d in host.disks.values()
    ]
    return _json({"blockdevices": devices})


def _pvesh(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    path = args[1] if len(args) > 1 else ""
    if args[:1] != ["get"]:
        raise Refused(f"pvesh: unsupported {args[:1]}")
    member = host.name in cluster.members
    if path == "/cluster/status":
        nodes = (
            [
                {
                    "type": "node",
                    "id": f"node/{m}",
                    "name": m,
                    "nodeid": i + 1,
                    "ip": cluster.hosts[m].address,
                    "online": int(cluster.online(m)),
                    "local": int(m == host.name),
                    "level": "",
                }
                for i, m in enumerate(cluster.members)
            ]
            if member
            else [
                {
                    "type": "node",
                    "id": f"node/{host.name}",
                    "name": host.name,
                    "nodeid": 0,
                    "ip": host.address,
                    "online": 1,
                    "local": 1,
                    "level": "",
                }
            ]
        )
        if member:
            nodes.insert(
                0,
                {
                    "type": "cluster",
                    "id": "cluster",
                    "name": cluster.name,
                    "nodes": len(cluster.members),
                    "quorate": int(cluster.quorate()),
                    "version": len(cluster.members),
                },
            )
        return _json(nodes)
    if path == "/cluster/config/join":
        if not member:
            raise Refused("node is not in a cluster, no join info available!")
        return _json(
            {
                "nodelist": [
                    {
                        "name": m,
                        "nodeid": str(i + 1),
                        "pve_addr": cluster.hosts[m].address,
                        "pve_fp": cluster.hosts[m].fingerprint,
                        "quorum_votes": "1",
                        "ring0_addr": cluster.hosts[m].address,
                    }
                    for i, m in enumerate(cluster.members)
                ],
                "preferred_node": host.name,
                "config_digest": "0" * 40,
                "totem": {},
            }
        )
    if path == "/storage":
        return _json(list(cluster.storages.values()) if member else [cluster.storages["local"]])
    if path == "/cluster/resources":
        return _json(
            [
                {
                    "vmid": g.vmid,
                    "id": f"{g.kind}/{g.vmid}",
                    "node": g.node,
                    "type": g.kind,
                    "status": g.status,
                    "name": g.name,
                }
                for g in cluster.guests.values()
            ]
        )
    raise Refused(f"No '{path}' handler")


def _pvecm(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    if args[:1] == ["create"]:
        cluster.create(host, args[1])
        return _plain(
            "Writing corosync key to /etc/corosync/authkey.\n"
            "Writing corosync config to /etc/pve/corosync.conf\nRestart corosync "
            "and cluster filesystem\n"
        )
    if args[:1] == ["add"]:
        opts = _options(args[2:])
        cluster.join(host, args[1], opts.get("fingerprint", ""), stdin.strip("\n"))
        return _plain(
            "Establishing API connection with host\nLogin succeeded.\n"
            "Request addition of this node\nJoin request OK, finishing setup locally\n"
            "waiting for quorum...OK\nsuccessfully added node to cluster.\n"
        )
    if args[:2] == ["qdevice", "setup"]:
        if host.name not in cluster.members or len(cluster.members) % 2:
            raise Refused("QDevice only supported for clusters with an even node count")
        cluster.qdevice = args[2]
        return _plain("Done\n")
    raise Refused(f"pvecm: unknown command {args[:1]}")


def _quorumtool(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    if host.name not in cluster.members:
        raise Refused("Cannot initialize QUORUM service", 1)
    total, expected = cluster.votes()
    quorate = cluster.quorate()
    flags = ("Quorate " if quorate else "") + ("Qdevice" if cluster.qdevice else "")
    online = sum(cluster.online(m) for m in cluster.members)
    text = (
        "Quorum information\n------------------\n"
        f"Date:             {time.ctime()}\nQuorum provider:  corosync_votequorum\n"
        f"Nodes:            {online}\nNode ID:          0x00000001\nRing ID:          1.1a8\n"
        f"Quorate:          {'Yes' if quorate else 'No'}\n\n"
        "Votequorum information\n----------------------\n"
        f"Expected votes:   {expected}\nHighest expected: {expected}\n"
        f"Total votes:      {total}\nQuorum:           {expected // 2 + 1}\n"
        f"Flags:            {flags.strip()}\n"
    )
    return text, "", 0 if quorate else 2


def _chpasswd(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    user, _, password = stdin.strip("\n").partition(":")
    if user != "root" or not password:
        raise Refused("chpasswd: line 1: missing new password", 1)
    host.root_password = password
    return _plain()


def _usermod(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    if args[:2] == ["--password", "!*"] and args[2:] == ["root"]:
        host.root_password = None
        return _plain()
    raise Refused(f"usermod: unsupported {args}", 2)


def _pveceph(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    if host.name not in cluster.members:
        raise Refused("pve configuration filesystem not mounted / not in a cluster")
    sub = args[:2]
    if args[:1] == ["install"]:
        host.packages.update(CEPH_PACKAGES)
        return _plain("installed ceph squid successfully!\n")
    if any(p not in host.packages for p in CEPH_PACKAGES):
        raise Refused("binary not installed: /usr/bin/ceph-mon")
    if args[:1] == ["init"]:
        cluster.ceph_network = _options(args[1:])["network"]
        return _plain()
    if cluster.ceph_network is None:
        raise Refused("rados_connect failed - No such file or directory")
    if sub in (["mon", "create"], ["mgr", "create"]):
        return _daemon(host, sub[0])
    if sub == ["osd", "create"]:
        osd = cluster.osd_create(host, args[2])
        return _plain(
            f"create OSD on {args[2]} (bluestore)\n--> ceph-volume lvm create "
            f"successful for: {args[2]}\nosd.{osd}\n"
        )
    if sub[:1] == ["pool"]:
        return _pveceph_pool(cluster, args[1:])
    raise Refused(f"pveceph: unknown command {sub}")


def _daemon(host: SimHost, kind: str) -> Result:
    if kind == "mon":
        if host.mon:
            raise Refused(f"monitor '{host.name}' already exists")
        host.mon = True
        return _plain("monmaptool: monmap file /tmp/monmap\ncreated the first monitor\n")
    if host.mgr:
        raise Refused(f"ceph manager directory '/var/lib/ceph/mgr/ceph-{host.name}' already exists")
    host.mgr = True
    return _plain(f"creating manager directory '/var/lib/ceph/mgr/ceph-{host.name}'\n")


def _pveceph_pool(cluster: Cluster, args: list[str]) -> Result:
    name, opts = args[1], _options(args[2:])
    if args[0] == "create":
        if name in cluster.pools:
            raise Refused(f"pool '{name}' already exists")
        cluster.pools[name] = (int(opts["size"]), int(opts["min_size"]))
        if opts.get("add_storages") == "1":
            cluster.storages[name] = {
                "storage": name,
                "type": "rbd",
                "pool": name,
                "content": "images,rootdir",
                "shared": 1,
            }
        return _plain()
    if args[0] == "set":
        if name not in cluster.pools:
            raise Refused(f"pool '{name}' does not exist")
        cluster.pools[name] = (int(opts["size"]), int(opts["min_size"]))
        return _plain()
    raise Refused(f"pveceph pool: unknown command {args[0]}")


def _ceph(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    if cluster.ceph_network is None or host.name not in cluster.members:
        raise Refused(
            "Error initializing cluster client: ObjectNotFound('RADOS object not "
            "found (error calling conf_read_file)')",
            1,
        )
    sub = [a for a in args if not a.startswith("--") and a != "json"]
    if sub == ["mon", "dump"]:
        return _json(
            {
                "epoch": 1,
                "mons": [
                    {"rank": i, "name": h.name, "public_addr": f"{h.address}:6789/0"}
                    for i, h in enumerate(h for h in cluster.hosts.values() if h.mon)
                ],
            }
        )
    if sub == ["mgr", "dump"]:
        mgrs = [h.name for h in cluster.hosts.values() if h.mgr]
        return _json(
            {
                "active_name": mgrs[0] if mgrs else "",
                "available": bool(mgrs),
                "standbys": [{"name": n} for n in mgrs[1:]],
            }
        )
    if sub == ["osd", "pool", "ls", "detail"]:
        return _json(
            [
                {"pool_id": i + 1, "pool_name": n, "size": s, "min_size": m}
                for i, (n, (s, m)) in enumerate(cluster.pools.items())
            ]
        )
    if sub == ["health"]:
        status, checks = cluster.health()
        return _json({"status": status, "checks": checks, "mutes": []})
    if sub == ["osd", "tree"]:
        nodes: list[dict[str, object]] = []
        hosts = [h for h in cluster.hosts.values() if h.osds]
        nodes.append(
            {
                "id": -1,
                "name": "default",
                "type": "root",
                "children": [-2 - i for i in range(len(hosts))],
            }
        )
        for i, h in enumerate(hosts):
            nodes.append({"id": -2 - i, "name": h.name, "type": "host", "children": list(h.osds)})
            nodes += [
                {
                    "id": o,
                    "name": f"osd.{o}",
                    "type": "osd",
                    "status": "up" if h.reachable else "down",
                }
                for o in h.osds
            ]
        return _json({"nodes": nodes, "stray": []})
    raise Refused(f"ceph: unknown command {sub}", 22)


def _ceph_volume(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    return _json(
        {
            str(o): [{"devices": [d], "type": "block", "name": f"osd-block-{o}"}]
            for o, d in host.osds.items()
        }
    )


def _qm(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    vmid = int(args[1])
    if args[0] == "create":
        if vmid in cluster.guests:
            raise Refused(
                f"unable to create VM {vmid} - VM {vmid} already exists on node "
                f"'{cluster.guests[vmid].node}'"
            )
        opts = _options(args[2:])
        storage = opts.get("scsi0", "local:1").split(":")[0]
        if storage not in cluster.storages:
            raise Refused(f"storage '{storage}' does not exist")
        cluster.guests[vmid] = Guest(vmid, host.name, "qemu", opts.get("name", ""), storage)
        return _plain()
    guest = cluster.guests.get(vmid)
    if guest is None or guest.node != host.name:
        raise Refused(
            f"Configuration file 'nodes/{host.name}/qemu-server/{vmid}.conf' does not exist", 2
        )
    if args[0] == "migrate":
        cluster.migrate(host, vmid, args[2])
        return _plain("migration finished successfully (duration 00:00:02)\n")
    if args[0] == "destroy":
        del cluster.guests[vmid]
        return _plain()
    raise Refused(f"qm: unknown command {args[0]}")


def _pveam(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    if args[:2] == ["list", "local"]:
        rows = "".join(f"local:vztmpl/{t:<60} 120.00MB\n" for t in host.templates)
        return _plain("NAME                                                         SIZE\n" + rows)
    if args[:1] == ["available"]:
        return _plain("system          debian-12-standard_12.7-1_arm64.tar.zst\n")
    if args[:1] == ["download"]:
        host.templates.append(args[2])
        return _plain("download of ... finished\n")
    raise Refused(f"pveam: unknown command {args[:1]}")


def _pct(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    vmid = int(args[1])
    if args[0] == "create":
        opts = _options(args[3:])
        if vmid in cluster.guests:
            raise Refused(f"CT {vmid} already exists on node '{cluster.guests[vmid].node}'")
        if opts.get("storage") not in cluster.storages:
            raise Refused(f"storage '{opts.get('storage')}' does not exist")
        cluster.guests[vmid] = Guest(vmid, host.name, "lxc", opts["hostname"], opts["storage"])
        return _plain()
    guest = cluster.guests.get(vmid)
    if guest is None or guest.node != host.name:
        raise Refused(f"Configuration file 'nodes/{host.name}/lxc/{vmid}.conf' does not exist")
    if args[0] == "start":
        guest.status = "running"
        return _plain()
    if args[0] == "push":
        if args[2] not in host.files:
            raise Refused(f"can't open '{args[2]}'")
        guest.files[args[3]] = host.files[args[2]]
        return _plain()
    if args[0] == "exec":
        return _pct_exec(cluster, guest, args[3:])
    raise Refused(f"pct: unknown command {args[0]}")


def _pct_exec(cluster: Cluster, guest: Guest, inner: list[str]) -> Result:
    if inner[:2] == ["tailscale", "up"]:
        path = inner[2].removeprefix("--auth-key=file:")
        if guest.files.get(path) != cluster.tailscale_key:
            raise Refused("backend error: invalid key", 1)
        guest.tailnet = True
        return _plain()
    if inner[:2] == ["tailscale", "status"]:
        return _json({"BackendState": "Running" if guest.tailnet else "NeedsLogin"})
    if inner[:2] == ["rm", "-f"]:
        guest.files.pop(inner[2], None)
    return _plain()


def _install(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    host.files[args[-1]] = stdin
    return _plain()


def _rm(cluster: Cluster, host: SimHost, args: list[str], stdin: str) -> Result:
    host.files.pop(args[-1], None)
    return _plain()


def _options(args: list[str]) -> dict[str, str]:
    """`--key value` pairs."""
    out = {}
    for i, word in enumerate(args):
        if word.startswith("--") and i + 1 < len(args):
            out[word[2:]] = args[i + 1]
    return out


Handler = Callable[[Cluster, SimHost, list[str], str], Result]
TOOLS: dict[str, Handler] = {
    "hostname": _hostname,
    "cat": _cat,
    "uname": _uname,
    "test": _test,
    "date": _date,
    "true": _true,
    "dpkg-query": _dpkg,
    "lsblk": _lsblk,
    "pvesh": _pvesh,
    "pvecm": _pvecm,
    "corosync-quorumtool": _quorumtool,
    "chpasswd": _chpasswd,
    "usermod": _usermod,
    "pveceph": _pveceph,
    "ceph": _ceph,
    "ceph-volume": _ceph_volume,
    "qm": _qm,
    "pveam": _pveam,
    "pct": _pct,
    "install": _install,
    "rm": _rm,
}


def split(command: str) -> tuple[list[str], bool]:
    """The words of a command line and whether it runs through `sudo --`."""
    words = shlex.split(command)
    if words[:2] == ["sudo", "--"]:
        return words[2:], True
    return words, False
