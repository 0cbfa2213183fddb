"""`build_image`: recipe -> mmdebstrap root filesystem -> hardening audit -> GPT disk ->
compressed qcow2 + manifest. Every subprocess goes through freetier.command.run; the argv
builders are pure functions.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from freetier.command import Command, Completed, run
from freetier.errors import ConfigError, FreetierError, RemoteError, ToolError
from freetier.images import disk
from freetier.images.audit import AuditReport, audit_rootfs, run_lynis
from freetier.images.recipe import (
    ArchInfo,
    Hook,
    Recipe,
    ThirdPartyRepo,
    arch_info,
    load_recipe,
    render_template,
    stage_files,
)
from freetier.stack.model import Stack

Progress = Callable[[str], None]
ANY_CODE = frozenset(range(256))
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SECURITY = "http://deb.debian.org/debian-security"
SNAPSHOT = "http://snapshot.debian.org/archive"
MMDEBSTRAP_TIMEOUT = 4 * 3600.0  # a cross-architecture build runs under emulation
# Tool -> the Debian package that brings it (named in the missing-tool error).
BUILD_TOOLS: dict[str, str] = {
    "mmdebstrap": "mmdebstrap",
    "dpkg-query": "dpkg",
    "mkfs.ext4": "e2fsprogs",
    "mkfs.fat": "dosfstools",
    "mcopy": "mtools",
    "mdir": "mtools",
    "sgdisk": "gdisk",
    "qemu-img": "qemu-utils",
    "tar": "tar",
}
HOST_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
BINFMT = Path("/proc/sys/fs/binfmt_misc")

# Runs one recipe hook; when it fails, records the hook's name and exit code for the error.
HOOK_RUNNER = """#!/bin/sh
status=$1 name=$2 hook=$3
shift 3
"$hook" "$@"
rc=$?
if [ "$rc" -ne 0 ]; then printf '%s %s\\n' "$rc" "$name" >"$status"; fi
exit "$rc"
"""


@dataclass(frozen=True)
class BuildResult:
    qcow2: Path
    manifest: Path
    audit: AuditReport
    seconds: float


@dataclass(frozen=True)
class ThirdPartyKey:
    """A third-party signing key as the build used it; unpinned keys are trusted on first
    use over HTTPS, and their sha256 goes to the manifest so the recipe can pin it."""

    repo: str
    url: str
    sha256: str
    pinned: bool


@dataclass(frozen=True)
class ThirdPartySources:
    lines: list[str]
    keys: list[ThirdPartyKey]


@dataclass(frozen=True)
class BuildPlan:
    """Everything mmdebstrap is asked to do: the input of `mmdebstrap_argv`."""

    arch: str
    suite: str
    variant: str
    packages: tuple[str, ...]
    sources: tuple[str, ...]
    hooks: tuple[Hook, ...]
    work: Path
    dpkg_path_exclude: tuple[str, ...] = ()
    dpkg_path_include: tuple[str, ...] = ()
    deb_cache: Path | None = None
    aptopts: tuple[str, ...] = ('APT::Install-Recommends "false"', 'Acquire::Retries "3"')
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def rootfs(self) -> Path:
        return self.work / "rootfs"

    @property
    def staging(self) -> Path:
        return self.work / "files"

    @property
    def runner(self) -> Path:
        return self.work / "run-hook"

    @property
    def hook_status(self) -> Path:
        return self.work / "hook-status"

    @property
    def keyrings(self) -> Path:
        return build_keyrings(self.work)


def build_keyrings(work: Path) -> Path:
    """Third-party signing keys as the build uses them: outside the image."""
    return work / "keyrings"


def image_stem(name: str, arch: str) -> str:
    return f"{name}-{arch}"


def debian_sources(suite: str, snapshot: str | None) -> tuple[str, ...]:
    """One-line apt sources for the build: the live mirror, or snapshot.debian.org pinned
    at `snapshot` (whose Release files are past their Valid-Until by design)."""
    if snapshot:
        opt = "[check-valid-until=no] "
        main, security = f"{SNAPSHOT}/debian/{snapshot}/", f"{SNAPSHOT}/debian-security/{snapshot}/"
    else:
        opt, main, security = "", DEBIAN_MIRROR, DEBIAN_SECURITY
    return (
        f"deb {opt}{main} {suite} main",
        f"deb {opt}{main} {suite}-updates main",
        f"deb {opt}{security} {suite}-security main",
    )


def source_date_epoch(env: Mapping[str, str], snapshot: str | None, now: float) -> int:
    """SOURCE_DATE_EPOCH from the environment, else the snapshot's time, else today 00:00
    UTC (so two builds on the same day from the same mirror state agree)."""
    if env.get("SOURCE_DATE_EPOCH", "").isdigit():
        return int(env["SOURCE_DATE_EPOCH"])
    if snapshot:
        return int(datetime.strptime(snapshot, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp())
    return int(now) // 86400 * 86400


def template_values(
    recipe: Recipe, stack: Stack, info: ArchInfo, ids: disk.DiskIds, suite: str
) -> dict[str, str]:
    """What `${...}` in the recipe's *.tmpl files and FREETIER_* in its hooks can use."""
    cmdline = f"{recipe.kernel_cmdline} console=tty0 console={info.console},115200".strip()
    return {
        "name": recipe.name,
        "arch": info.name,
        "suite": suite,
        "admin_cidrs": ", ".join(stack.network.admin_cidrs),
        "vcn_cidr": stack.network.vcn_cidr,
        "subnet_cidr": stack.network.subnet_cidr,
        "console": info.console,
        "kernel_cmdline": cmdline,
        "root_uuid": ids.root_uuid,
        "esp_uuid": ids.esp_uuid,
        "grub_target": info.grub_target,
        "efi_loader": info.efi_loader,
    }


