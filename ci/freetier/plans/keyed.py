"""How fingerprints hash, so that a published one lets nobody confirm a guess at a secret.

The fingerprint rides in the pull request's comment, beside a plan text that shows every
value but the sensitive ones: an unkeyed hash over the changes could be rebuilt from it for
each guess at a sensitive value until one matches. So with a key (`FREETIER_FINGERPRINT_KEY`,
a repository secret only CI holds) each sensitive value's token and the digest of the changes
are HMAC-SHA256 under it, which nobody without the key can compute. Without a key the tokens
are all `(sensitive)`: the digest is a plain sha256 of what the comment shows anyway, and does
not cover changes to sensitive values (the comment says so).

A digest names how it was made: `hmac-sha256/<key id>:<hex>` or `sha256-public:<hex>`. The key
id (an HMAC of a constant) tells keys apart without revealing them, so the deploy gate can
refuse to compare digests made in different ways instead of calling them different changes.

>>> public = Hashing()
>>> public.digest("x"), public.token("a.b", "input", '"1234"')
('sha256-public:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881', '(sensitive)')
>>> keyed = Hashing(b"k" * 32)
>>> keyed.scheme, keyed.digest("x") == public.digest("x")
('hmac-sha256/36ffc2a92a96', False)
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from hashlib import sha256

from freetier.errors import ConfigError
from freetier.masking import FINGERPRINT_KEY_ENV
from freetier.plans.model import SENSITIVE

KEYED = "hmac-sha256"
PUBLIC = "sha256-public"
KEYED_MARK = "(sensitive hmac:"
MIN_KEY_LEN = 32  # characters: the key must not be guessable either
KEY_ID_LEN = 12


@dataclass(frozen=True)
class Hashing:
    """Digests and sensitive-value tokens under `key`, or public ones without a key."""

    key: bytes | None = field(default=None, repr=False)

    @property
    def scheme(self) -> str:
        return PUBLIC if self.key is None else f"{KEYED}/{key_id(self.key)}"

    def digest(self, text: str) -> str:
        if self.key is None:
            return f"{PUBLIC}:{sha256(text.encode()).hexdigest()}"
        return f"{self.scheme}:{hmac.new(self.key, text.encode(), sha256).hexdigest()}"

    def token(self, address: str, path: str, value: str) -> str:
        """What stands for a sensitive `value` (canonical JSON) at `address` and `path`."""
        if self.key is None:
            return SENSITIVE
        message = f"{address}\0{path}\0{value}".encode()
        return f"{KEYED_MARK}{hmac.new(self.key, message, sha256).hexdigest()})"


def key_id(key: bytes) -> str:
    return hmac.new(key, b"freetier fingerprint key id", sha256).hexdigest()[:KEY_ID_LEN]


def fingerprint_key(text: str | None) -> bytes | None:
    """The key from the environment's value: None when unset, refused when too short."""
    if not text:
        return None
    if len(text) < MIN_KEY_LEN:
        raise ConfigError(
            [
                f"{FINGERPRINT_KEY_ENV}: shorter than {MIN_KEY_LEN} characters, so a published "
                "fingerprint could be brute-forced; make one with `openssl rand -hex 32`"
            ]
        )
    return text.encode()


def is_keyed(digest: str) -> bool:
    return digest.startswith(f"{KEYED}/")


def incomparable(reviewed: str, now: Hashing) -> str | None:
    """Why a reviewed digest cannot be compared with one made by `now`, or None when it can."""
    scheme, _, value = reviewed.rpartition(":")
    if scheme == now.scheme:
        return None
    if not scheme and len(value) == 64:
        return (
            "the review's fingerprint was made by an older freetier, unkeyed (it could reveal "
            "sensitive values): plan the pull request again"
        )
    if scheme == PUBLIC:
        return (
            f"the review's fingerprint was made without {FINGERPRINT_KEY_ENV}, so it does not "
            "cover changes to sensitive values, and this deploy has a key: plan the pull "
            "request again with the key"
        )
    if now.key is None and is_keyed(reviewed):
        return (
            f"the review's fingerprint is keyed ({scheme}), but {FINGERPRINT_KEY_ENV} is not "
            "set here: it cannot be checked"
        )
    if is_keyed(reviewed):
        return (
            f"the review's fingerprint was made with another key ({scheme}; this deploy has "
            f"{now.scheme}): plan the pull request again"
        )
    return "the review's fingerprint is not one freetier makes"
