"""`boot_test`: boot a built qcow2 under qemu-system with Debian's UEFI firmware and a NoCloud
seed holding a fresh SSH key, wait for SSH on a forwarded 127.0.0.1 port, check the
hardening from inside (sshd -T, sysctl, nft -j, systemctl, sudo), power off.

QEMU's user network reaches the guest from 10.0.2.2, which is not an admin CIDR: the seed's
bootcmd adds that one address to the firewall's admin set (table inet filter, set admin_v4),
the way an operator admits an address, and the checks still require every stack CIDR there.
sudo has no passwords: it is checked twice, refused without an agent and granted through the
forwarded agent holding the test key (pam_ssh_agent_auth).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shlex
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from freetier.command import Command, Completed, run
from freetier.errors import FreetierError, ToolError
from freetier.images.audit import SSHD, SYSCTL, AuditReport, CheckResult
from freetier.images.build import ANY_CODE, check_tools, host_arch
from freetier.images.recipe import ArchInfo, arch_info

USER = "debian"  # the cloud-init default user of the base recipe
GUEST_GATEWAY = "10.0.2.2"  # where QEMU's user network forwards host connections from
GROW_BYTES = 2 * 1024**3  # the overlay is this much bigger: growpart must use it
ACTIVE_UNITS = ("ssh", "nftables", "auditd", "systemd-networkd")
ENABLED_UNITS = ("unattended-upgrades", "apt-daily-upgrade.timer")


@dataclass(frozen=True)
class Firmware:
    code: Path
    vars: Path
    package: str


FIRMWARE: dict[str, Firmware] = {
    "amd64": Firmware(
        Path("/usr/share/OVMF/OVMF_CODE_4M.fd"), Path("/usr/share/OVMF/OVMF_VARS_4M.fd"), "ovmf"
    ),
    "arm64": Firmware(
        Path("/usr/share/AAVMF/AAVMF_CODE.fd"),
        Path("/usr/share/AAVMF/AAVMF_VARS.fd"),
        "qemu-efi-aarch64",
    ),
}
QEMU_SYSTEM: dict[str, tuple[str, str]] = {
    "amd64": ("qemu-system-x86_64", "qemu-system-x86"),
    "arm64": ("qemu-system-aarch64", "qemu-system-arm"),
}
BOOT_TOOLS: dict[str, str] = {
    "qemu-img": "qemu-utils",
    "mkfs.fat": "dosfstools",
    "mcopy": "mtools",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "ssh-agent": "openssh-client",
    "ssh-add": "openssh-client",
}


@dataclass(frozen=True)
class VmSpec:
    info: ArchInfo
    disk: Path
    seed: Path
    firmware_code: Path
    firmware_vars: Path
    port: int
    kvm: bool
    console_log: Path
    pidfile: Path
    memory_mb: int = 1024
    cpus: int = 2


def qemu_argv(spec: VmSpec) -> tuple[str, ...]:
    accel = "kvm" if spec.kvm else "tcg"
    machine = "q35" if spec.info.name == "amd64" else "virt"
    return (
        QEMU_SYSTEM[spec.info.name][0],
        "-machine", f"{machine},accel={accel}",
        "-cpu", "host" if spec.kvm else "max",
        "-m", str(spec.memory_mb),
        "-smp", str(spec.cpus),
        "-nodefaults",
        "-display", "none",
        "-monitor", "none",
        "-serial", f"file:{spec.console_log}",
        "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={spec.firmware_code}",
        "-drive", f"if=pflash,format=raw,unit=1,file={spec.firmware_vars}",
        "-drive", f"if=virtio,format=qcow2,file={spec.disk}",
        "-drive", f"if=virtio,format=raw,file={spec.seed}",
        "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{spec.port}-:22",
        "-device", "virtio-net-pci,netdev=net0",
        "-device", "virtio-rng-pci",
        "-pidfile", str(spec.pidfile),
        "-no-reboot",
    )  # fmt: skip


def seed_files(public_key: str, hostname: str = "freetier-boot-test") -> dict[str, str]:
    """NoCloud user-data and meta-data: the test key for the default user, and the QEMU
    gateway admitted to the firewall's admin set."""
    user_data = {
        "ssh_authorized_keys": [public_key.strip()],
        "bootcmd": [
            ["nft", "add", "element", "inet", "filter", "admin_v4", f"{{ {GUEST_GATEWAY} }}"]
        ],
    }
    return {
        "user-data": "#cloud-config\n" + json.dumps(user_data, indent=2) + "\n",
        "meta-data": f"instance-id: {hostname}\nlocal-hostname: {hostname}\n",
    }


