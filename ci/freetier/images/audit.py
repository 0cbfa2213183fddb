"""The hardening audit of a built root filesystem: freetier's own checks (each passed or
failed, all of them run), the score passed/total, and optionally Lynis's hardening index.

The checks read files the way the services will: sshd's first-value-wins with its Include,
systemd-sysctl's directory precedence, cloud-init's merge of cloud.cfg.d, systemd's .wants
links. They do not trust the recipe: a setting counts only if it is in effect.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from freetier.command import Command, run

# Expected kernel settings (also checked live by the boot test).
SYSCTL: dict[str, str] = {
    "kernel.kptr_restrict": "2",
    "kernel.dmesg_restrict": "1",
    "kernel.yama.ptrace_scope": "1",
    "kernel.unprivileged_bpf_disabled": "1",
    "kernel.randomize_va_space": "2",
    "net.core.bpf_jit_harden": "2",
    "fs.protected_hardlinks": "1",
    "fs.protected_symlinks": "1",
    "fs.suid_dumpable": "0",
    "net.ipv4.tcp_syncookies": "1",
    "net.ipv4.conf.all.rp_filter": "1",
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.all.accept_source_route": "0",
    "net.ipv4.conf.all.log_martians": "1",
    "net.ipv6.conf.all.accept_redirects": "0",
}
# sshd keyword (lower case) -> required effective value.
SSHD: dict[str, str] = {
    "passwordauthentication": "no",
    "permitrootlogin": "no",
    "kbdinteractiveauthentication": "no",
    "permitemptypasswords": "no",
}
# sshd's compiled-in defaults for the keywords above (OpenSSH 9.x).
SSHD_DEFAULTS: dict[str, str] = {
    "passwordauthentication": "yes",
    "permitrootlogin": "prohibit-password",
    "kbdinteractiveauthentication": "yes",
    "permitemptypasswords": "no",
}
# Services a cloud VM does not need; a recipe may allow some (audit.allow_services).
UNNEEDED_SERVICES: tuple[str, ...] = (
    "avahi-daemon",
    "cups",
    "cups-browsed",
    "bluetooth",
    "ModemManager",
    "wpa_supplicant",
    "rpcbind",
    "nfs-server",
    "smbd",
    "nmbd",
    "inetd",
    "xinetd",
    "telnet",
    "vsftpd",
    "snmpd",
    "rsync",
    "apache2",
    "nginx",
    "exim4",
    "postfix",
    "rsh",
    "tftpd-hpa",
)
REQUIRED_SERVICES: tuple[str, ...] = ("ssh", "nftables", "auditd", "unattended-upgrades")
DATASOURCES = ["Oracle", "NoCloud", "None"]
TAILSCALE_PORT = 41641


@dataclass(frozen=True)
class CheckResult:
    id: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class AuditReport:
    checks: tuple[CheckResult, ...]
    lynis_index: int | None = None
    lynis_note: str = ""

    @property
    def passed(self) -> int:
        return sum(c.ok for c in self.checks)

    @property
    def total(self) -> int:
        return len(self.checks)

    @property
    def score(self) -> float:
        """Percentage of checks passed (100 when there are none)."""
        return 100.0 * self.passed / self.total if self.total else 100.0

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def summary(self) -> str:
        lynis = (
            f", Lynis hardening index {self.lynis_index}"
            if self.lynis_index is not None
            else (f", Lynis: {self.lynis_note}" if self.lynis_note else "")
        )
        return f"audit score {self.passed}/{self.total} ({self.score:.0f}%){lynis}"

    def to_json(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "total": self.total,
            "score": round(self.score, 1),
            "lynis_index": self.lynis_index,
            "lynis_note": self.lynis_note,
            "checks": [{"id": c.id, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


def render_audit(report: AuditReport) -> str:
    lines = [f"{'ok ' if c.ok else 'FAIL'} {c.id}: {c.detail}" for c in report.checks]
    return "\n".join([*lines, report.summary()]) + "\n"


def audit_rootfs(
    root: Path,
    *,
    admin_cidrs: Sequence[str],
    allow_services: Iterable[str] = (),
    run_nft: bool = False,
) -> AuditReport:
    """Every check on the root filesystem at `root`; none stops the others. With `run_nft`
    the image's own nft also parses /etc/nftables.conf (under chroot: only where the
    image's binaries run natively)."""
    enabled = enabled_units(root)
    checks: list[CheckResult] = []
    checks += check_sshd(sshd_effective(root))
    checks += check_sysctl(sysctl_effective(root))
    checks += check_nftables(_read(root / "etc/nftables.conf"), admin_cidrs)
    if run_nft and (syntax := check_nftables_syntax(root)) is not None:
        checks.append(syntax)
    checks += check_services(enabled, allow_services)
    checks.append(check_unattended_upgrades(root, enabled))
    checks += check_sudo(root)
    checks += check_cloud_init(cloud_config(root))
    checks.append(check_no_host_keys(root))
    checks.append(check_root_locked(_read(root / "etc/shadow")))
    return AuditReport(tuple(checks))


