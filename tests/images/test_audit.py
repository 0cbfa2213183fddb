"""The hardening audit on a tiny fake root filesystem: all checks pass on the good tree, and
each case below breaks exactly one setting, which exactly one check reports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from freetier.images.audit import (
    AuditReport,
    CheckResult,
    audit_rootfs,
    parse_lynis_report,
    render_audit,
    sshd_effective,
    sysctl_effective,
)

ADMIN = ["203.0.113.10/32", "198.51.100.0/24"]

NFT = """#!/usr/sbin/nft -f
flush ruleset
table inet filter {
    set admin_v4 {
        type ipv4_addr
        flags interval
        elements = { 203.0.113.10/32, 198.51.100.0/24 }
    }
    chain input {
        type filter hook input priority filter; policy drop;
        ct state established,related accept
        iifname "lo" accept
        iifname "tailscale0" accept  # the tailnet
        meta l4proto { icmp, ipv6-icmp } accept
        udp dport 41641 accept
        ip saddr @admin_v4 tcp dport 22 accept
    }
    chain output { type filter hook output priority filter; policy accept; }
}
"""
CLOUD = """datasource_list: [Oracle, NoCloud, None]
system_info:
  default_user: {name: debian, sudo: false}
ssh_pwauth: false
"""


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _enable(root: Path, unit: str, target: str = "multi-user.target") -> None:
    link = root / "etc/systemd/system" / f"{target}.wants" / unit
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(f"/lib/systemd/system/{unit}")


# The image's own hardening file, not the audit's table: the audit must accept what we ship.
SHIPPED_SYSCTL = (
    Path(__file__).parents[2] / "images/base/files/etc/sysctl.d/90-freetier-hardening.conf"
)


def good_root(root: Path) -> Path:
    _write(
        root,
        "etc/ssh/sshd_config",
        "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\n"
        "PasswordAuthentication yes\nMatch User backup\n  PermitRootLogin yes\n",
    )
    _write(
        root,
        "etc/ssh/sshd_config.d/10-hardening.conf",
        "PermitRootLogin no\nPasswordAuthentication no\nPermitEmptyPasswords no\n",
    )
    _write(root, "usr/lib/sysctl.d/50-default.conf", "net.ipv4.conf.all.rp_filter = 2\n")
    _write(root, "etc/sysctl.d/90-hardening.conf", SHIPPED_SYSCTL.read_text())
    _write(root, "etc/nftables.conf", NFT)
    for unit in (
        "ssh.service",
        "nftables.service",
        "auditd.service",
        "unattended-upgrades.service",
    ):
        _enable(root, unit)
    _enable(root, "apt-daily-upgrade.timer", "timers.target")
    _write(root, "usr/bin/unattended-upgrade", "#!/usr/bin/python3\n")
    _write(root, "etc/apt/apt.conf.d/20auto-upgrades", 'APT::Periodic::Unattended-Upgrade "1";\n')
    _write(
        root,
        "etc/apt/apt.conf.d/50unattended-upgrades",
        'Unattended-Upgrade::Origins-Pattern { "label=Debian-Security"; };\n',
    )
    _write(
        root,
        "etc/sudoers",
        "root ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n# debian ALL=(ALL) NOPASSWD: ALL\n",
    )
    _write(root, "etc/sudoers.d/README", "# a NOPASSWD: example, commented out\n")
    _write(
        root,
        "etc/cloud/cloud.cfg",
        "system_info:\n  default_user: {name: debian, sudo: ['ALL=(ALL) NOPASSWD:ALL']}\n",
    )
    _write(root, "etc/cloud/cloud.cfg.d/90-freetier.cfg", CLOUD)
    _write(root, "etc/shadow", "root:!*:19675:0:99999:7:::\ndebian:!:19675::::::\n")
    _write(root, "etc/ssh/ssh_host_ed25519_key.pub.template", "")
    return root


def _failing(report: AuditReport) -> list[str]:
    return [c.id for c in report.failed]


def test_good_root_passes_everything(tmp_path: Path) -> None:
    report = audit_rootfs(good_root(tmp_path), admin_cidrs=ADMIN)
    assert _failing(report) == []
    assert report.score == 100.0 and report.total == report.passed
    assert report.summary() == f"audit score {report.total}/{report.total} (100%)"
    ids = [c.id for c in report.checks]
    assert len(ids) == len(set(ids)) and report.total >= 30


def test_sshd_first_value_wins_through_include(tmp_path: Path) -> None:
    values = sshd_effective(good_root(tmp_path))
    # the drop-in is included first: its "no" wins over the main file's later "yes";
    # the Match block's settings are not global
    assert values["passwordauthentication"] == "no"
    assert values["permitrootlogin"] == "no"


def test_sysctl_precedence_by_file_name_and_directory(tmp_path: Path) -> None:
    root = good_root(tmp_path)
    # a same-named file in /usr/lib is shadowed by /etc's
    _write(root, "usr/lib/sysctl.d/90-hardening.conf", "kernel.kptr_restrict = 0\n")
    # a later name overrides earlier values
    _write(root, "etc/sysctl.d/99-last.conf", "-kernel/dmesg_restrict=0\n")
    values = sysctl_effective(root)
    assert values["kernel.kptr_restrict"] == "2"
    assert values["kernel.dmesg_restrict"] == "0"
    assert values["net.ipv4.conf.all.rp_filter"] == "1"


Breaker = Callable[[Path], object]
CASES: dict[str, tuple[Breaker, str]] = {
    "ssh-password-dropin-before": (
        lambda r: _write(r, "etc/ssh/sshd_config.d/00-first.conf", "PasswordAuthentication yes\n"),
        "sshd.passwordauthentication",
    ),
    "ssh-root-login-default": (
        lambda r: _write(
            r,
            "etc/ssh/sshd_config.d/10-hardening.conf",
            "PasswordAuthentication no\nPermitEmptyPasswords no\n",
        ),
        "sshd.permitrootlogin",
    ),
    "ssh-kbd-interactive": (
        lambda r: _write(r, "etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\n"),
        "sshd.kbdinteractiveauthentication",
    ),
    "sysctl-overridden-later": (
        lambda r: _write(r, "etc/sysctl.d/99-local.conf", "net.ipv4.conf.all.rp_filter = 0\n"),
        "sysctl.net.ipv4.conf.all.rp_filter",
    ),
    "nft-policy-accept": (
        lambda r: _write(r, "etc/nftables.conf", NFT.replace("policy drop", "policy accept")),
        "nftables.input_policy_drop",
    ),
    "nft-admin-cidr-missing": (
        lambda r: _write(r, "etc/nftables.conf", NFT.replace(", 198.51.100.0/24", "")),
        "nftables.ssh_admin_only",
    ),
    "nft-ssh-open-to-all": (
        lambda r: _write(
            r,
            "etc/nftables.conf",
            NFT.replace(
                "udp dport 41641 accept", "udp dport 41641 accept\n        tcp dport ssh accept"
            ),
        ),
        "nftables.ssh_admin_only",
    ),
    "nft-no-icmp": (
        lambda r: _write(
            r, "etc/nftables.conf", NFT.replace("meta l4proto { icmp, ipv6-icmp } accept", "")
        ),
        "nftables.icmp",
    ),
    "nft-no-tailscale-port": (
        lambda r: _write(r, "etc/nftables.conf", NFT.replace("udp dport 41641 accept", "")),
        "nftables.tailscale",
    ),
    "unneeded-service": (
        lambda r: _enable(r, "avahi-daemon.service"),
        "services.no_unneeded",
    ),
    "auditd-disabled": (
        lambda r: (r / "etc/systemd/system/multi-user.target.wants/auditd.service").unlink(),
        "services.required_enabled",
    ),
    "unattended-upgrades-off": (
        lambda r: _write(
            r, "etc/apt/apt.conf.d/99local", 'APT::Periodic::Unattended-Upgrade "0";\n'
        ),
        "unattended_upgrades.security",
    ),
    "nopasswd-in-sudoers-d": (
        lambda r: _write(r, "etc/sudoers.d/90-cloud-init-users", "debian ALL=(ALL) NOPASSWD:ALL\n"),
        "sudo.no_nopasswd",
    ),
    "nopasswd-cloud-init-user": (
        lambda r: _write(
            r,
            "etc/cloud/cloud.cfg.d/90-freetier.cfg",
            CLOUD.replace("sudo: false", "sudo: ['ALL=(ALL) NOPASSWD:ALL']"),
        ),
        "sudo.no_nopasswd",
    ),
    "datasource-list": (
        lambda r: _write(r, "etc/cloud/cloud.cfg.d/99-later.cfg", "datasource_list: [Ec2]\n"),
        "cloud_init.datasource",
    ),
    "growpart-off": (
        lambda r: _write(r, "etc/cloud/cloud.cfg.d/99-later.cfg", "growpart: {mode: 'off'}\n"),
        "cloud_init.growpart",
    ),
    "ssh-pwauth": (
        lambda r: _write(r, "etc/cloud/cloud.cfg.d/99-later.cfg", "ssh_pwauth: true\n"),
        "cloud_init.no_password_ssh",
    ),
    "host-key-baked-in": (
        lambda r: _write(
            r, "etc/ssh/ssh_host_ed25519_key", "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        ),
        "image.no_ssh_host_keys",
    ),
    "root-password": (
        lambda r: _write(r, "etc/shadow", "root:$y$j9T$abc$def:19675:0:99999:7:::\n"),
        "image.root_locked",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_one_broken_setting_fails_one_check(case: str, tmp_path: Path) -> None:
    breaker, check_id = CASES[case]
    root = good_root(tmp_path)
    breaker(root)
    report = audit_rootfs(root, admin_cidrs=ADMIN)
    assert _failing(report) == [check_id]
    assert report.passed == report.total - 1


def test_allowed_and_masked_services_are_not_flagged(tmp_path: Path) -> None:
    root = good_root(tmp_path)
    _enable(root, "postfix.service")
    assert _failing(audit_rootfs(root, admin_cidrs=ADMIN)) == ["services.no_unneeded"]
    assert _failing(audit_rootfs(root, admin_cidrs=ADMIN, allow_services=["postfix"])) == []
    (root / "etc/systemd/system/postfix.service").symlink_to("/dev/null")  # masked
    assert _failing(audit_rootfs(root, admin_cidrs=ADMIN)) == []


def test_sudo_ignores_files_it_does_not_read(tmp_path: Path) -> None:
    root = good_root(tmp_path)
    _write(root, "etc/sudoers.d/old.dpkg-dist", "ALL ALL=(ALL) NOPASSWD: ALL\n")
    _write(root, "etc/sudoers.d/backup~", "ALL ALL=(ALL) NOPASSWD: ALL\n")
    assert _failing(audit_rootfs(root, admin_cidrs=ADMIN)) == []


def test_empty_root_fails_but_every_check_runs(tmp_path: Path) -> None:
    report = audit_rootfs(tmp_path, admin_cidrs=ADMIN)
    assert report.total == audit_rootfs(good_root(tmp_path / "g"), admin_cidrs=ADMIN).total
    assert report.score < 20
    text = render_audit(report)
    assert "FAIL nftables.input_policy_drop: no chain with hook input" in text
    assert text.endswith(f"{report.summary()}\n")


def test_report_summary_json_and_lynis() -> None:
    report = AuditReport((CheckResult("a", True, "x"), CheckResult("b", False, "y")), 63, "")
    assert report.summary() == "audit score 1/2 (50%), Lynis hardening index 63"
    assert report.to_json()["score"] == 50.0
    assert AuditReport((), None, "not run").summary() == "audit score 0/0 (100%), Lynis: not run"
    assert parse_lynis_report("report_version_major=1\nhardening_index=71\n") == 71
    assert parse_lynis_report("nothing here\n") is None
