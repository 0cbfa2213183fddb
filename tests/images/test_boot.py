"""`images boot-test`: the pure parts (qemu argv, NoCloud seed, parsing what the VM prints,
the verdict), bad input, and one real boot of the built image (slow: run with -m slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from freetier.images.boot import (
    FIRMWARE,
    GUEST_GATEWAY,
    ROOT_SCRIPT,
    USER_SCRIPT,
    VmSpec,
    evaluate_boot,
    nft_admin_sources,
    parse_sections,
    qemu_argv,
    seed_files,
    ssh_argv,
)
from freetier.images.recipe import ARCHES
from tests.conftest import SHIPPED_STACK
from tests.images import build_once, run_images

ADMIN = ["203.0.113.10/32", "198.51.100.0/24"]
# `nft -j list ruleset` of images/base's nftables.conf with two admin CIDRs, after the
# boot test's seed added 10.0.2.2 (captured from nft 1.0.6 in a network namespace).
NFT_JSON = (
    '{"nftables":[{"metainfo":{"version":"1.0.6","release_name":"Lester Gooch #5","json_schem'
    'a_version":1}},{"table":{"family":"inet","name":"filter","handle":1}},{"set":{"family":"'
    'inet","name":"admin_v4","table":"filter","type":"ipv4_addr","handle":4,"flags":["interva'
    'l"],"elem":["10.0.2.2",{"prefix":{"addr":"198.51.100.0","len":24}},"203.0.113.10"]}},{"c'
    'hain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook"'
    ':"input","prio":0,"policy":"drop"}},{"chain":{"family":"inet","table":"filter","name":"f'
    'orward","handle":2,"type":"filter","hook":"forward","prio":0,"policy":"drop"}},{"chain":'
    '{"family":"inet","table":"filter","name":"output","handle":3,"type":"filter","hook":"out'
    'put","prio":0,"policy":"accept"}},{"rule":{"family":"inet","table":"filter","chain":"inp'
    'ut","handle":5,"expr":[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["estab'
    'lished","related"]}},{"accept":null}]}},{"rule":{"family":"inet","table":"filter","chain'
    '":"input","handle":6,"expr":[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":"'
    'invalid"}},{"drop":null}]}},{"rule":{"family":"inet","table":"filter","chain":"input","h'
    'andle":7,"expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"lo"}},{"'
    'accept":null}]}},{"rule":{"family":"inet","table":"filter","chain":"input","handle":8,"e'
    'xpr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"tailscale0"}},{"acc'
    'ept":null}]}},{"rule":{"family":"inet","table":"filter","chain":"input","handle":10,"exp'
    'r":[{"match":{"op":"==","left":{"meta":{"key":"l4proto"}},"right":{"set":["icmp","ipv6-i'
    'cmp"]}}},{"accept":null}]}},{"rule":{"family":"inet","table":"filter","chain":"input","h'
    'andle":11,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"udp","field":"dport'
    '"}},"right":41641}},{"accept":null}]}},{"rule":{"family":"inet","table":"filter","chain"'
    ':"input","handle":12,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"udp","fi'
    'eld":"sport"}},"right":67}},{"match":{"op":"==","left":{"payload":{"protocol":"udp","fie'
    'ld":"dport"}},"right":68}},{"accept":null}]}},{"rule":{"family":"inet","table":"filter",'
    '"chain":"input","handle":13,"expr":[{"match":{"op":"==","left":{"payload":{"protocol":"u'
    'dp","field":"sport"}},"right":547}},{"match":{"op":"==","left":{"payload":{"protocol":"u'
    'dp","field":"dport"}},"right":546}},{"accept":null}]}},{"rule":{"family":"inet","table":'
    '"filter","chain":"input","handle":14,"expr":[{"match":{"op":"==","left":{"payload":{"pro'
    'tocol":"ip","field":"saddr"}},"right":"@admin_v4"}},{"match":{"op":"==","left":{"payload'
    '":{"protocol":"tcp","field":"dport"}},"right":22}},{"accept":null}]}}]}'
)


def _spec(arch: str, kvm: bool, tmp_path: Path) -> VmSpec:
    fw = FIRMWARE[arch]
    return VmSpec(ARCHES[arch], tmp_path / "o.qcow2", tmp_path / "seed.img", fw.code,
                  tmp_path / "vars.fd", 2222, kvm, tmp_path / "console.log",
                  tmp_path / "qemu.pid")  # fmt: skip


def test_qemu_argv_amd64_kvm_and_arm64_tcg(tmp_path: Path) -> None:
    amd = qemu_argv(_spec("amd64", True, tmp_path))
    assert amd[:7] == ("qemu-system-x86_64", "-machine", "q35,accel=kvm", "-cpu", "host",
                       "-m", "1024")  # fmt: skip
    assert f"if=pflash,format=raw,unit=0,readonly=on,file={FIRMWARE['amd64'].code}" in amd
    assert "user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22" in amd
    assert f"if=virtio,format=raw,file={tmp_path / 'seed.img'}" in amd
    arm = qemu_argv(_spec("arm64", False, tmp_path))
    assert arm[:5] == ("qemu-system-aarch64", "-machine", "virt,accel=tcg", "-cpu", "max")
    assert str(FIRMWARE["arm64"].code).endswith("AAVMF/AAVMF_CODE.fd")


def test_seed_gives_the_key_and_admits_the_qemu_gateway() -> None:
    files = seed_files("ssh-ed25519 AAAAtest freetier-boot-test\n")
    user = yaml.safe_load(files["user-data"])
    assert files["user-data"].startswith("#cloud-config\n")
    assert user["ssh_authorized_keys"] == ["ssh-ed25519 AAAAtest freetier-boot-test"]
    assert user["bootcmd"] == [
        ["nft", "add", "element", "inet", "filter", "admin_v4", f"{{ {GUEST_GATEWAY} }}"]
    ]
    assert "instance-id: freetier-boot-test" in files["meta-data"]


def test_ssh_argv_forwards_the_agent_only_when_asked(tmp_path: Path) -> None:
    plain = ssh_argv(tmp_path / "k", 2222, "true")
    assert "-a" in plain and "-A" not in plain
    assert plain[-2:] == ("debian@127.0.0.1", "true")
    assert "-A" in ssh_argv(tmp_path / "k", 2222, "true", agent=True)
    assert ROOT_SCRIPT.startswith("sudo sh -c ")  # no -n: the agent authenticates
    assert "sudo -n true" in USER_SCRIPT  # without an agent it must be refused


def test_nft_json_admitted_sources() -> None:
    policy, admitted = nft_admin_sources(json.loads(NFT_JSON))
    assert policy == "drop"
    assert admitted == {"203.0.113.10/32", "198.51.100.0/24", f"{GUEST_GATEWAY}/32"}


# What a hardened guest prints: the values written out by hand, not taken from the audit.
LIVE_SYSCTL = """kernel.kptr_restrict=2
kernel.dmesg_restrict=1
kernel.yama.ptrace_scope=1
kernel.unprivileged_bpf_disabled=1
kernel.randomize_va_space=2
net.core.bpf_jit_harden=2
fs.protected_hardlinks=1
fs.protected_symlinks=1
fs.suid_dumpable=0
net.ipv4.tcp_syncookies=1
net.ipv4.conf.all.rp_filter=1
net.ipv4.conf.all.accept_redirects=0
net.ipv4.conf.all.send_redirects=0
net.ipv4.conf.all.accept_source_route=0
net.ipv4.conf.all.log_martians=1
net.ipv6.conf.all.accept_redirects=0
"""
LIVE_SSHD = """passwordauthentication no
permitrootlogin no
kbdinteractiveauthentication no
permitemptypasswords no
port 22
"""


def _outputs() -> tuple[dict[str, str], dict[str, str]]:
    user = parse_sections(
        "noise before\n== sudo-without-agent\n1\n"
        "== active\nssh=active\nnftables=active\nauditd=active\nsystemd-networkd=active\n"
        "== enabled\nunattended-upgrades=enabled\napt-daily-upgrade.timer=enabled\n"
        "== cloud-init\nstatus: done\nnocloud\n== rootsize\n6120000000\n== failed-units\n\n"
        "== end\n"
    )
    root = parse_sections(
        "== sysctl\n" + LIVE_SYSCTL + "== sshd\n" + LIVE_SSHD
        + f"== nft\n{NFT_JSON}\n== nopasswd\n== end\n"
    )  # fmt: skip
    return user, root


def test_evaluate_boot_all_good() -> None:
    user, root = _outputs()
    report = evaluate_boot(user, root, admin_cidrs=ADMIN, min_root_bytes=4_294_967_296)
    assert [c.id for c in report.failed] == []
    # 2 user checks, 16 sysctls, 4 services, 2 enabled units, 3 cloud-init/rootsize/failed,
    # 4 sshd settings, 3 root checks (nft policy, admin sources, no NOPASSWD).
    assert report.total == 34


@pytest.mark.parametrize(
    ("edit", "check_id"),
    [
        (("user", "sudo-without-agent", "0"), "live.sudo.requires_auth"),
        (("user", "rootsize", "4000000000"), "live.growpart"),
        (
            (
                "user",
                "active",
                "ssh=active\nnftables=failed\nauditd=active\nsystemd-networkd=active",
            ),
            "live.active.nftables",
        ),
        (("user", "failed-units", "x.service loaded failed failed X"), "live.no_failed_units"),
        (("user", "cloud-init", "status: error"), "live.cloud_init.done"),
        (("root", "nopasswd", "debian ALL=(ALL) NOPASSWD:ALL"), "live.sudo.no_nopasswd"),
        (
            (
                "root",
                "nft",
                NFT_JSON.replace(
                    '"policy":"drop"}},{"chain":{"family":"inet","table":"filter","name":"forward"',
                    '"policy":"accept"}},{"chain":{"family":"inet",'
                    '"table":"filter","name":"forward"',
                ),
            ),
            "live.nftables.input_policy_drop",
        ),
        (
            ("root", "nft", NFT_JSON.replace('"10.0.2.2",', '"10.0.2.2","192.0.2.7",')),
            "live.nftables.ssh_admin_only",
        ),
    ],
    ids=[
        "passwordless-sudo",
        "not-grown",
        "firewall-down",
        "failed-unit",
        "cloud-init-error",
        "nopasswd-rule",
        "input-accept",
        "extra-ssh-source",
    ],
)
def test_evaluate_boot_one_failure_each(edit: tuple[str, str, str], check_id: str) -> None:
    user, root = _outputs()
    which, key, value = edit
    (user if which == "user" else root)[key] = value
    report = evaluate_boot(user, root, admin_cidrs=ADMIN, min_root_bytes=4_294_967_296)
    assert [c.id for c in report.failed] == [check_id]


def test_evaluate_boot_without_sudo_fails_the_root_checks() -> None:
    user, _ = _outputs()
    report = evaluate_boot(user, None, admin_cidrs=ADMIN, min_root_bytes=1)
    failed = [c.id for c in report.failed]
    assert failed[0] == "live.sudo.agent_auth"
    assert all(f.startswith("live.sysctl.") for f in failed[1:])


def test_boot_test_of_a_missing_image_is_one_line(tmp_path: Path) -> None:
    run = run_images(["images", "boot-test", "base", "--arch", "amd64", "--dir", str(tmp_path),
                      "--stack", str(SHIPPED_STACK)])  # fmt: skip
    assert run.code == 2 and len(run.errors) == 1
    assert run.errors[0].startswith(f"freetier: error: {tmp_path / 'base-amd64.qcow2'}: no such")
    bad = run_images(["images", "boot-test", "base", "--arch", "sparc", "--dir", str(tmp_path),
                      "--stack", str(SHIPPED_STACK)])  # fmt: skip
    assert bad.code == 2 and bad.errors == [
        "freetier: error: --arch sparc: unknown architecture (known: amd64, arm64)"
    ]


@pytest.mark.slow
def test_boot_the_built_image_and_check_it_from_inside(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The real thing: OVMF, cloud-init from a NoCloud seed, SSH on 127.0.0.1, sudo through
    the forwarded agent, every check passing, clean power-off. Minutes under TCG."""
    built = build_once(tmp_path_factory)
    run = run_images(["images", "boot-test", "base", "--arch", "amd64", "--dir", str(built.out),
                      "--stack", str(SHIPPED_STACK)])  # fmt: skip
    assert run.code == 0, run.out + run.err
    assert "FAIL" not in run.out
    assert "ok  live.sudo.agent_auth" in run.out and "ok  live.growpart" in run.out
    assert run.out.splitlines()[-1].startswith("audit score ")
