"""The age identity (private key) SOPS decrypts with: created with pyrage, never printed.

The file has age-keygen's layout (comments with the creation time and public key, then the
`AGE-SECRET-KEY-1...` line), so `sops` and `age` read it as is through SOPS_AGE_KEY_FILE.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyrage  # type: ignore[import-untyped]  # no type information shipped

from freetier.errors import ConfigError

SECRET_PREFIX = "AGE-SECRET-KEY-1"  # noqa: S105 - the format's prefix, not a key


@dataclass(frozen=True)
class Identity:
    path: Path
    recipient: str
    created: bool


def ensure_identity(path: Path, *, now: datetime | None = None) -> Identity:
    """Create the identity at `path` (mode 0600) unless one is there already; keep it if so."""
    if path.exists():
        return Identity(path=path, recipient=read_recipient(path), created=False)
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = f"# created: {stamp}\n# public key: {recipient}\n{identity}\n"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return Identity(path=path, recipient=read_recipient(path), created=False)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot create the age identity: {exc.strerror}"]) from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
    return Identity(path=path, recipient=recipient, created=True)


def read_recipient(path: Path) -> str:
    """The public recipient (age1...) of the identity file; errors never quote its content."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no age identity; run `freetier secrets init` first"]) from None
    except (OSError, UnicodeDecodeError):
        raise ConfigError([f"{path}: cannot read the age identity"]) from None
    return parse_identity(text, str(path))[1]


def parse_identity(text: str, where: str) -> tuple[str, str]:
    """(the `AGE-SECRET-KEY-1...` line, its recipient) of an identity file's text; errors
    name `where` and never quote the text."""
    keys = [line.strip() for line in text.splitlines() if line.strip().startswith(SECRET_PREFIX)]
    if len(keys) != 1:
        raise ConfigError([f"{where}: expected exactly one AGE-SECRET-KEY line"])
    try:
        identity = pyrage.x25519.Identity.from_str(keys[0])
    except pyrage.IdentityError:  # never echo the key
        raise ConfigError([f"{where}: not a valid age X25519 identity"]) from None
    return keys[0], str(identity.to_public())


def is_recipient(text: str) -> bool:
    """Whether `text` parses as an age X25519 recipient (public key)."""
    try:
        pyrage.x25519.Recipient.from_str(text)
    except pyrage.RecipientError:
        return False
    return True