# ---- sshd ----------------------------------------------------------------------------


def sshd_effective(root: Path) -> dict[str, str]:
    """sshd's first-value-wins reading of /etc/ssh/sshd_config and what it Includes
    (relative to `root`); stops at the first Match block, as global settings do."""
    values: dict[str, str] = {}
    _sshd_read(root, root / "etc/ssh/sshd_config", values, depth=0)
    return values


def _sshd_read(root: Path, path: Path, values: dict[str, str], depth: int) -> bool:
    """Returns False once a Match block starts (nothing global follows)."""
    if depth > 8:
        return True
    for line in _read(path).splitlines():
        words = line.split("#", 1)[0].replace("=", " ", 1).split()
        if not words:
            continue
        key, args = words[0].lower(), words[1:]
        if key == "match":
            return False
        if key == "include":
            for pattern in args:
                full = pattern if pattern.startswith("/") else f"/etc/ssh/{pattern}"
                for inc in sorted(root.glob(full.lstrip("/"))):
                    if not _sshd_read(root, inc, values, depth + 1):
                        return False
            continue
        if args:
            values.setdefault(key, " ".join(args).lower())
    return True


def check_sshd(effective: Mapping[str, str]) -> list[CheckResult]:
    out = []
    for key, want in SSHD.items():
        got = effective.get(key, SSHD_DEFAULTS[key])
        source = "" if key in effective else " (sshd default)"
        out.append(CheckResult(f"sshd.{key}", got == want, f"{got}{source}, want {want}"))
    return out


# ---- sysctl --------------------------------------------------------------------------

_SYSCTL_DIRS = (
    "etc/sysctl.d",
    "run/sysctl.d",
    "usr/local/lib/sysctl.d",
    "usr/lib/sysctl.d",
    "lib/sysctl.d",
)


def sysctl_effective(root: Path) -> dict[str, str]:
    """systemd-sysctl: one file per name (the first directory wins), applied in name
    order, later values overriding earlier ones."""
    chosen: dict[str, Path] = {}
    for folder in _SYSCTL_DIRS:
        for path in sorted((root / folder).glob("*.conf")):
            chosen.setdefault(path.name, path)
    values: dict[str, str] = {}
    for name in sorted(chosen):
        for line in _read(chosen[name]).splitlines():
            line = line.strip()
            if not line or line[0] in "#;" or "=" not in line:
                continue
            key, value = line.split("=", 1)
            key = key.strip().lstrip("-").replace("/", ".")
            values[key] = " ".join(value.split())
    return values


def check_sysctl(effective: Mapping[str, str]) -> list[CheckResult]:
    return [
        CheckResult(
            f"sysctl.{key}",
            effective.get(key) == want,
            f"{effective.get(key, 'unset (kernel default)')}, want {want}",
        )
        for key, want in SYSCTL.items()
    ]


# ---- nftables ------------------------------------------------------------------------


def _blocks(text: str, keyword: str) -> dict[str, str]:
    """Bodies of `keyword NAME { ... }` blocks (braces balanced), by name."""
    out: dict[str, str] = {}
    for match in re.finditer(rf"\b{keyword}\s+([A-Za-z0-9_-]+)\s*\{{", text):
        depth, i = 1, match.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        out[match.group(1)] = text[match.end() : i - 1]
    return out


