"""What the Proxmox VE, Ceph and system tools print, parsed into plain data. Pure.

Shapes, from the tools' documentation:
- `pvesh get /cluster/status --output-format json`: a list of a `cluster` entry (name,
  quorate, nodes, version) and one `node` entry per member (name, nodeid, ip, online, local);
  a host outside any cluster lists only itself (the API schema of GET /cluster/status,
  pve-docs api-viewer; pvesh(1) for --output-format).
- `pvesh get /cluster/config/join --output-format json`: `nodelist` with each node's `name`,
  `pve_addr`, `pve_fp` (its API certificate's SHA-256 fingerprint) and `ring0_addr`
  (GET /cluster/config/join).
- `corosync-quorumtool -s`: the "Quorum information" / "Votequorum information" blocks that
  `pvecm status` prints (pve-docs pvecm.adoc, "Cluster status after adding 4 nodes" and the
  QDevice example): `Quorate: Yes`, `Expected votes`, `Total votes`, `Quorum`, `Flags`.
- `lsblk --json`: `blockdevices`, each with `children` for its partitions (util-linux lsblk(8)).
- `ceph-volume lvm list --format json`: OSD id -> list of LVs, each with its `devices`
  (ceph-volume lvm list, docs.ceph.com).
- `ceph mon dump`, `ceph mgr dump`, `ceph osd tree`, `ceph osd pool ls detail`, `ceph health`
  with `--format json`: `mons[].name`; `active_name` and `standbys[].name`; `nodes` of type
  host with their OSD `children`; pools' `pool_name`, `size`, `min_size`; health `status`
  and `checks` (docs.ceph.com, rados/operations).
- `pvesh get /cluster/resources --type vm --output-format json`: guests with `vmid`, `node`,
  `type` (qemu, lxc), `status`, `name`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from freetier.errors import RemoteError


def load_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RemoteError(f"{what}: not JSON ({exc.msg} at {exc.pos}): {text[:120]!r}") from None


def os_release(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    return values


def packages(text: str) -> dict[str, str]:
    """`dpkg-query -W -f '${Package} ${Version}\\n' ...` -> name -> version."""
    found = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2:
            found[words[0]] = words[1]
    return found


@dataclass(frozen=True)
class ClusterView:
    name: str | None  # None: the host is in no cluster
    quorate: bool
    members: dict[str, bool]  # node name -> online
    local: str  # the node's own name


def cluster_status(text: str) -> ClusterView:
    entries = load_json(text, "pvesh get /cluster/status")
    cluster = next((e for e in entries if e.get("type") == "cluster"), None)
    nodes = [e for e in entries if e.get("type") == "node"]
    local = next((e["name"] for e in nodes if e.get("local")), nodes[0]["name"] if nodes else "")
    if cluster is None:
        return ClusterView(None, False, {}, local)
    return ClusterView(
        cluster["name"],
        bool(cluster.get("quorate")),
        {e["name"]: bool(e.get("online")) for e in nodes},
        local,
    )


def join_fingerprint(text: str, node: str) -> str:
    info = load_json(text, "pvesh get /cluster/config/join")
    for entry in info.get("nodelist", []):
        if entry.get("name") == node and entry.get("pve_fp"):
            return str(entry["pve_fp"])
    raise RemoteError(f"pvesh get /cluster/config/join: no fingerprint for node {node!r}")


@dataclass(frozen=True)
class Quorum:
    quorate: bool
    expected: int
    total: int
    quorum: int
    flags: tuple[str, ...]
    nodes: int

    @property
    def qdevice(self) -> bool:
        return "Qdevice" in self.flags


_FIELD = re.compile(r"^([A-Za-z ]+):\s+(.*)$")


def quorum(text: str) -> Quorum:
    fields = {}
    for line in text.splitlines():
        match = _FIELD.match(line.strip())
        if match:
            fields[match.group(1).strip()] = match.group(2).strip()

    def number(key: str) -> int:
        try:
            return int(fields.get(key, "0").split()[0])
        except (ValueError, IndexError):
            return 0

    return Quorum(
        fields.get("Quorate") == "Yes",
        number("Expected votes"),
        number("Total votes"),
        number("Quorum"),
        tuple(fields.get("Flags", "").split()),
        number("Nodes"),
    )


@dataclass(frozen=True)
class Disk:
    path: str
    kind: str
    fstype: str | None
    mountpoint: str | None
    children: tuple[str, ...] = field(default=())

    def holds_data(self) -> str | None:
        """Why the disk is not free (None: free)."""
        if self.children:
            return f"has partitions or holders: {', '.join(self.children)}"
        if self.fstype:
            return f"holds a {self.fstype} signature"
        if self.mountpoint:
            return f"is mounted at {self.mountpoint}"
        return None


def disks(text: str) -> dict[str, Disk]:
    data = load_json(text, "lsblk --json")
    found = {}
    for dev in data.get("blockdevices", []):
        path = dev.get("path") or f"/dev/{dev.get('name')}"
        children = tuple(
            c.get("path") or f"/dev/{c.get('name')}" for c in dev.get("children") or []
        )
        found[path] = Disk(
            path, dev.get("type", ""), dev.get("fstype"), dev.get("mountpoint"), children
        )
    return found


def osd_devices(text: str) -> set[str]:
    """Devices that hold an OSD, from `ceph-volume lvm list --format json`."""
    data = load_json(text, "ceph-volume lvm list") if text.strip() else {}
    return {dev for lvs in data.values() for lv in lvs for dev in lv.get("devices", [])}


def mon_names(text: str) -> set[str]:
    return {m["name"] for m in load_json(text, "ceph mon dump").get("mons", [])}


def mgr_names(text: str) -> set[str]:
    data = load_json(text, "ceph mgr dump")
    names = {s["name"] for s in data.get("standbys", [])}
    if data.get("active_name"):
        names.add(data["active_name"])
    return names


def osds_by_host(text: str) -> dict[str, int]:
    """Host -> its OSDs that are up, from `ceph osd tree --format json`."""
    nodes = load_json(text, "ceph osd tree").get("nodes", [])
    by_id = {n["id"]: n for n in nodes}
    return {
        n["name"]: sum(by_id.get(c, {}).get("status") == "up" for c in n.get("children", []))
        for n in nodes
        if n.get("type") == "host"
    }


def pools(text: str) -> dict[str, tuple[int, int]]:
    return {
        p["pool_name"]: (int(p["size"]), int(p["min_size"]))
        for p in load_json(text, "ceph osd pool ls detail")
    }


def storages(text: str) -> dict[str, dict[str, Any]]:
    return {s["storage"]: s for s in load_json(text, "pvesh get /storage")}


@dataclass(frozen=True)
class Health:
    status: str
    checks: tuple[str, ...]


def health(text: str) -> Health:
    data = load_json(text, "ceph health")
    checks = tuple(
        f"{name}: {check.get('summary', {}).get('message', '')}"
        for name, check in sorted((data.get("checks") or {}).items())
    )
    return Health(str(data.get("status", "")), checks)


@dataclass(frozen=True)
class Guest:
    vmid: int
    node: str
    kind: str
    status: str
    name: str


def guests(text: str) -> dict[int, Guest]:
    return {
        int(g["vmid"]): Guest(
            int(g["vmid"]),
            g.get("node", ""),
            g.get("type", ""),
            g.get("status", ""),
            g.get("name", ""),
        )
        for g in load_json(text, "pvesh get /cluster/resources")
    }
