"""Secret files on disk: seed placeholders, set one value, set up the identity and .sops.yaml.

Every encryption goes through the real `sops`; plaintext exists only in memory and on sops'
stdin. Files are written to a temporary name beside the target and renamed into place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from freetier.command import Command, Completed, run
from freetier.errors import ConfigError
from freetier.files import write_files
from freetier.secrets.age import Identity, ensure_identity, read_recipient
from freetier.secrets.model import (
    PLACEHOLDER_ANNOTATION,
    SecretSpec,
    all_placeholders,
    pending_keys,
    placeholder_document,
    secret_document,
    stored_keys,
)
from freetier.secrets.sops import encrypt_command, set_command, sops_index, unset_command
from freetier.secrets.sops_config import (
    SOPS_CONFIG,
    is_tree_secret_path,
    read_config_recipients,
    sops_config_text,
)

GENERIC_PLACEHOLDER = "REPLACE_ME"
SopsLocator = Callable[[], str]
Runner = Callable[[Command], Completed]


@dataclass(frozen=True)
class SecretTarget:
    """One Secret file to write: a declared SecretSpec, or a name/namespace/path given by hand."""

    name: str
    namespace: str
    relpath: str
    placeholders: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: SecretSpec) -> SecretTarget:
        return cls(spec.name, spec.namespace, spec.path, {k.name: k.placeholder for k in spec.keys})


@dataclass(frozen=True)
class InitResult:
    identity: Identity
    config_written: bool
    recipients: tuple[str, ...]
    seeded: tuple[str, ...]
    reseeded: tuple[str, ...]
    stale: tuple[str, ...]


def read_secret_file(path: Path) -> dict[str, Any]:
    """An encrypted Secret file as parsed YAML (key names and metadata are in clear)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError([f"{where}: invalid YAML"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a Secret manifest (a mapping)"])
    return data


def file_recipients(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The age recipients a SOPS file's data key is encrypted for ('' when not a SOPS file)."""
    meta = document.get("sops")
    entries = meta.get("age") if isinstance(meta, Mapping) else None
    if not isinstance(entries, list):
        return ()
    return tuple(
        str(e["recipient"]) for e in entries if isinstance(e, Mapping) and "recipient" in e
    )


def is_sops_file(document: Mapping[str, Any]) -> bool:
    return isinstance(document.get("sops"), Mapping)


def write_encrypted(
    sops: str,
    root: Path,
    relpath: str,
    document: Mapping[str, Any],
    secrets: tuple[str, ...],
    runner: Runner = run,
) -> Path:
    """Encrypt `document` for RELPATH's creation rule and rename the result into place."""
    target = root / relpath
    plaintext = yaml.safe_dump(dict(document), sort_keys=False).encode("utf-8")
    with _staged(target) as staged:
        runner(encrypt_command(sops, root, relpath, plaintext, staged, secrets))
    return target


def seed_placeholder(sops: str, root: Path, spec: SecretSpec) -> Path:
    """Write SPEC's file with dummy values (all keys pending): no private key needed."""
    return write_encrypted(sops, root, spec.path, placeholder_document(spec), ())


def encrypt_placeholder(sops: str, root: Path, spec: SecretSpec, output: Path) -> None:
    """SPEC's placeholder, encrypted by its path's creation rule, written to OUTPUT."""
    plaintext = yaml.safe_dump(placeholder_document(spec), sort_keys=False).encode("utf-8")
    run(encrypt_command(sops, root, spec.path, plaintext, output))


def set_secret_value(
    sops: str,
    root: Path,
    identity_file: Path,
    target: SecretTarget,
    key: str,
    value: str,
    runner: Runner = run,
) -> str:
    """Set KEY of the Secret file to VALUE; returns what happened: created|updated|replaced."""
    _require_tree_path(target.relpath)
    recipient = read_recipient(identity_file)
    if not read_config_recipients(root):
        raise ConfigError([f"{root / SOPS_CONFIG}: missing; run `freetier secrets init` first"])
    path = root / target.relpath
    if not path.exists():
        document = secret_document(target.name, target.namespace, {key: value}, target.placeholders)
        write_encrypted(sops, root, target.relpath, document, (value,), runner)
        return "created"
    existing = read_secret_file(path)
    if not is_sops_file(existing):
        raise ConfigError([f"{path}: not a SOPS-encrypted file; refusing to overwrite it"])
    if recipient not in file_recipients(existing):
        if not all_placeholders(existing):
            problem = (
                f"{path}: encrypted for other age recipients; this identity cannot change it "
                "(re-encrypt it with their key, or delete it and set every key again)"
            )
            raise ConfigError([problem])
        placeholders = {k: GENERIC_PLACEHOLDER for k in stored_keys(existing)}
        placeholders.update(target.placeholders)
        document = secret_document(target.name, target.namespace, {key: value}, placeholders)
        write_encrypted(sops, root, target.relpath, document, (value,), runner)
        return "replaced"
    _update_in_place(sops, path, identity_file, existing, key, value, runner)
    return "updated"


def init_secrets(
    root: Path, identity_file: Path, locate_sops: SopsLocator, specs: Iterable[SecretSpec]
) -> InitResult:
    """Identity (kept if present), .sops.yaml for it, placeholders seeded or re-encrypted."""
    identity = ensure_identity(identity_file)
    recipients = read_config_recipients(root)
    written = identity.recipient not in recipients
    if written:
        recipients = (identity.recipient,)
        write_files(root, {SOPS_CONFIG: sops_config_text(recipients)})
    seeded: list[str] = []
    reseeded: list[str] = []
    stale: list[str] = []
    binary: str | None = None
    for spec in specs:
        path = root / spec.path
        existed = path.exists()
        if existed:
            existing = read_secret_file(path)
            if set(file_recipients(existing)) == set(recipients):
                continue
            if not all_placeholders(existing):
                stale.append(spec.path)
                continue
        binary = binary or locate_sops()
        seed_placeholder(binary, root, spec)
        (reseeded if existed else seeded).append(spec.path)
    return InitResult(identity, written, recipients, tuple(seeded), tuple(reseeded), tuple(stale))


def _update_in_place(
    sops: str,
    path: Path,
    identity: Path,
    existing: Mapping[str, Any],
    key: str,
    value: str,
    runner: Runner,
) -> None:
    """`sops set` on a copy, so the other values keep their ciphertext; then rename."""
    pending = pending_keys(existing)
    data = existing.get("data")
    with _staged(path, copy=True) as staged:
        runner(set_command(sops, staged, sops_index("stringData", key), value, identity))
        if isinstance(data, Mapping) and key in data:
            runner(unset_command(sops, staged, sops_index("data", key), identity))
        if key in pending:
            rest = ",".join(k for k in pending if k != key)
            index = sops_index("metadata", "annotations", PLACEHOLDER_ANNOTATION)
            if rest:
                runner(set_command(sops, staged, index, rest, identity, secret=False))
            else:
                runner(unset_command(sops, staged, index, identity))
                if len(existing["metadata"]["annotations"]) == 1:
                    runner(
                        unset_command(sops, staged, sops_index("metadata", "annotations"), identity)
                    )


@contextmanager
def _staged(target: Path, *, copy: bool = False) -> Iterator[Path]:
    """A temporary file beside TARGET; renamed over it when the block succeeds."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError([f"{target.parent}: cannot write: {exc.strerror}"]) from None
    os.close(fd)
    staged = Path(name)
    try:
        if copy:
            shutil.copyfile(target, staged)
        yield staged
        staged.chmod(0o644)  # ciphertext, like every other file of the tree
        staged.replace(target)
    finally:
        staged.unlink(missing_ok=True)


def _require_tree_path(relpath: str) -> None:
    if not is_tree_secret_path(relpath):
        raise ConfigError(
            [
                f"{relpath}: secret files live under clusters/, infrastructure/ or apps/ "
                "and end in .sops.yaml (the .sops.yaml creation rule)"
            ]
        )
