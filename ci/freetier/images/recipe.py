"""Image recipes as data: `images/NAME/recipe.yaml` with its package list, files, hooks and
third-party repositories; a recipe may extend another (`base: base`)."""

from __future__ import annotations

import hashlib
import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from freetier.errors import ConfigError

RECIPE_FILE = "recipe.yaml"
HookStage = Literal["setup", "extract", "essential", "customize"]
HOOK_STAGES: tuple[HookStage, ...] = ("setup", "extract", "essential", "customize")
TEMPLATE_SUFFIX = ".tmpl"


@dataclass(frozen=True)
class ArchInfo:
    """What differs between the two target architectures."""

    name: str
    grub_target: str
    efi_loader: str
    console: str
    # Discoverable Partitions Specification: the root partition type for this architecture.
    root_type_guid: str
    qemu_user: str  # the binfmt_misc entry that runs its binaries on another host


ARCHES: dict[str, ArchInfo] = {
    "amd64": ArchInfo(
        name="amd64",
        grub_target="x86_64-efi",
        efi_loader="BOOTX64.EFI",
        console="ttyS0",
        root_type_guid="4f68bce3-e8cd-4db1-96e7-fbcaf984b709",
        qemu_user="qemu-x86_64",
    ),
    "arm64": ArchInfo(
        name="arm64",
        grub_target="arm64-efi",
        efi_loader="BOOTAA64.EFI",
        console="ttyAMA0",
        root_type_guid="b921b045-1df0-41c3-af44-4c6f280d3fae",
        qemu_user="qemu-aarch64",
    ),
}


def arch_info(arch: str) -> ArchInfo:
    try:
        return ARCHES[arch]
    except KeyError:
        known = ", ".join(ARCHES)
        raise ConfigError([f"--arch {arch}: unknown architecture (known: {known})"]) from None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DiskSpec(_Model):
    size_gb: Annotated[float, Field(gt=0, le=400, description="virtual disk size")] = 4
    esp_mb: Annotated[int, Field(ge=64, le=1024)] = 128


class AuditSpec(_Model):
    min_score: Annotated[float, Field(ge=0, le=100)] = 100
    lynis: bool = True
    allow_services: list[str] = []


class HookLists(_Model):
    setup: list[str] = []
    extract: list[str] = []
    essential: list[str] = []
    customize: list[str] = []


class RecipeFile(_Model):
    """The shape of recipe.yaml."""

    description: str = ""
    base: str | None = None
    suites: list[Literal["bookworm", "trixie"]] | None = None
    variant: Literal["minbase", "important", "required", "standard"] | None = None
    packages: str | None = None
    files: str | None = None
    modes: dict[str, Annotated[str, Field(pattern=r"^0[0-7]{3}$")]] = {}
    hooks: HookLists = HookLists()
    third_party: str | None = None
    dpkg_path_exclude: list[str] = []
    dpkg_path_include: list[str] = []
    kernel_cmdline: str | None = None
    disk: DiskSpec | None = None
    audit: AuditSpec | None = None


class ThirdPartyRepoFile(_Model):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    uri: Annotated[str, Field(pattern=r"^https://\S+$")]
    suite: str
    components: Annotated[list[str], Field(min_length=1)]
    key_url: Annotated[str, Field(pattern=r"^https://\S+$")]
    key_sha256: Annotated[str | None, Field(pattern=r"^[0-9a-f]{64}$")] = None
    packages: list[str] = []


class ThirdPartyFile(_Model):
    repos: list[ThirdPartyRepoFile] = []


@dataclass(frozen=True)
class Hook:
    stage: HookStage
    name: str  # e.g. "base/hooks/customize-10-system.sh": how errors name it
    path: Path


@dataclass(frozen=True)
class ThirdPartyRepo:
    name: str
    uri: str
    suite: str
    components: tuple[str, ...]
    key_url: str
    key_sha256: str | None
    packages: tuple[str, ...]