def ssh_argv(key: Path, port: int, command: str, *, agent: bool = False) -> tuple[str, ...]:
    return (
        "ssh", "-i", str(key), "-p", str(port),
        "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR",
        *(("-A",) if agent else ("-a",)),
        f"{USER}@127.0.0.1", command,
    )  # fmt: skip


def _units(names: Sequence[str], verb: str) -> str:
    return "; ".join(f'printf "%s=%s\\n" {n} "$(systemctl {verb} {n} 2>/dev/null)"' for n in names)


def _sysctl_lines() -> list[str]:
    # /proc/sys, not sysctl(8): procps is not part of the image.
    return [
        f'printf "%s=%s\\n" {k} "$(cat /proc/sys/{k.replace(".", "/")} 2>/dev/null)"'
        for k in SYSCTL
    ]


USER_SCRIPT = "; ".join(
    [
        "echo '== sudo-without-agent'",
        "sudo -n true >/dev/null 2>&1; echo $?",
        "echo '== active'",
        _units(ACTIVE_UNITS, "is-active"),
        "echo '== enabled'",
        _units(ENABLED_UNITS, "is-enabled"),
        "echo '== cloud-init'",
        "cloud-init status 2>/dev/null",
        "cat /run/cloud-init/cloud-id 2>/dev/null; echo",
        "echo '== rootsize'",
        "df -B1 --output=size / | tail -n 1",
        "echo '== failed-units'",
        "systemctl --failed --no-legend --plain 2>/dev/null",
        "echo '== end'",
    ]
)
# Through sudo, authenticated by the forwarded agent (some sysctls are root-only).
ROOT_SCRIPT = "sudo sh -c " + shlex.quote(
    "; ".join(
        [
            "echo '== sysctl'",
            *_sysctl_lines(),
            "echo '== sshd'",
            "sshd -T",
            "echo '== nft'",
            "nft -j list ruleset",
            "echo '== nopasswd'",
            "grep -rhs NOPASSWD /etc/sudoers /etc/sudoers.d/ | grep -v '^#'",
            "echo '== end'",
        ]
    )
)


def parse_sections(text: str) -> dict[str, str]:
    """'== name' lines split the output into named sections."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("== "):
            current = sections.setdefault(line[3:].strip(), [])
        elif current is not None:
            current.append(line)
    return {k: "\n".join(v).strip() for k, v in sections.items()}


def _pairs(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def nft_admin_sources(ruleset: Mapping[str, Any]) -> tuple[str | None, set[str]]:
    """(input chain policy, networks admitted to tcp/22) from `nft -j list ruleset`."""
    policy = None
    sets: dict[str, set[str]] = {}
    rules = []
    for item in ruleset.get("nftables", []):
        if item.get("chain", {}).get("hook") == "input":
            policy = item["chain"].get("policy")
        if "set" in item:
            sets[item["set"]["name"]] = {_net(e) for e in item["set"].get("elem", [])}
        if item.get("rule", {}).get("chain") == "input":
            rules.append(item["rule"].get("expr", []))
    admitted: set[str] = set()
    for expr in rules:
        if _accepts_ssh(expr):
            admitted |= _sources(expr, sets)
    return policy, admitted


def _accepts_ssh(expr: list[Any]) -> bool:
    text = json.dumps(expr)
    return (
        '"dport"' in text and '"accept"' in text and re.search(r'"right": 22\b', text) is not None
    )


def _sources(expr: list[Any], sets: Mapping[str, set[str]]) -> set[str]:
    """What the rule's `ip saddr` admits (a named set, one network), else anywhere."""
    for match in (e.get("match", {}) for e in expr):
        if match.get("left", {}).get("payload", {}).get("field") != "saddr":
            continue
        right = match.get("right")
        if isinstance(right, str) and right.startswith("@"):
            return set(sets.get(right[1:], set()))
        return {_net(right)}
    return {"0.0.0.0/0"}


