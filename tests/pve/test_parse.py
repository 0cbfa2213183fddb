"""The parsers on output shaped as the tools' documentation shows it."""

from __future__ import annotations

from freetier.pve import parse

# The votequorum block of `pvecm status` with a QDevice, as pve-docs pvecm.adoc shows it.
QDEVICE_STATUS = """\
Quorum information
~~~~~~~~~~~~~~~~~~
Nodes:            2
Quorate:          Yes

Votequorum information
~~~~~~~~~~~~~~~~~~~~~
Expected votes:   3
Highest expected: 3
Total votes:      3
Quorum:           2
Flags:            Quorate Qdevice
"""


def test_quorum_reads_votes_and_the_qdevice_flag() -> None:
    got = parse.quorum(QDEVICE_STATUS)
    assert (got.quorate, got.expected, got.total, got.quorum, got.nodes) == (True, 3, 3, 2, 2)
    assert got.qdevice
    lost = parse.quorum(QDEVICE_STATUS.replace("Yes", "No").replace("Quorate Qdevice", ""))
    assert not lost.quorate and not lost.qdevice


def test_cluster_status_outside_and_inside_a_cluster() -> None:
    alone = parse.cluster_status(
        '[{"type":"node","name":"pve-1","id":"node/pve-1","local":1,"online":1,"nodeid":0}]'
    )
    assert (alone.name, alone.local, alone.members) == (None, "pve-1", {})
    inside = parse.cluster_status(
        '[{"type":"cluster","name":"c","quorate":1,"nodes":2},'
        '{"type":"node","name":"pve-1","local":1,"online":1},'
        '{"type":"node","name":"pve-2","local":0,"online":0}]'
    )
    assert (inside.name, inside.quorate, inside.members) == (
        "c",
        True,
        {"pve-1": True, "pve-2": False},
    )


def test_a_disk_with_partitions_or_a_signature_holds_data() -> None:
    disks = parse.disks(
        '{"blockdevices":[{"name":"/dev/sda","path":"/dev/sda","type":"disk","fstype":null,'
        '"children":[{"name":"/dev/sda1","path":"/dev/sda1","type":"part"}]},'
        '{"name":"/dev/sdb","path":"/dev/sdb","type":"disk","fstype":"xfs"},'
        '{"name":"/dev/sdc","path":"/dev/sdc","type":"disk","fstype":null}]}'
    )
    assert disks["/dev/sda"].holds_data() == "has partitions or holders: /dev/sda1"
    assert disks["/dev/sdb"].holds_data() == "holds a xfs signature"
    assert disks["/dev/sdc"].holds_data() is None