@dataclass(frozen=True)
class Recipe:
    """A recipe with its bases folded in: base data first, the recipe's own after."""

    name: str
    description: str
    chain: tuple[str, ...]  # this recipe and its bases, base first
    suites: tuple[str, ...]
    variant: str
    packages: tuple[str, ...]  # may hold {arch}
    file_dirs: tuple[Path, ...]
    modes: Mapping[str, int]
    hooks: tuple[Hook, ...]
    third_party: tuple[ThirdPartyRepo, ...]
    dpkg_path_exclude: tuple[str, ...]
    dpkg_path_include: tuple[str, ...]
    kernel_cmdline: str
    disk: DiskSpec
    audit: AuditSpec
    digest: str  # sha256 over every file of the recipe chain

    def packages_for(self, arch: str) -> tuple[str, ...]:
        return tuple(p.replace("{arch}", arch) for p in self.packages)


def recipe_names(images_dir: Path) -> list[str]:
    if not images_dir.is_dir():
        return []
    return sorted(p.name for p in images_dir.iterdir() if (p / RECIPE_FILE).is_file())


def load_recipe(name: str, images_dir: Path) -> Recipe:
    """Read images_dir/NAME/recipe.yaml and its bases; ConfigError on any problem."""
    known = recipe_names(images_dir)
    if name not in known:
        listed = ", ".join(known) or "none"
        raise ConfigError([f"{name}: unknown image (known in {images_dir}: {listed})"])
    chain: list[tuple[str, RecipeFile]] = []
    current: str | None = name
    while current is not None:
        if current in (n for n, _ in chain):
            raise ConfigError([f"{images_dir / name / RECIPE_FILE}: base: cycle via {current}"])
        if current not in known:
            raise ConfigError(
                [f"{images_dir / chain[-1][0] / RECIPE_FILE}: base: {current}: no such recipe"]
            )
        data = _read_recipe_file(images_dir / current / RECIPE_FILE)
        chain.append((current, data))
        current = data.base
    chain.reverse()
    return _fold(name, images_dir, chain)


def _read_recipe_file(path: Path) -> RecipeFile:
    raw = _read_yaml(path)
    try:
        return RecipeFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_problems(path, exc)) from None


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {str(exc).splitlines()[0]}"]) from None


def _problems(path: Path, exc: ValidationError) -> list[str]:
    return [
        f"{path}: {'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
        for err in exc.errors()
    ]


def _fold(name: str, images_dir: Path, chain: list[tuple[str, RecipeFile]]) -> Recipe:
    packages: list[str] = []
    file_dirs: list[Path] = []
    modes: dict[str, int] = {}
    hooks: list[Hook] = []
    repos: list[ThirdPartyRepo] = []
    exclude: list[str] = []
    include: list[str] = []
    suites: tuple[str, ...] = ("bookworm", "trixie")
    variant, cmdline = "minbase", "ro"
    disk, audit = DiskSpec(), AuditSpec()
    for recipe_name, data in chain:
        folder = images_dir / recipe_name
        if data.packages is not None:
            packages += read_package_list(_inside(folder, data.packages, "packages"))
        if data.files is not None:
            file_dirs.append(_inside(folder, data.files, "files", want_dir=True))
        modes.update({k: int(v, 8) for k, v in data.modes.items()})
        for stage in HOOK_STAGES:
            for rel in getattr(data.hooks, stage):
                path = _inside(folder, rel, f"hooks.{stage}")
                if not os.access(path, os.X_OK):
                    raise ConfigError([f"{path}: hook is not executable (chmod +x)"])
                hooks.append(Hook(stage, f"{recipe_name}/{rel}", path))
        if data.third_party is not None:
            repos += read_third_party(_inside(folder, data.third_party, "third_party"))
        exclude += data.dpkg_path_exclude
        include += data.dpkg_path_include
        suites = tuple(data.suites) if data.suites is not None else suites
        variant = data.variant or variant
        cmdline = data.kernel_cmdline if data.kernel_cmdline is not None else cmdline
        disk = data.disk or disk
        audit = data.audit or audit
    return Recipe(
        name=name,
        description=chain[-1][1].description,
        chain=tuple(n for n, _ in chain),
        suites=suites,
        variant=variant,
        packages=tuple(dict.fromkeys(packages)),
        file_dirs=tuple(file_dirs),
        modes=modes,
        hooks=tuple(hooks),
        third_party=tuple(repos),
        dpkg_path_exclude=tuple(exclude),
        dpkg_path_include=tuple(include),
        kernel_cmdline=cmdline,
        disk=disk,
        audit=audit,
        digest=_digest(images_dir, [n for n, _ in chain]),
    )