def check_nftables(conf: str, admin_cidrs: Sequence[str]) -> list[CheckResult]:
    """The ruleset in /etc/nftables.conf (loaded by nftables.service): an input chain
    with policy drop that admits SSH from each admin CIDR, ICMP and Tailscale."""
    text = "\n".join(line.split("#", 1)[0] for line in conf.splitlines())
    chains = _blocks(text, "chain")
    sets = _blocks(text, "set")
    inputs = [body for body in chains.values() if re.search(r"\bhook\s+input\b", body)]
    body = inputs[0] if inputs else ""
    rules = [" ".join(r.split()) for r in re.split(r"[\n;]", body)]
    policy = re.search(r"\bpolicy\s+(\w+)", body)
    out = [
        CheckResult(
            "nftables.input_policy_drop",
            policy is not None and policy.group(1) == "drop",
            f"input chain policy {policy.group(1) if policy else 'missing'}"
            if inputs
            else "no chain with hook input in /etc/nftables.conf",
        )
    ]
    ssh_rules = [r for r in rules if re.search(r"tcp dport (22|ssh)\b.*\baccept$", r)]
    admitted: set[str] = set()
    for rule in ssh_rules:
        for ref in re.findall(r"@([A-Za-z0-9_-]+)", rule):
            admitted |= set(_set_elements(sets.get(ref, "")))
        inline = re.search(r"ip saddr (\{[^}]*\}|\S+)", rule)
        if inline and not inline.group(1).startswith("@"):
            admitted |= set(_elements(inline.group(1)))
    missing = [
        c for c in admin_cidrs if c not in admitted and c.removesuffix("/32") not in admitted
    ]
    open_ssh = [r for r in ssh_rules if "saddr" not in r]
    out.append(
        CheckResult(
            "nftables.ssh_admin_only",
            bool(ssh_rules) and not missing and not open_ssh,
            "SSH open to any source"
            if open_ssh
            else (
                f"admin CIDRs not admitted: {', '.join(missing)}"
                if missing or not ssh_rules
                else f"SSH from {', '.join(sorted(admitted))}"
            ),
        )
    )
    icmp = any(re.search(r"\bicmp\b", r) and r.endswith("accept") for r in rules)
    out.append(CheckResult("nftables.icmp", icmp, "ICMP accepted" if icmp else "ICMP dropped"))
    wg = any(f"udp dport {TAILSCALE_PORT}" in r and r.endswith("accept") for r in rules)
    ts = any('iifname "tailscale0"' in r and r.endswith("accept") for r in rules)
    out.append(
        CheckResult(
            "nftables.tailscale",
            wg and ts,
            f"udp/{TAILSCALE_PORT} {'accepted' if wg else 'dropped'}, "
            f"tailscale0 {'accepted' if ts else 'dropped'}",
        )
    )
    return out


# nft needs the kernel (CAP_NET_ADMIN, nf_tables) even to check: without them, no verdict.
_NFT_CANNOT_ASK = ("Operation not permitted", "Protocol not supported", "cache initialization")


def check_nftables_syntax(root: Path) -> CheckResult | None:
    """`nft --check` (parse and validate, apply nothing) of the image's ruleset, with the
    image's nft and its /etc/protocols and /etc/services. None when this host's kernel
    cannot be asked (no CAP_NET_ADMIN or no nf_tables): the check is then not counted."""
    argv = ("chroot", str(root), "nft", "--check", "--file", "/etc/nftables.conf")
    done = run(Command(argv, timeout=120, ok_codes=frozenset(range(256))))
    if done.returncode and any(text in done.stderr for text in _NFT_CANNOT_ASK):
        return None
    errors = [ln.strip() for ln in done.stderr.splitlines() if "Error" in ln]
    detail = "nft --check accepts /etc/nftables.conf"
    if done.returncode:
        detail = errors[0] if errors else f"nft --check: exit code {done.returncode}"
    return CheckResult("nftables.syntax", done.returncode == 0, detail)


def _set_elements(body: str) -> list[str]:
    match = re.search(r"elements\s*=\s*(\{[^}]*\})", body)
    return _elements(match.group(1)) if match else []


def _elements(text: str) -> list[str]:
    return [e.strip() for e in text.strip("{} ").split(",") if e.strip()]


