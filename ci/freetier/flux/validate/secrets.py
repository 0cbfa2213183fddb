"""Secrets in Git: plaintext Secrets, and SOPS files whose age recipients differ from the
`.sops.yaml` creation rule for their path. Nothing is ever decrypted.

Plaintext means a real value: not SOPS ciphertext (also inside a secretGenerator's file, which
Flux decrypts), not a reference a secrets operator resolves (`op://`, `vault:`, `ref+`,
`<path:`), not a `${VAR}` placeholder of post-build substitution, not an empty string."""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freetier.errors import ConfigError
from freetier.files import read_text
from freetier.flux.validate.documents import Document, K8sObject, load_documents
from freetier.flux.validate.model import Finding, finding

SOPS_CONFIG = ".sops.yaml"
REFERENCE_PREFIXES = ("op://", "vault:", "ref+", "<path:", "akv://", "bws://")
SOPS_CIPHERTEXT = "ENC[AES256_GCM,"


def _not_a_secret(text: str) -> bool:
    """Ciphertext (a SOPS value, or a whole SOPS file a secretGenerator read: YAML, JSON, INI
    or dotenv), a reference, a placeholder, or nothing."""
    stripped = text.strip()
    return (
        not stripped
        or stripped.startswith("ENC[")
        or SOPS_CIPHERTEXT in text
        or stripped.startswith(REFERENCE_PREFIXES)
        or "${" in text
    )


def _plain(field: str, value: Any) -> bool:
    if not isinstance(value, str):
        return value is not None
    if _not_a_secret(value):
        return False
    if field == "data":  # base64 of the value
        try:
            # kustomize wraps a generated file's base64 at 76 columns
            decoded = base64.b64decode("".join(value.split()), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return True
        return not _not_a_secret(decoded)
    return True


def check_plaintext(secrets: Iterable[K8sObject]) -> Iterator[Finding]:
    """A Secret with any data/stringData value that is a real value in plaintext."""
    for obj in secrets:
        if obj.group != "" or obj.kind != "Secret":
            continue
        plain = [
            (field, str(key))
            for field in ("data", "stringData")
            if isinstance(values := obj.get(field), Mapping)
            for key, value in values.items()
            if _plain(field, value) and not str(key).startswith("sops_")
        ]
        if plain:
            field, key = plain[0]
            keys = ", ".join(f"{f}.{k}" for f, k in plain[:5])
            yield finding(
                obj,
                "secret/plaintext",
                f"plaintext value(s) in {keys}; encrypt the file with sops "
                "(encrypted_regex: ^(data|stringData)$) before committing it",
                (field, key),
            )


@dataclass(frozen=True)
class CreationRule:
    index: int
    path_regex: re.Pattern[str] | None
    age: frozenset[str]


def _recipients(value: Any) -> set[str]:
    items = value if isinstance(value, list) else str(value or "").split(",")
    return {str(item).strip() for item in items if str(item).strip()}


class SopsConfigs:
    """The `.sops.yaml` that applies to a file, found as sops finds it: in the file's folder,
    else the nearest parent folder that has one (also above the validated folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._loaded: dict[Path, list[CreationRule] | None] = {}

    def find(self, file: str) -> tuple[str, str, list[CreationRule]] | None:
        """(how to name the config, the file's path relative to its folder, its rules)."""
        folder = (self.root / file).parent
        for candidate in (folder, *folder.parents):
            rules = self._load(candidate)
            if rules is not None:
                shown = os.path.relpath(candidate / SOPS_CONFIG, self.root)
                rel = os.path.relpath(self.root / file, candidate)
                return Path(shown).as_posix(), Path(rel).as_posix(), rules
        return None

    def _load(self, folder: Path) -> list[CreationRule] | None:
        if folder not in self._loaded:
            self._loaded[folder] = load_sops_config(folder, self.root)
        return self._loaded[folder]


def load_sops_config(folder: Path, root: Path | None = None) -> list[CreationRule] | None:
    """The creation rules of `folder`'s .sops.yaml; None when there is no such file."""
    path = folder / SOPS_CONFIG
    if not path.is_file():
        return None
    shown = Path(os.path.relpath(path, root or folder)).as_posix()
    docs = load_documents(read_text(path), shown)
    body = docs[0].body if docs else {}
    rules = body.get("creation_rules") if isinstance(body, Mapping) else None
    out = []
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, Mapping):
            continue
        pattern = rule.get("path_regex")
        try:
            regex = re.compile(str(pattern)) if pattern else None
        except re.error as exc:
            line = docs[0].line_of("creation_rules", i, "path_regex")
            raise ConfigError(
                [f"{shown}:{line}: creation_rules[{i}].path_regex: invalid regex: {exc}"]
            ) from None
        age = _recipients(rule.get("age"))
        for group in rule.get("key_groups") or []:
            if isinstance(group, Mapping):
                age |= _recipients(group.get("age"))
        out.append(CreationRule(i, regex, frozenset(age)))
    return out


def rule_for(rules: Sequence[CreationRule], file: str) -> CreationRule | None:
    """sops' choice: the first rule whose path_regex matches the path relative to .sops.yaml."""
    for rule in rules:
        if rule.path_regex is None or rule.path_regex.search(file):
            return rule
    return None


def file_recipients(sops: Mapping[str, Any]) -> set[str]:
    found = {str(a.get("recipient")) for a in sops.get("age") or [] if isinstance(a, Mapping)}
    for group in sops.get("key_groups") or []:
        if isinstance(group, Mapping):
            found |= {
                str(a.get("recipient")) for a in group.get("age") or [] if isinstance(a, Mapping)
            }
    return {r for r in found if r and r != "None"}


def check_recipients(documents: Iterable[Document], configs: SopsConfigs) -> Iterator[Finding]:
    done: set[str] = set()
    for doc in documents:
        sops = doc.body.get("sops") if isinstance(doc.body, Mapping) else None
        if not isinstance(sops, Mapping) or doc.file in done:
            continue
        done.add(doc.file)
        recipients = file_recipients(sops)
        if not recipients:
            continue  # PGP or KMS only: nothing to compare with age rules
        message = _recipients_problem(recipients, configs.find(doc.file))
        if message:
            obj = K8sObject(doc.body, doc.file, doc)
            yield finding(obj, "sops/recipients", message, ("sops", "age"))


def _recipients_problem(
    recipients: set[str], config: tuple[str, str, list[CreationRule]] | None
) -> str:
    if config is None:
        return "SOPS-encrypted, but no .sops.yaml here or above says who may decrypt it"
    shown, rel, rules = config
    rule = rule_for(rules, rel)
    if rule is None:
        return f"SOPS-encrypted, but no {shown} creation rule matches this path"
    where = f"{shown} creation_rules[{rule.index}]"
    extra, missing = sorted(recipients - rule.age), sorted(rule.age - recipients)
    parts = []
    if extra:
        parts.append(f"encrypted for age recipient(s) {', '.join(extra)} not listed in {where}")
    if missing:
        parts.append(
            f"not encrypted for {', '.join(missing)} that {where} lists (run sops updatekeys)"
        )
    return "; ".join(parts)
