"""Put a rendered tree on disk without losing anyone's work.

The lock file records the sha256 of every generated file as it was written. On the next
render a file whose content still matches its lock entry is ours to rewrite (or remove, when
no longer generated); a file that differs was edited by hand: it is left alone and reported
as a conflict with a diff, unless `force`. Seeds and secrets are created only when missing.
Everything is first written to a staging folder, then renamed into place, lock last.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from freetier.errors import ConfigError
from freetier.files import read_json, swap_in
from freetier.secrets.model import SOPS_CONFIG, SecretSpec
from freetier.secrets.sops_config import read_config_recipients
from freetier.secrets.store import encrypt_placeholder

LOCK_FILE = ".freetier/flux.lock.json"
Seal = Callable[[SecretSpec, Path], None]


@dataclass(frozen=True)
class Conflict:
    path: str
    reason: str
    diff: str


@dataclass(frozen=True)
class RenderPlan:
    """What a render would do; `plan_render` computes it, `apply_render` carries it out."""

    writes: Mapping[str, str] = field(default_factory=dict)
    removes: tuple[str, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    seeds: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[SecretSpec, ...] = ()
    unchanged: tuple[str, ...] = ()
    lock: Mapping[str, str] = field(default_factory=dict)
    before: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def changes(self) -> bool:
        return bool(self.writes or self.removes or self.seeds or self.secrets)

    @property
    def up_to_date(self) -> bool:
        return not (self.changes or self.conflicts)

    def diffs(self) -> list[str]:
        """A unified diff for every generated file that would change, then each conflict."""
        out = [render_diff(p, self.before.get(p), text) for p, text in self.writes.items()]
        out += [render_diff(p, self.before.get(p), None) for p in self.removes]
        out += [c.diff for c in self.conflicts]
        return [d for d in out if d]


def sha256(text: str | bytes) -> str:
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def render_diff(path: str, old: str | None, new: str | None) -> str:
    return "".join(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            (new or "").splitlines(keepends=True),
            fromfile=f"a/{path}" if old is not None else "/dev/null",
            tofile=f"b/{path}" if new is not None else "/dev/null",
        )
    )


def read_lock(root: Path) -> dict[str, str]:
    path = root / LOCK_FILE
    if not path.exists():
        return {}
    try:
        data = read_json(path)
    except ConfigError as exc:
        raise ConfigError([f"{exc.problems[0]} (the lock file: delete it to start over)"]) from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise ConfigError([f"{path}: no `files` map of path -> sha256; delete it to start over"])
    return {str(k): v for k, v in files.items()}


def lock_text(lock: Mapping[str, str]) -> str:
    body = {
        "comment": "Written by `freetier flux render`: sha256 of each generated file as written. "
        "A file that no longer matches was edited by hand and is not overwritten.",
        "files": dict(sorted(lock.items())),
    }
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def plan_render(
    root: Path,
    generated: Mapping[str, str],
    seeds: Mapping[str, str],
    secrets: Sequence[SecretSpec],
    *,
    force: bool = False,
) -> RenderPlan:
    """Compare the rendered tree with the files under ROOT and the lock file. Reads only."""
    old_lock = read_lock(root)
    lock: dict[str, str] = {}
    writes: dict[str, str] = {}
    unchanged: list[str] = []
    conflicts: list[Conflict] = []
    before: dict[str, str | None] = {}
    for path, text in generated.items():
        current = _read(root, path)
        before[path] = current
        if current == text:
            unchanged.append(path)
            lock[path] = sha256(text)
        elif current is None or force or old_lock.get(path) == sha256(current):
            writes[path] = text
            lock[path] = sha256(text)
        else:
            reason = (
                "edited by hand since the last render"
                if path in old_lock
                else "exists but was not written by freetier"
            )
            conflicts.append(Conflict(path, reason, render_diff(path, current, text)))
            if path in old_lock:
                lock[path] = old_lock[path]
    removes: list[str] = []
    for path in sorted(set(old_lock) - set(generated)):
        current = _read(root, path)
        before[path] = current
        if current is None:
            continue
        if force or sha256(current) == old_lock[path]:
            removes.append(path)
        else:
            reason = "edited by hand and no longer generated"
            conflicts.append(Conflict(path, reason, render_diff(path, current, None)))
            lock[path] = old_lock[path]
    return RenderPlan(
        writes=writes,
        removes=tuple(removes),
        conflicts=tuple(conflicts),
        seeds={p: t for p, t in seeds.items() if not (root / p).exists()},
        secrets=tuple(s for s in secrets if not (root / s.path).exists()),
        unchanged=tuple(unchanged),
        lock=lock,
        before=before,
    )


def apply_render(root: Path, plan: RenderPlan, seal: Seal | None = None) -> None:
    """Stage every new file (secrets sealed through `seal`) and the new lock, then swap the
    whole set in at once: an error or Ctrl-C part-way leaves the old tree and its lock."""
    if plan.secrets and seal is None:
        raise ValueError("secret files to create but no way to encrypt them")
    lock_file = root / LOCK_FILE
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="render-", dir=lock_file.parent))
    except OSError as exc:
        raise ConfigError([f"{lock_file.parent}: cannot write: {exc.strerror}"]) from None
    try:
        staged = _stage(staging, {**plan.writes, **plan.seeds, LOCK_FILE: lock_text(plan.lock)})
        for spec in plan.secrets:
            target = staging / spec.path
            target.parent.mkdir(parents=True, exist_ok=True)
            if seal is not None:
                seal(spec, target)
            staged.insert(-1, spec.path)  # the lock goes in last
        try:
            swap_in(
                [(staging / path, root / path) for path in staged],
                [root / path for path in plan.removes],
            )
        except OSError as exc:
            raise ConfigError([f"{root}: cannot write the tree: {exc.strerror}"]) from None
        for path in plan.removes:
            _prune_empty_dirs(root, (root / path).parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _stage(staging: Path, files: Mapping[str, str]) -> list[str]:
    try:
        for path, text in files.items():
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{staging}: cannot stage the tree: {exc.strerror}"]) from None
    return list(files)


def _read(root: Path, path: str) -> str | None:
    target = root / path
    try:
        return target.read_bytes().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ConfigError([f"{target}: is a directory where the tree has a file"]) from None
    except OSError as exc:
        raise ConfigError([f"{target}: cannot read: {exc.strerror}"]) from None


def _prune_empty_dirs(root: Path, folder: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def sops_sealer(root: Path, sops: Callable[[], str]) -> Seal:
    """Placeholders are encrypted for .sops.yaml's recipients: the sops binary (`sops` finds
    it) and the recipients are checked before anything moves."""
    binary = sops()
    if not read_config_recipients(root):
        raise ConfigError([f"{root / SOPS_CONFIG}: missing; run `freetier secrets init` first"])

    def seal(spec: SecretSpec, output: Path) -> None:
        encrypt_placeholder(binary, root, spec, output)

    return seal
