"""Which Kubernetes Secrets a tree holds and what their plaintext looks like. Pure.

A secret file starts as a placeholder: every key holds a known dummy value and the Secret
carries the annotation PLACEHOLDER_ANNOTATION listing the keys still to fill. Metadata is not
encrypted (only `data`/`stringData` are), so anyone can see which keys are still placeholders,
and a file whose keys are all placeholders can be re-encrypted for a new recipient without
any private key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Where a repository keeps its secrets, relative to its root: the age identity (git-ignored)
# and the sops rules.
IDENTITY_FILE = Path("secrets") / "age.agekey"
SOPS_CONFIG = ".sops.yaml"

PLACEHOLDER_ANNOTATION = "freetier.dev/placeholder-keys"
KEY_PATTERN = re.compile(r"^[-._a-zA-Z0-9]+$")
NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
NAMESPACE_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class SecretKey:
    name: str
    placeholder: str
    help: str


@dataclass(frozen=True)
class SecretSpec:
    """A Secret the tree declares: where its encrypted file lives and which keys it holds."""

    name: str
    namespace: str
    path: str
    keys: tuple[SecretKey, ...]
    purpose: str

    def key_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keys)


def secret_document(
    name: str,
    namespace: str,
    values: Mapping[str, str],
    placeholders: Mapping[str, str],
) -> dict[str, Any]:
    """A Secret manifest (plaintext): `values` set, every other key of `placeholders` dummy."""
    pending = sorted(k for k in placeholders if k not in values)
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if pending:
        metadata["annotations"] = {PLACEHOLDER_ANNOTATION: ",".join(pending)}
    string_data = {k: v for k, v in placeholders.items() if k not in values}
    string_data.update(values)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "stringData": dict(sorted(string_data.items())),
    }


def placeholder_document(spec: SecretSpec) -> dict[str, Any]:
    return secret_document(
        spec.name, spec.namespace, {}, {k.name: k.placeholder for k in spec.keys}
    )


def pending_keys(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys a (possibly encrypted) Secret document still holds placeholders for."""
    metadata = document.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    value = annotations.get(PLACEHOLDER_ANNOTATION) if isinstance(annotations, Mapping) else None
    if not isinstance(value, str) or not value:
        return ()
    return tuple(k for k in value.split(",") if k)


def stored_keys(document: Mapping[str, Any]) -> tuple[str, ...]:
    """Every key of `data` and `stringData` (key names stay in clear in a SOPS file)."""
    keys: set[str] = set()
    for field in ("data", "stringData"):
        block = document.get(field)
        if isinstance(block, Mapping):
            keys.update(str(k) for k in block)
    return tuple(sorted(keys))


def all_placeholders(document: Mapping[str, Any]) -> bool:
    """True when no key holds a real value yet: the file can be rebuilt without decrypting."""
    stored = set(stored_keys(document))
    return bool(stored) and stored <= set(pending_keys(document))