def _net(elem: object) -> str:
    if isinstance(elem, dict) and "prefix" in elem:
        return str(ipaddress.ip_network(f"{elem['prefix']['addr']}/{elem['prefix']['len']}"))
    if isinstance(elem, dict) and "range" in elem:
        return "-".join(str(x) for x in elem["range"])
    return str(ipaddress.ip_network(str(elem), strict=False))


def evaluate_boot(
    user: Mapping[str, str],
    root: Mapping[str, str] | None,
    *,
    admin_cidrs: Sequence[str],
    min_root_bytes: int,
) -> AuditReport:
    """The checks from inside the running VM (pure: the outputs in, the report out)."""
    checks: list[CheckResult] = []
    refused = user.get("sudo-without-agent", "").strip() not in {"", "0"}
    checks.append(
        CheckResult(
            "live.sudo.requires_auth",
            refused,
            "sudo -n refused without an agent" if refused else "sudo ran without authentication",
        )
    )
    checks.append(
        CheckResult(
            "live.sudo.agent_auth",
            root is not None,
            "sudo granted through the forwarded SSH agent"
            if root is not None
            else "sudo refused the forwarded agent too",
        )
    )
    sysctl = _pairs((root or {}).get("sysctl", ""))
    checks += [
        CheckResult(f"live.sysctl.{k}", sysctl.get(k) == v, f"{sysctl.get(k) or 'unset'}, want {v}")
        for k, v in SYSCTL.items()
    ]
    active, enabled = _pairs(user.get("active", "")), _pairs(user.get("enabled", ""))
    checks += [
        CheckResult(f"live.active.{u}", active.get(u) == "active", active.get(u) or "?")
        for u in ACTIVE_UNITS
    ]
    checks += [
        CheckResult(f"live.enabled.{u}", enabled.get(u) == "enabled", enabled.get(u) or "?")
        for u in ENABLED_UNITS
    ]
    cloud = user.get("cloud-init", "")
    checks.append(
        CheckResult(
            "live.cloud_init.done",
            "status: done" in cloud,
            " / ".join(cloud.splitlines()) or "no output",
        )
    )
    size = int(user.get("rootsize", "0").strip() or 0)
    checks.append(
        CheckResult(
            "live.growpart",
            size > min_root_bytes,
            f"root filesystem {size / 1e9:.2f} GB, grown past {min_root_bytes / 1e9:.2f} GB"
            if size > min_root_bytes
            else f"root filesystem {size / 1e9:.2f} GB was not grown",
        )
    )
    failed = user.get("failed-units", "").strip()
    checks.append(
        CheckResult("live.no_failed_units", not failed, failed.replace("\n", "; ") or "none failed")
    )
    if root is not None:
        sshd = dict(line.split(" ", 1) for line in root.get("sshd", "").splitlines() if " " in line)
        checks += [
            CheckResult(f"live.sshd.{k}", sshd.get(k) == v, f"{sshd.get(k)}, want {v}")
            for k, v in SSHD.items()
        ]
        try:
            policy, admitted = nft_admin_sources(json.loads(root.get("nft", "") or "{}"))
        except (ValueError, KeyError, TypeError) as exc:
            policy, admitted = None, set()
            checks.append(CheckResult("live.nftables.parse", False, str(exc)))
        checks.append(
            CheckResult(
                "live.nftables.input_policy_drop", policy == "drop", f"input policy {policy}"
            )
        )
        wanted = {str(ipaddress.ip_network(c)) for c in admin_cidrs}
        extra = admitted - wanted - {f"{GUEST_GATEWAY}/32"}
        checks.append(
            CheckResult(
                "live.nftables.ssh_admin_only",
                wanted <= admitted and not extra,
                f"SSH admitted from {', '.join(sorted(admitted)) or 'nowhere'}"
                + (f"; not admin CIDRs: {', '.join(sorted(extra))}" if extra else ""),
            )
        )
        nopasswd = root.get("nopasswd", "").strip()
        checks.append(
            CheckResult("live.sudo.no_nopasswd", not nopasswd, nopasswd or "no NOPASSWD rule")
        )
    return AuditReport(tuple(checks))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def can_use_kvm(arch: str) -> bool:
    kvm = Path("/dev/kvm")
    return host_arch() == arch and kvm.exists() and os.access(kvm, os.R_OK | os.W_OK)


