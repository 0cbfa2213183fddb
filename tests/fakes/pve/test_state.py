"""The simulator's rules, each checked directly on the shared state."""

from __future__ import annotations

import pytest

from tests.fakes.pve.server import make_hosts
from tests.fakes.pve.state import Cluster, Guest, Refused


@pytest.fixture
def cluster() -> Cluster:
    return Cluster(make_hosts(4))


def _join(cluster: Cluster, name: str) -> None:
    first = cluster.hosts["pve-1"]
    first.root_password = "pw"
    cluster.join(cluster.hosts[name], first.address, first.fingerprint, "pw")


def test_a_join_before_create_fails(cluster: Cluster) -> None:
    with pytest.raises(Refused, match="pve-1 is not part of a cluster"):
        _join(cluster, "pve-2")


def test_a_join_needs_the_peer_password_and_fingerprint(cluster: Cluster) -> None:
    first = cluster.hosts["pve-1"]
    cluster.create(first, "c")
    with pytest.raises(Refused, match="401"):
        cluster.join(cluster.hosts["pve-2"], first.address, first.fingerprint, "pw")
    first.root_password = "pw"
    with pytest.raises(Refused, match="not verified"):
        cluster.join(cluster.hosts["pve-2"], first.address, "AA:BB", "pw")


def test_quorum_is_a_majority_of_votes_with_the_qdevice_counted(cluster: Cluster) -> None:
    cluster.create(cluster.hosts["pve-1"], "c")
    _join(cluster, "pve-2")
    assert cluster.votes() == (2, 2) and cluster.quorate()
    cluster.hosts["pve-2"].reachable = False
    assert cluster.votes() == (1, 2) and not cluster.quorate()  # 1 of 2 is no majority
    with pytest.raises(Refused, match="no quorum"):
        _join(cluster, "pve-3")  # a join needs a quorate target
    cluster.qdevice = "10.0.0.9"
    assert cluster.votes() == (2, 3) and cluster.quorate()


def test_osd_create_refuses_a_disk_with_a_partition_or_filesystem(cluster: Cluster) -> None:
    host = cluster.hosts["pve-1"]
    cluster.create(host, "c")
    cluster.ceph_network = "10.0.1.0/24"
    host.mon = True
    with pytest.raises(Refused, match="device '/dev/sda' is already in use"):
        cluster.osd_create(host, "/dev/sda")  # partitions
    host.disks["/dev/sdb"].fstype = "ext4"
    with pytest.raises(Refused, match="device '/dev/sdb' is already in use"):
        cluster.osd_create(host, "/dev/sdb")


def test_health_ok_needs_osds_on_size_distinct_hosts(cluster: Cluster) -> None:
    for name in ("pve-1", "pve-2"):
        host = cluster.hosts[name]
        host.mon = host.mgr = True
        host.osds = {0: "/dev/sdb", 1: "/dev/sdc"} if name == "pve-1" else {}
    cluster.pools["p"] = (2, 1)
    assert cluster.health()[0] == "HEALTH_WARN"  # two OSDs, one host
    cluster.hosts["pve-2"].osds = {2: "/dev/sdb"}
    assert cluster.health()[0] == "HEALTH_OK"


def test_migrate_needs_shared_storage_and_an_online_target(cluster: Cluster) -> None:
    first = cluster.hosts["pve-1"]
    cluster.create(first, "c")
    _join(cluster, "pve-2")
    cluster.storages["rbd"] = {"storage": "rbd", "type": "rbd", "shared": 1}
    cluster.guests[1] = Guest(1, "pve-1", "qemu", "a", "local")
    with pytest.raises(Refused, match="can't migrate local disk"):
        cluster.migrate(first, 1, "pve-2")
    cluster.guests[1].storage = "rbd"
    cluster.hosts["pve-2"].reachable = False
    with pytest.raises(Refused, match="target node 'pve-2' is not online"):
        cluster.migrate(first, 1, "pve-2")
    cluster.hosts["pve-2"].reachable = True
    cluster.migrate(first, 1, "pve-2")
    assert cluster.guests[1].node == "pve-2"