# ---- services, unattended-upgrades, sudo ---------------------------------------------


def enabled_units(root: Path) -> dict[str, str]:
    """Unit name (without suffix) -> full name, for every unit enabled through a
    .wants/.requires link under /etc/systemd/system and not masked."""
    base = root / "etc/systemd/system"
    masked = {p.name for p in base.glob("*") if p.is_symlink() and str(p.readlink()) == "/dev/null"}
    out: dict[str, str] = {}
    for link in sorted(base.glob("*.wants/*")) + sorted(base.glob("*.requires/*")):
        if link.name in masked:
            continue
        stem = link.name.rsplit(".", 1)[0].split("@", 1)[0]
        out.setdefault(stem, link.name)
    return out


def check_services(enabled: Mapping[str, str], allow: Iterable[str]) -> list[CheckResult]:
    allowed = set(allow)
    unneeded = sorted(enabled[s] for s in UNNEEDED_SERVICES if s in enabled and s not in allowed)
    missing = [s for s in REQUIRED_SERVICES if s not in enabled]
    return [
        CheckResult(
            "services.required_enabled",
            not missing,
            f"not enabled: {', '.join(missing)}"
            if missing
            else f"enabled: {', '.join(REQUIRED_SERVICES)}",
        ),
        CheckResult(
            "services.no_unneeded",
            not unneeded,
            f"enabled but not needed: {', '.join(unneeded)}"
            if unneeded
            else f"{len(enabled)} enabled units, none on the unneeded list",
        ),
    ]


def _apt_conf_value(text: str, key: str) -> str | None:
    match = re.search(rf'^\s*{re.escape(key)}\s+"([^"]*)"\s*;', text, re.MULTILINE)
    return match.group(1) if match else None


def check_unattended_upgrades(root: Path, enabled: Mapping[str, str]) -> CheckResult:
    conf_dir = root / "etc/apt/apt.conf.d"
    files = sorted(conf_dir.glob("*")) if conf_dir.is_dir() else []
    value: str | None = None
    for path in files:  # apt reads them in name order; the last setting wins
        value = _apt_conf_value(_read(path), "APT::Periodic::Unattended-Upgrade") or value
    security = any("Debian-Security" in _read(p) for p in files)
    problems = []
    if not (root / "usr/bin/unattended-upgrade").exists():
        problems.append("unattended-upgrades not installed")
    if value not in {"1", "true", "always"}:
        problems.append(f"APT::Periodic::Unattended-Upgrade is {value or 'unset'}")
    if not security:
        problems.append("no Debian-Security origin")
    if "apt-daily-upgrade" not in enabled:
        problems.append("apt-daily-upgrade.timer not enabled")
    return CheckResult(
        "unattended_upgrades.security",
        not problems,
        "; ".join(problems) or "daily security upgrades enabled",
    )


def check_sudo(root: Path) -> list[CheckResult]:
    files = [root / "etc/sudoers", *sorted((root / "etc/sudoers.d").glob("*"))]
    nopasswd = [
        f"/{p.relative_to(root)}"
        for p in files
        if p.is_file()
        and "~" not in p.name
        and "." not in p.name  # sudo skips names with '.' or ending in '~'
        and any("NOPASSWD" in line.split("#", 1)[0] for line in _read(p).splitlines())
    ]
    user = cloud_config(root).get("system_info", {}).get("default_user", {})
    rules = user.get("sudo") if isinstance(user, dict) else None
    rules = [rules] if isinstance(rules, str) else (rules or [])
    cloud_nopasswd = any("NOPASSWD" in str(r) for r in rules)
    return [
        CheckResult(
            "sudo.no_nopasswd",
            not nopasswd and not cloud_nopasswd,
            "NOPASSWD in "
            + ", ".join(nopasswd + (["cloud-init default_user"] if cloud_nopasswd else []))
            if nopasswd or cloud_nopasswd
            else "every sudo rule asks for authentication",
        )
    ]