class _Vm:
    """qemu-system in a thread (command.run blocks until the VM powers off)."""

    def __init__(self, argv: tuple[str, ...], pidfile: Path, timeout: float) -> None:
        self.pidfile = pidfile
        self.error: BaseException | None = None
        self.done: Completed | None = None
        self._thread = threading.Thread(target=self._run, args=(argv, timeout), daemon=True)

    def _run(self, argv: tuple[str, ...], timeout: float) -> None:
        try:
            self.done = run(Command(argv, timeout=timeout, ok_codes=ANY_CODE))
        except BaseException as exc:  # reported by the main thread
            self.error = exc

    def start(self) -> None:
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, grace: float) -> None:
        self._thread.join(grace)
        if self._thread.is_alive():
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(self.pidfile.read_text().strip()), signal.SIGTERM)
            self._thread.join(30)


Accel = Literal["auto", "kvm", "tcg"]


class VmStopped(FreetierError):
    """The VM exited before SSH answered."""


def keygen_argv(key: Path) -> tuple[str, ...]:
    return ("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "freetier-boot-test",
            "-f", str(key))  # fmt: skip


def overlay_argv(image: Path, overlay: Path, size: int) -> tuple[str, ...]:
    """A copy-on-write overlay (the image stays unchanged), `size` bytes big."""
    return ("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(image.resolve()),
            str(overlay), str(size))  # fmt: skip


def boot_test(
    image: Path,
    arch: str,
    *,
    admin_cidrs: Sequence[str],
    progress: Any,
    deadline_s: float | None = None,
    accel: Accel = "auto",
) -> AuditReport:
    """Boot `image` (unchanged: an overlay takes the writes) and return the live checks.

    accel "auto" tries KVM when /dev/kvm is usable for this architecture and falls back to
    TCG when the VM dies before SSH answers (nested KVM can fail to run the firmware)."""
    info = arch_info(arch)
    qemu, qemu_pkg = QEMU_SYSTEM[info.name]
    check_tools({qemu: qemu_pkg, **BOOT_TOOLS})
    firmware = FIRMWARE[info.name]
    for path in (firmware.code, firmware.vars):
        if not path.is_file():
            raise ToolError(
                f"{path}: no UEFI firmware (install the Debian package {firmware.package})",
                missing=True,
            )
    if accel == "auto":
        attempts = ["kvm", "tcg"] if can_use_kvm(info.name) else ["tcg"]
    else:
        attempts = [accel]
    with tempfile.TemporaryDirectory(prefix="freetier-boot-") as tmp:
        work = Path(tmp)
        key = work / "id_ed25519"
        run(Command(keygen_argv(key)))
        seed = work / "seed.img"
        _make_seed(seed, work, key.with_suffix(".pub").read_text(encoding="utf-8"))
        info_json = json.loads(
            run(Command(("qemu-img", "info", "--output=json", str(image)))).stdout
        )
        virtual = int(info_json["virtual-size"])
        for n, how in enumerate(attempts):
            overlay, nvram = work / f"overlay-{how}.qcow2", work / f"vars-{how}.fd"
            run(Command(overlay_argv(image, overlay, virtual + GROW_BYTES)))
            nvram.write_bytes(firmware.vars.read_bytes())
            spec = VmSpec(info, overlay, seed, firmware.code, nvram, free_port(), how == "kvm",
                          work / f"console-{how}.log", work / f"qemu-{how}.pid")  # fmt: skip
            budget = deadline_s or (300.0 if spec.kvm else 1800.0)
            progress(f"boot-test: {image.name} under {how.upper()}, SSH on 127.0.0.1:{spec.port}")
            vm = _Vm(qemu_argv(spec), spec.pidfile, budget + 120)
            vm.start()
            try:
                return _check_inside(spec, key, vm, time.monotonic() + budget, admin_cidrs,
                                     virtual, progress)  # fmt: skip
            except VmStopped as exc:
                if n + 1 == len(attempts):
                    raise
                progress(f"boot-test: {str(exc).splitlines()[0]}; retrying under TCG")
            finally:
                vm.stop(grace=90)
    raise AssertionError("unreachable")  # pragma: no cover