def hook_env(values: Mapping[str, str]) -> dict[str, str]:
    return {f"FREETIER_{k.upper()}": v for k, v in values.items()}


def _q(path: Path) -> str:
    return shlex.quote(str(path))


def mmdebstrap_argv(plan: BuildPlan) -> tuple[str, ...]:
    """The one mmdebstrap call (root mode: real chroot, real ownership)."""
    argv = [
        "mmdebstrap",
        "--mode=root",
        "--format=directory",
        f"--variant={plan.variant}",
        f"--architectures={plan.arch}",
        *([f"--include={','.join(plan.packages)}"] if plan.packages else []),
        *(f"--aptopt={o}" for o in plan.aptopts),
        *(f"--dpkgopt=path-exclude={p}" for p in plan.dpkg_path_exclude),
        *(f"--dpkgopt=path-include={p}" for p in plan.dpkg_path_include),
    ]
    customize: list[str] = []
    if plan.deb_cache is not None:
        archives = '"$1/var/cache/apt/archives"'
        argv += [
            "--skip=essential/unlink",
            f"--setup-hook=mkdir -p {archives} && find {_q(plan.deb_cache)} -maxdepth 1 "
            f"-name '*.deb' -exec cp -p -t {archives} {{}} +",
        ]
        customize.append(
            f"find {archives} -maxdepth 1 -name '*.deb' -exec cp -p -u -t "
            f"{_q(plan.deb_cache)} {{}} +"
        )
    # mmdebstrap keeps the build's sources as the image's sources.list; a third-party line
    # there names a key that exists only during the build and conflicts with the image's
    # own .sources file for that repository (apt then reads no sources at all).
    if any(f"signed-by={plan.keyrings}/" in line for line in plan.sources):
        drop = shlex.quote(f"\\#signed-by={plan.keyrings}/#d")
        customize.append(f'sed -i {drop} "$1/etc/apt/sources.list"')
    # The recipe's files, rendered; existing folders keep their owners and modes.
    customize.append(
        f'tar -C {_q(plan.staging)} -cf - . | tar -C "$1" --no-overwrite-dir --numeric-owner -xpf -'
    )
    for hook in plan.hooks:
        line = (
            f"{_q(plan.runner)} {_q(plan.hook_status)} {shlex.quote(hook.name)} "
            f'{_q(hook.path)} "$1"'
        )
        if hook.stage == "customize":
            customize.append(line)
        else:
            argv.append(f"--{hook.stage}-hook={line}")
    argv += [f"--customize-hook={c}" for c in customize]
    argv += [plan.suite, str(plan.rootfs), *plan.sources]
    return tuple(argv)