# ---- cloud-init ----------------------------------------------------------------------


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def cloud_config(root: Path) -> dict[str, Any]:
    """/etc/cloud/cloud.cfg merged with cloud.cfg.d/*.cfg in name order (later wins)."""
    merged: dict[str, Any] = {}
    paths = [root / "etc/cloud/cloud.cfg", *sorted((root / "etc/cloud/cloud.cfg.d").glob("*.cfg"))]
    for path in paths:
        try:
            data = yaml.safe_load(_read(path))
        except yaml.YAMLError:
            continue
        if isinstance(data, dict):
            merged = _merge(merged, data)
    return merged


def check_cloud_init(cfg: Mapping[str, Any]) -> list[CheckResult]:
    sources = cfg.get("datasource_list")
    growpart = cfg.get("growpart", {}) if isinstance(cfg.get("growpart"), dict) else {}
    grows = (
        growpart.get("mode", "auto") not in {"off", False}
        and cfg.get("resize_rootfs", True) is not False
    )
    return [
        CheckResult(
            "cloud_init.datasource",
            sources == DATASOURCES,
            f"datasource_list {sources}, want {DATASOURCES}",
        ),
        CheckResult(
            "cloud_init.growpart",
            bool(grows),
            f"growpart mode {growpart.get('mode', 'auto')}, "
            f"resize_rootfs {cfg.get('resize_rootfs', True)}",
        ),
        CheckResult(
            "cloud_init.no_password_ssh",
            cfg.get("ssh_pwauth") is False,
            f"ssh_pwauth {cfg.get('ssh_pwauth', 'unset')}",
        ),
    ]


# ---- image hygiene -------------------------------------------------------------------


def check_no_host_keys(root: Path) -> CheckResult:
    keys = sorted(p.name for p in (root / "etc/ssh").glob("ssh_host_*_key"))
    return CheckResult(
        "image.no_ssh_host_keys",
        not keys,
        f"baked-in host keys: {', '.join(keys)}" if keys else "host keys are made on first boot",
    )


def check_root_locked(shadow: str) -> CheckResult:
    for line in shadow.splitlines():
        fields = line.split(":")
        if fields[0] == "root" and len(fields) > 1:
            locked = fields[1] == "*" or fields[1].startswith("!")
            return CheckResult(
                "image.root_locked",
                locked,
                "root password locked" if locked else "root has a password",
            )
    return CheckResult("image.root_locked", False, "no root entry in /etc/shadow")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


# ---- Lynis ---------------------------------------------------------------------------

LYNIS_FILES = (
    (Path("/usr/share/lynis"), ""),
    (Path("/usr/sbin/lynis"), "lynis.sh"),
    (Path("/etc/lynis/default.prf"), "default.prf"),
    (Path("/etc/lynis/plugins"), "plugins"),
)
LYNIS_DIR = "tmp/freetier-lynis"  # inside the root filesystem, removed afterwards


def run_lynis(root: Path, *, timeout: float = 3600) -> tuple[int | None, str]:
    """Debian's Lynis, copied into the root filesystem and run there under chroot (the
    target's own shell: qemu-user for a foreign architecture). Returns (hardening index,
    note); a missing Lynis is a note, not an error."""
    if not Path("/usr/sbin/lynis").is_file():
        return None, "not run (install the Debian package lynis)"
    work = root / LYNIS_DIR
    try:
        for src, rel in LYNIS_FILES:
            dest = work / rel if rel else work
            if src.is_dir():
                shutil.copytree(src, dest, dirs_exist_ok=True)
            elif src.is_file():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
        inside = f"/{LYNIS_DIR}"
        script = (
            f"cd {inside} && sh ./lynis.sh audit system --quick --no-colors --no-log "
            f"--plugin-dir {inside}/plugins --report-file {inside}/report.dat"
        )
        done = run(
            Command(
                ("chroot", str(root), "sh", "-c", script),
                timeout=timeout,
                ok_codes=frozenset(range(256)),
            )
        )
        index = parse_lynis_report(_read(work / "report.dat"))
        if index is None:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return None, f"no hardening index (exit code {done.returncode}: {tail[0]})"
        return index, ""
    finally:
        shutil.rmtree(work, ignore_errors=True)


def parse_lynis_report(text: str) -> int | None:
    """hardening_index from lynis-report.dat."""
    match = re.search(r"^hardening_index=(\d+)$", text, re.MULTILINE)
    return int(match.group(1)) if match else None