def _make_seed(seed: Path, work: Path, public_key: str) -> None:
    files = []
    for name, text in seed_files(public_key).items():
        path = work / name
        path.write_text(text, encoding="utf-8")
        files.append(str(path))
    run(Command(("mkfs.fat", "-n", "CIDATA", "-C", str(seed), "2048")))
    run(Command(("mcopy", "-i", str(seed), *files, "::/"), env={"MTOOLS_SKIP_CHECK": "1"}))


def _console_tail(spec: VmSpec) -> str:
    try:
        text = spec.console_log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return "\n".join(lines[-5:])


KVM_SILENCE_S = 45.0  # the firmware writes to the serial console within seconds under KVM


def _wait_ssh(spec: VmSpec, key: Path, vm: _Vm, deadline: float) -> None:
    started = time.monotonic()
    while time.monotonic() < deadline:
        silent = not spec.console_log.exists() or spec.console_log.stat().st_size == 0
        if spec.kvm and silent and time.monotonic() - started > KVM_SILENCE_S:
            # A KVM internal error pauses the VM without ending QEMU.
            vm.stop(grace=0)
            raise VmStopped(f"boot-test: no console output under KVM in {KVM_SILENCE_S:g}s")
        if not vm.alive():
            if vm.error is not None:
                detail = str(vm.error).splitlines()[0]
            else:
                code = vm.done.returncode if vm.done else "?"
                lines = vm.done.stderr.strip().splitlines() if vm.done else []
                detail = lines[0] if lines else f"exit code {code}"
            raise VmStopped(
                f"boot-test: the VM stopped before SSH answered: {detail}\n"
                f"{_console_tail(spec)}".strip()
            )
        done = run(Command(ssh_argv(key, spec.port, "true"), timeout=30, ok_codes=ANY_CODE))
        if done.returncode == 0:
            return
        time.sleep(3)
    raise FreetierError(
        "boot-test: no SSH before the deadline; console:\n" + (_console_tail(spec) or "(empty)")
    )


def _check_inside(
    spec: VmSpec,
    key: Path,
    vm: _Vm,
    deadline: float,
    admin_cidrs: Sequence[str],
    virtual: int,
    progress: Any,
) -> AuditReport:
    _wait_ssh(spec, key, vm, deadline)
    remaining = max(deadline - time.monotonic(), 10)
    progress("boot-test: SSH is up; waiting for cloud-init")
    run(
        Command(
            ssh_argv(key, spec.port, "cloud-init status --wait >/dev/null"),
            timeout=remaining,
            ok_codes=ANY_CODE,
        )
    )
    user = parse_sections(
        run(Command(ssh_argv(key, spec.port, USER_SCRIPT), timeout=120, ok_codes=ANY_CODE)).stdout
    )
    agent = _start_agent(key)
    try:
        done = run(
            Command(
                ssh_argv(key, spec.port, ROOT_SCRIPT, agent=True),
                env=agent,
                timeout=120,
                ok_codes=ANY_CODE,
            )
        )
        root = parse_sections(done.stdout) if "end" in parse_sections(done.stdout) else None
        progress("boot-test: checks done; powering off")
        run(
            Command(
                ssh_argv(key, spec.port, "sudo systemctl poweroff", agent=True),
                env=agent,
                timeout=60,
                ok_codes=ANY_CODE,
            )
        )
    finally:
        _stop_agent(agent)
    return evaluate_boot(user, root, admin_cidrs=admin_cidrs, min_root_bytes=virtual)


def _start_agent(key: Path) -> dict[str, str]:
    out = run(Command(("ssh-agent", "-s"), timeout=30)).stdout
    env = dict(re.findall(r"(SSH_AUTH_SOCK|SSH_AGENT_PID)=([^;]+);", out))
    run(Command(("ssh-add", "-q", str(key)), env=env, timeout=30))
    return env


def _stop_agent(env: Mapping[str, str]) -> None:
    if "SSH_AGENT_PID" in env:
        run(Command(("ssh-agent", "-k"), env=env, timeout=30, ok_codes=ANY_CODE))