def dpkg_query_argv(rootfs: Path) -> tuple[str, ...]:
    return (
        "dpkg-query",
        f"--admindir={rootfs / 'var/lib/dpkg'}",
        "--show",
        "--showformat=${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}\\n",
    )


def parse_packages(output: str) -> list[dict[str, str]]:
    rows = []
    for line in output.splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[3].startswith("ii"):
            rows.append({"name": parts[0], "version": parts[1], "arch": parts[2]})
    return sorted(rows, key=lambda r: r["name"])


def check_tools(tools: Mapping[str, str], path: str | None = None) -> None:
    """ToolError(missing=True) naming the first absent tool and its Debian package."""
    for tool, package in tools.items():
        if shutil.which(tool, path=path) is None:
            raise ToolError(
                f"{tool}: not found on PATH (install the Debian package {package})", missing=True
            )


def host_arch() -> str:
    return HOST_ARCHES.get(platform.machine().lower(), platform.machine().lower())


def ensure_binfmt(info: ArchInfo, progress: Progress) -> None:
    """Foreign-architecture binaries run through qemu-user-static's binfmt_misc entry:
    mount binfmt_misc and enable the entry when they are not already there."""
    if not (BINFMT / "status").exists():
        progress("mounting binfmt_misc")
        run(Command(("mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT))))
    entry = BINFMT / info.qemu_user
    if not entry.exists() or "enabled" not in entry.read_text(encoding="utf-8"):
        check_tools({"update-binfmts": "binfmt-support"})
        if not Path(f"/usr/share/binfmts/{info.qemu_user}").exists():
            raise ToolError(
                f"{info.qemu_user}: no binfmt format to run {info.name} binaries (install the "
                "Debian package qemu-user-static)",
                missing=True,
            )
        progress(f"enabling binfmt_misc {info.qemu_user}")
        run(Command(("update-binfmts", "--enable", info.qemu_user)))


def fetch_key(repo: ThirdPartyRepo, url: str, timeout: float = 60) -> bytes:
    """A third-party repository's signing key over HTTPS, checked against key_sha256."""
    if not url.startswith("https://"):
        raise ConfigError([f"third_party {repo.name}: key_url must be https: {url}"])
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (https only)
            data: bytes = resp.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RemoteError(f"third_party {repo.name}: cannot download {url}: {reason}") from None
    if repo.key_sha256 and hashlib.sha256(data).hexdigest() != repo.key_sha256:
        raise RemoteError(f"third_party {repo.name}: {url}: sha256 does not match key_sha256")
    return data


def third_party_sources(
    repos: Sequence[ThirdPartyRepo],
    values: Mapping[str, str],
    work: Path,
    staging: Path,
    fetch: Callable[[ThirdPartyRepo, str], bytes] = fetch_key,
) -> ThirdPartySources:
    """Download each key; returns the build's source lines (signed-by the key in `work`) and
    the keys used, and stages the image's own .sources file and key (signed-by the copy inside)."""
    lines, keys = [], []
    for repo in repos:
        suite = render_template(repo.suite, values, source=Path(f"third_party/{repo.name}"))
        url = render_template(repo.key_url, values, source=Path(f"third_party/{repo.name}"))
        key = fetch(repo, url)
        digest = hashlib.sha256(key).hexdigest()
        keys.append(ThirdPartyKey(repo.name, url, digest, pinned=repo.key_sha256 == digest))
        ext = "asc" if key.lstrip().startswith(b"-----BEGIN PGP") else "gpg"
        build_key = build_keyrings(work) / f"{repo.name}.{ext}"
        build_key.parent.mkdir(parents=True, exist_ok=True)
        build_key.write_bytes(key)
        image_key = Path(f"usr/share/keyrings/freetier-{repo.name}.{ext}")
        (staging / image_key).parent.mkdir(parents=True, exist_ok=True)
        (staging / image_key).write_bytes(key)
        (staging / image_key).chmod(0o644)
        sources = staging / "etc/apt/sources.list.d" / f"{repo.name}.sources"
        sources.parent.mkdir(parents=True, exist_ok=True)
        sources.write_text(
            f"# freetier: third-party repository {repo.name}\n"
            f"Types: deb\nURIs: {repo.uri}\nSuites: {suite}\n"
            f"Components: {' '.join(repo.components)}\nSigned-By: /{image_key}\n",
            encoding="utf-8",
        )
        sources.chmod(0o644)
        comps = " ".join(repo.components)
        lines.append(f"deb [signed-by={build_key}] {repo.uri} {suite} {comps}")
    return ThirdPartySources(lines, keys)


def build_image(
    name: str,
    arch: str,
    out_dir: Path,
    stack: Stack,
    *,
    third_party: bool,
    progress: Progress,
    images_dir: Path = Path("images"),
    deb_cache: Path | None = None,
    lynis: bool | None = None,
    env: Mapping[str, str] | None = None,
) -> BuildResult:
    """Build images_dir/NAME for ARCH into out_dir/NAME-ARCH.qcow2 and its manifest.

    `deb_cache` keeps downloaded .debs between builds; `lynis` overrides the recipe's
    audit.lynis. Raises ConfigError (bad name, arch, suite), ToolError (missing tool, failed
    step or recipe hook) or FreetierError (audit below the recipe's minimum).
    """
    started = time.monotonic()
    env = dict(os.environ if env is None else env)
    recipe = load_recipe(name, images_dir)
    info = arch_info(arch)
    suite = stack.images.debian_suite
    if suite not in recipe.suites:
        raise ConfigError(
            [f"images.debian_suite: {suite}: recipe {name} supports {', '.join(recipe.suites)}"]
        )
    check_tools(BUILD_TOOLS, env.get("PATH"))
    if os.geteuid() != 0:
        raise ConfigError(["images build runs mmdebstrap --mode=root and chroot: run it as root"])
    if host_arch() != arch:
        ensure_binfmt(info, progress)

    stem = image_stem(name, arch)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / f".{stem}.build"
    remove_tree(work)
    work.mkdir()
    try:
        return _build(
            recipe,
            info,
            suite,
            stack,
            out_dir,
            work,
            third_party,
            progress,
            deb_cache,
            recipe.audit.lynis if lynis is None else lynis,
            env,
            started,
        )
    finally:
        remove_tree(work)


def _build(
    recipe: Recipe,
    info: ArchInfo,
    suite: str,
    stack: Stack,
    out_dir: Path,
    work: Path,
    third_party: bool,
    progress: Progress,
    deb_cache: Path | None,
    lynis: bool,
    env: dict[str, str],
    started: float,
) -> BuildResult:
    stem = image_stem(recipe.name, info.name)
    snapshot = stack.images.snapshot
    epoch = source_date_epoch(env, snapshot, time.time())
    ids = disk.derive_ids(recipe.name, info.name)
    layout = disk.plan_layout(recipe.disk.size_gb, recipe.disk.esp_mb, info.root_type_guid, ids)
    values = template_values(recipe, stack, info, ids, suite)
    staging = work / "files"
    staging.mkdir()
    staging.chmod(0o755)
    stage_files(recipe, values, staging)
    sources = list(debian_sources(suite, snapshot))
    packages = list(recipe.packages_for(info.name))
    repos = recipe.third_party if third_party else ()
    keys: list[ThirdPartyKey] = []
    if repos:
        progress(f"third-party repositories: {', '.join(r.name for r in repos)}")
        third = third_party_sources(repos, values, work, staging)
        sources += third.lines
        keys = third.keys
        packages += [p for r in repos for p in r.packages]
        for key in keys:
            if not key.pinned:
                progress(
                    f"third_party {key.repo}: key not pinned, trusted on first use over HTTPS "
                    f"(pin it: key_sha256: {key.sha256})"
                )
    if deb_cache is not None:
        deb_cache.mkdir(parents=True, exist_ok=True)
    plan = BuildPlan(
        arch=info.name,
        suite=suite,
        variant=recipe.variant,
        packages=tuple(dict.fromkeys(packages)),
        sources=tuple(sources),
        hooks=recipe.hooks,
        work=work,
        dpkg_path_exclude=recipe.dpkg_path_exclude,
        dpkg_path_include=recipe.dpkg_path_include,
        deb_cache=deb_cache,
        env={**hook_env(values), "SOURCE_DATE_EPOCH": str(epoch), "LC_ALL": "C.UTF-8"},
    )
    plan.runner.write_text(HOOK_RUNNER, encoding="utf-8")
    plan.runner.chmod(0o755)
    progress(
        f"mmdebstrap: Debian {suite} {info.name}, {len(plan.packages)} packages"
        + (f", snapshot {snapshot}" if snapshot else "")
        + (" (emulated through qemu-user)" if host_arch() != info.name else "")
    )
    run_mmdebstrap(plan)

    report = audit_rootfs(
        plan.rootfs,
        admin_cidrs=stack.network.admin_cidrs,
        allow_services=recipe.audit.allow_services,
        run_nft=host_arch() == info.name,
    )
    if lynis:
        progress("lynis: auditing the root filesystem")
        index, note = run_lynis(plan.rootfs)
        report = AuditReport(report.checks, index, note)
    for check in report.failed:
        progress(f"audit FAIL {check.id}: {check.detail}")
    progress(report.summary())
    if report.score < recipe.audit.min_score:
        failed = ", ".join(c.id for c in report.failed)
        raise FreetierError(
            f"{stem}: {report.summary()} is below the recipe's minimum "
            f"{recipe.audit.min_score:g}% (failed: {failed})"
        )
    packages_installed = parse_packages(run(Command(dpkg_query_argv(plan.rootfs))).stdout)

    progress(f"disk: GPT, ESP {recipe.disk.esp_mb} MiB + ext4 root, {recipe.disk.size_gb:g} GB")
    raw = work / "disk.raw"
    assemble_disk(layout, plan.rootfs, raw, epoch)
    qcow2 = out_dir / f"{stem}.qcow2"
    progress(f"qemu-img: compressing to {qcow2.name}")
    partial = qcow2.with_name(qcow2.name + ".part")
    run(Command(disk.qemu_img_convert_argv(raw, partial), timeout=3600))
    partial.replace(qcow2)
    manifest = qcow2.with_name(f"{stem}.manifest.json")
    body = manifest_data(
        recipe=recipe,
        arch=info.name,
        suite=suite,
        snapshot=snapshot,
        third_party=keys,
        epoch=epoch,
        layout=layout,
        cmdline=values["kernel_cmdline"],
        qcow2=qcow2,
        packages=packages_installed,
        report=report,
        tools=tool_versions(),
    )
    manifest.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    seconds = time.monotonic() - started
    progress(f"wrote {qcow2} ({qcow2.stat().st_size / 1e6:.0f} MB) in {seconds:.0f}s")
    return BuildResult(qcow2, manifest, report, seconds)


def run_mmdebstrap(plan: BuildPlan) -> Completed:
    """Run mmdebstrap; a failing recipe hook becomes one line naming it and its exit code
    (ConfigError: the recipe is the user's input), anything else a ToolError."""
    done = run(
        Command(mmdebstrap_argv(plan), env=plan.env, timeout=MMDEBSTRAP_TIMEOUT, ok_codes=ANY_CODE)
    )
    if done.returncode == 0:
        return done
    if plan.hook_status.is_file():
        code, _, hook = plan.hook_status.read_text(encoding="utf-8").strip().partition(" ")
        # The recipe is input the user fixes: exit 2, like the other bad input.
        raise ConfigError([f"recipe hook {hook} failed with exit code {code}"])
    errors = [line for line in done.stderr.splitlines() if line.startswith("E: ")]
    tail = "\n".join((errors or done.stderr.strip().splitlines())[-5:])
    raise ToolError(f"mmdebstrap: exit code {done.returncode}" + (f"\n{tail}" if tail else ""))


def assemble_disk(layout: disk.Layout, rootfs: Path, raw: Path, epoch: int) -> None:
    """The ESP gets the root filesystem's /boot/efi; the root gets the rest. No loop
    devices: both filesystems are written at their offsets, the GPT last."""
    esp_tree = rootfs / "boot/efi"
    entries = sorted(esp_tree.iterdir()) if esp_tree.is_dir() else []
    if not (esp_tree / "EFI/BOOT").is_dir():
        raise ToolError("no EFI/BOOT loader under /boot/efi: the bootloader hook made nothing")
    disk.create_sparse(raw, layout.size)
    mtools = {"MTOOLS_SKIP_CHECK": "1", "SOURCE_DATE_EPOCH": str(epoch)}
    run(Command(disk.mkfs_fat_argv(layout, raw)))
    run(Command(disk.mcopy_argv(layout, raw, entries), env=mtools))
    # The ESP is mounted at /boot/efi on the instance: the root keeps an empty mount point.
    for entry in entries:
        remove_tree(entry)
    run(
        Command(
            disk.mkfs_ext4_argv(layout, raw, rootfs),
            timeout=1800,
            env={"E2FSPROGS_FAKE_TIME": str(epoch)},
        )
    )
    run(Command(disk.sgdisk_argv(layout, raw)))
    problems = disk.check_layout(raw, layout)
    if problems:
        raise ToolError("disk check failed: " + "; ".join(problems))


def manifest_data(
    *,
    recipe: Recipe,
    arch: str,
    suite: str,
    snapshot: str | None,
    third_party: Sequence[ThirdPartyKey],
    epoch: int,
    layout: disk.Layout,
    cmdline: str,
    qcow2: Path,
    packages: list[dict[str, str]],
    report: AuditReport,
    tools: Mapping[str, str],
) -> dict[str, object]:
    ids = layout.ids
    return {
        "image": recipe.name,
        "arch": arch,
        "file": qcow2.name,
        "sha256": sha256_file(qcow2),
        "size_bytes": qcow2.stat().st_size,
        "virtual_size_bytes": layout.size,
        "format": "qcow2",
        "suite": suite,
        "snapshot": snapshot,
        "variant": recipe.variant,
        "recipe": list(recipe.chain),
        "recipe_sha256": recipe.digest,
        "third_party": [
            {"repo": k.repo, "key_url": k.url, "key_sha256": k.sha256, "pinned": k.pinned}
            for k in third_party
        ],
        "source_date_epoch": epoch,
        "firmware": "UEFI_64",
        "kernel_cmdline": cmdline,
        "disk": {
            "disk_guid": ids.disk_guid,
            "esp": {
                "partition_guid": ids.esp_guid,
                "uuid": ids.esp_uuid,
                "offset": layout.esp_offset,
                "size": layout.esp_size,
            },
            "root": {
                "partition_guid": ids.root_guid,
                "uuid": ids.root_uuid,
                "offset": layout.root_offset,
                "size": layout.root_size,
            },
        },
        "audit": report.to_json(),
        "packages": packages,
        "tools": dict(tools),
    }


def sha256_file(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


VERSION_ARGV: dict[str, tuple[str, ...]] = {
    "mmdebstrap": ("mmdebstrap", "--version"),
    "qemu-img": ("qemu-img", "--version"),
    "mke2fs": ("mke2fs", "-V"),
    "mkfs.fat": ("mkfs.fat", "--help"),
    "mtools": ("mcopy", "--version"),
    "sgdisk": ("sgdisk", "--version"),
    "dpkg": ("dpkg-query", "--version"),
}


def tool_versions() -> dict[str, str]:
    """First line each tool prints about its version (best effort: '' when it prints none)."""
    out = {}
    for key, argv in VERSION_ARGV.items():
        try:
            done = run(Command(argv, timeout=30, ok_codes=ANY_CODE))
        except ToolError:
            out[key] = ""
            continue
        lines = [ln.strip() for ln in (done.stdout + "\n" + done.stderr).splitlines()]
        out[key] = next((ln for ln in lines if ln and any(c.isdigit() for c in ln)), "")
    return out


def remove_tree(path: Path) -> None:
    """rm -r that refuses to descend into anything still mounted (a failed chroot could
    leave /dev or /proc bound inside; deleting through them would hit the host)."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    resolved = path.resolve()
    mounts = [m for m in _mount_points() if m == resolved or m.is_relative_to(resolved)]
    if mounts:
        raise ToolError(
            f"{path}: still mounted inside ({', '.join(map(str, mounts[:3]))}); unmount, "
            "then delete it"
        )
    shutil.rmtree(path)


def _mount_points() -> list[Path]:
    try:
        lines = Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    points = []
    for line in lines:
        fields = line.split()
        if len(fields) > 4:
            points.append(Path(fields[4].encode().decode("unicode_escape")))
    return points
