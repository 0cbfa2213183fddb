"""Secret files on disk: seed placeholders, set one value, set up the identity and .sops.yaml.

Every encryption goes through the real `sops`; plaintext exists only in memory and on sops'
stdin. Files are written to a temporary name beside the target and renamed into place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from freetier.command import Command, Completed, run
from freetier.errors import ConfigError
from freetier.files import read_yaml, write_files
from freetier.secrets.age import Identity, ensure_identity, read_recipient
from freetier.secrets.model import (
    KEY_PATTERN,
    NAME_PATTERN,
    NAMESPACE_PATTERN,
    PLACEHOLDER_ANNOTATION,
    SOPS_CONFIG,
    SecretSpec,
    all_placeholders,
    pending_keys,
    placeholder_document,
    secret_document,
    stored_keys,
)
from freetier.secrets.sops import encrypt_command, set_command, sops_index, unset_command
from freetier.secrets.sops_config import (
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


def check_names(name: str, key: str, namespace: str | None) -> list[str]:
    """What is wrong with a Secret's name, key and namespace as a user typed them."""
    problems = []
    if not NAME_PATTERN.match(name):
        problems.append(f"NAME {name!r}: not a valid Kubernetes object name")
    if not KEY_PATTERN.match(key):
        problems.append(f"KEY {key!r}: only letters, digits, '-', '_' and '.' are allowed")
    if namespace is not None and not NAMESPACE_PATTERN.match(namespace):
        problems.append(f"--namespace {namespace!r}: not a valid namespace name")
    return problems


def resolve_target(
    root: Path,
    specs: Sequence[SecretSpec],
    name: str,
    namespace: str | None,
    path: str | None,
) -> SecretTarget:
    """The Secret file `secrets set NAME` writes: the tree's declaration of NAME, with the
    namespace and path the user gave instead when given (`path` is relative to `root`)."""
    by_name = {s.name: s for s in specs}
    spec = by_name.get(name)
    if spec is None and path is None:
        known = ", ".join(sorted(by_name)) or "none"
        raise ConfigError(
            [f"{name}: not a Secret the tree declares (known: {known}); give --path FILE"]
        )
    base = SecretTarget.from_spec(spec) if spec else SecretTarget(name, "default", "")
    return SecretTarget(
        name=name,
        namespace=namespace or base.namespace,
        relpath=_relative(root, Path(path)) if path else base.relpath,
        placeholders=base.placeholders,
    )


def _relative(root: Path, path: Path) -> str:
    """--path relative to the stack's folder (the repository root), as sops' rules see it."""
    if path.is_absolute():
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            raise ConfigError([f"--path {path}: outside the repository {root.resolve()}"]) from None
    return path.as_posix()


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
    data = read_yaml(path)
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
    _require_tree_path(root, target.relpath)
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


def _require_tree_path(root: Path, relpath: str) -> None:
    """The creation rule's path pattern, and inside the repository once `..` and links are
    resolved (`apps/../../..` matches the pattern and is not)."""
    escapes = ".." in PurePosixPath(relpath).parts or not (root / relpath).resolve().is_relative_to(
        root.resolve()
    )
    if escapes:
        raise ConfigError([f"{relpath}: outside the repository {root.resolve()}"])
    if not is_tree_secret_path(relpath):
        raise ConfigError(
            [
                f"{relpath}: secret files live under clusters/, infrastructure/ or apps/ "
                "and end in .sops.yaml (the .sops.yaml creation rule)"
            ]
        )
