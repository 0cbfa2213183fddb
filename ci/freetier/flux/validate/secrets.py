"""Secrets in Git: plaintext Secrets, and SOPS files whose age recipients differ from the
`.sops.yaml` creation rule for their path. Nothing is ever decrypted."""

from __future__ import annotations

import base64
import binascii
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


def _encrypted(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if value.startswith("ENC["):
        return True
    try:  # a secretGenerator over a SOPS dotenv file base64-encodes the ENC[...] values
        return base64.b64decode(value, validate=True).startswith(b"ENC[")
    except (binascii.Error, ValueError):
        return False


def check_plaintext(secrets: Iterable[K8sObject]) -> Iterator[Finding]:
    """A Secret with any data/stringData value that is not SOPS ciphertext."""
    for obj in secrets:
        if obj.group != "" or obj.kind != "Secret":
            continue
        plain = [
            (field, str(key))
            for field in ("data", "stringData")
            if isinstance(values := obj.get(field), Mapping)
            for key, value in values.items()
            if not _encrypted(value) and not str(key).startswith("sops_")
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


def load_sops_config(root: Path) -> list[CreationRule] | None:
    """The root .sops.yaml's creation rules; None when there is no such file."""
    path = root / SOPS_CONFIG
    if not path.is_file():
        return None
    docs = load_documents(read_text(path), SOPS_CONFIG)
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
                [f"{SOPS_CONFIG}:{line}: creation_rules[{i}].path_regex: invalid regex: {exc}"]
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


def check_recipients(
    documents: Iterable[Document], rules: Sequence[CreationRule] | None
) -> Iterator[Finding]:
    done: set[str] = set()
    for doc in documents:
        sops = doc.body.get("sops") if isinstance(doc.body, Mapping) else None
        if not isinstance(sops, Mapping) or doc.file in done:
            continue
        done.add(doc.file)
        recipients = file_recipients(sops)
        if not recipients:
            continue  # PGP or KMS only: nothing to compare with age rules
        message = _recipients_problem(doc.file, recipients, rules)
        if message:
            obj = K8sObject(doc.body, doc.file, doc)
            yield finding(obj, "sops/recipients", message, ("sops", "age"))


def _recipients_problem(
    file: str, recipients: set[str], rules: Sequence[CreationRule] | None
) -> str:
    if rules is None:
        return "SOPS-encrypted, but the repository has no .sops.yaml saying who may decrypt it"
    rule = rule_for(rules, file)
    if rule is None:
        return "SOPS-encrypted, but no .sops.yaml creation rule matches this path"
    where = f".sops.yaml creation_rules[{rule.index}]"
    extra, missing = sorted(recipients - rule.age), sorted(rule.age - recipients)
    parts = []
    if extra:
        parts.append(f"encrypted for age recipient(s) {', '.join(extra)} not listed in {where}")
    if missing:
        parts.append(
            f"not encrypted for {', '.join(missing)} that {where} lists (run sops updatekeys)"
        )
    return "; ".join(parts)