def _inside(folder: Path, rel: str, field: str, *, want_dir: bool = False) -> Path:
    path = (folder / rel).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise ConfigError([f"{folder / RECIPE_FILE}: {field}: {rel}: outside the recipe folder"])
    if not (path.is_dir() if want_dir else path.is_file()):
        kind = "folder" if want_dir else "file"
        raise ConfigError([f"{folder / RECIPE_FILE}: {field}: {rel}: no such {kind}"])
    return path


def read_package_list(path: Path) -> list[str]:
    """One package a line; `#` starts a comment."""
    names: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        word = line.split("#", 1)[0].strip()
        if not word:
            continue
        if not re.fullmatch(r"[a-z0-9{][a-z0-9+.{}-]*", word):
            raise ConfigError([f"{path}:{number}: {word!r}: not a Debian package name"])
        names.append(word)
    return names


def read_third_party(path: Path) -> list[ThirdPartyRepo]:
    raw = _read_yaml(path)
    try:
        data = ThirdPartyFile.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        raise ConfigError(_problems(path, exc)) from None
    return [
        ThirdPartyRepo(
            name=r.name,
            uri=r.uri,
            suite=r.suite,
            components=tuple(r.components),
            key_url=r.key_url,
            key_sha256=r.key_sha256,
            packages=tuple(r.packages),
        )
        for r in data.repos
    ]


def _digest(images_dir: Path, names: list[str]) -> str:
    sha = hashlib.sha256()
    for name in names:
        for path in sorted((images_dir / name).rglob("*")):
            if path.is_file():
                sha.update(str(path.relative_to(images_dir)).encode() + b"\0")
                sha.update(path.read_bytes())
    return sha.hexdigest()


def render_template(text: str, values: Mapping[str, str], *, source: Path) -> str:
    """`${name}` substitution; an unknown name is a ConfigError naming the file."""
    try:
        return string.Template(text).substitute(values)
    except KeyError as exc:
        known = ", ".join(sorted(values))
        raise ConfigError(
            [f"{source}: unknown template value ${{{exc.args[0]}}} (known: {known})"]
        ) from None
    except ValueError as exc:
        raise ConfigError([f"{source}: bad template: {exc}"]) from None


def stage_files(recipe: Recipe, values: Mapping[str, str], dest: Path) -> list[str]:
    """Copy the recipe's file trees (base first) into dest, rendering *.tmpl; returns the
    paths written, relative to dest. Modes: `modes` in recipe.yaml, else 0755 for files
    executable in the recipe, else 0644."""
    written: dict[str, None] = {}
    for folder in recipe.file_dirs:
        for src in sorted(folder.rglob("*")):
            if src.is_dir() or src.is_symlink():
                continue
            rel = src.relative_to(folder).as_posix()
            data = src.read_bytes()
            if rel.endswith(TEMPLATE_SUFFIX):
                rel = rel.removesuffix(TEMPLATE_SUFFIX)
                text = render_template(data.decode("utf-8"), values, source=src)
                data = text.encode("utf-8")
            target = dest / rel
            for parent in reversed(target.relative_to(dest).parents[:-1]):
                if not (dest / parent).is_dir():
                    (dest / parent).mkdir()
                    (dest / parent).chmod(0o755)  # whatever the umask
            target.write_bytes(data)
            default = 0o755 if os.access(src, os.X_OK) else 0o644
            target.chmod(recipe.modes.get(rel, default))
            written[rel] = None
    unknown = sorted(set(recipe.modes) - set(written))
    if unknown:
        raise ConfigError([f"modes: {rel}: no such file in the recipe" for rel in unknown])
    return list(written)
