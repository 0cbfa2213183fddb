"""`.sops.yaml`: which files sops encrypts (by path), which fields, and for which recipients."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from freetier.errors import ConfigError
from freetier.files import read_yaml
from freetier.secrets.model import SOPS_CONFIG

TREE_FOLDERS = ("clusters", "infrastructure", "apps")
PATH_REGEX = r"^(clusters|infrastructure|apps)/.*\.sops\.yaml$"
ENCRYPTED_REGEX = r"^(data|stringData)$"


def sops_config_text(recipients: Sequence[str]) -> str:
    """The file's exact text; one rule covers every secret file of the Flux tree."""
    if not recipients:
        raise ValueError("at least one age recipient is needed")
    return (
        "# Written by `freetier secrets init`: sops encrypts the data/stringData of every\n"
        "# *.sops.yaml file under clusters/, infrastructure/ and apps/ for these age recipients.\n"
        "# Add a teammate's recipient (comma-separated) and run `sops updatekeys FILE`.\n"
        "creation_rules:\n"
        f"  - path_regex: {PATH_REGEX}\n"
        f"    encrypted_regex: {ENCRYPTED_REGEX}\n"
        f"    age: {','.join(recipients)}\n"
    )


def is_tree_secret_path(relpath: str) -> bool:
    """Whether a repository-relative POSIX path falls under the creation rule."""
    return re.match(PATH_REGEX, relpath) is not None


def read_config_recipients(root: Path) -> tuple[str, ...]:
    """The age recipients of every creation rule in ROOT/.sops.yaml (empty when it is missing)."""
    path = root / SOPS_CONFIG
    if not path.exists():
        return ()
    data = read_yaml(path)
    rules = data.get("creation_rules") if isinstance(data, dict) else None
    if not isinstance(rules, list):
        raise ConfigError([f"{path}: no creation_rules list"])
    recipients: list[str] = []
    for rule in rules:
        age = rule.get("age") if isinstance(rule, dict) else None
        if isinstance(age, str):
            recipients.extend(r.strip() for r in age.split(",") if r.strip())
        elif isinstance(age, list):
            recipients.extend(str(r).strip() for r in age)
    return tuple(dict.fromkeys(recipients))
