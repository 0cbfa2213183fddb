"""How fingerprints hash: keyed digests and tokens, public ones without a key, and which
digests the deploy gate may compare."""

from __future__ import annotations

import doctest

import pytest

import freetier.plans.keyed as keyed_module
from freetier.errors import ConfigError
from freetier.plans.keyed import Hashing, fingerprint_key, incomparable, is_keyed
from freetier.plans.model import SENSITIVE
from freetier.plans.secrets import registered_secrets

KEY = b"a-fingerprint-key-of-enough-length-0123"
OTHER = b"another-fingerprint-key-of-enough-length"


def test_doctests() -> None:
    assert doctest.testmod(keyed_module).failed == 0


def test_keyed_tokens_and_digests_depend_on_the_key_and_the_value() -> None:
    a, b = Hashing(KEY), Hashing(OTHER)
    assert a.token("x.y", "input", '"1"') != a.token("x.y", "input", '"2"')
    assert a.token("x.y", "input", '"1"') != b.token("x.y", "input", '"1"')
    assert a.token("x.y", "input", '"1"') != a.token("x.z", "input", '"1"')
    assert a.digest("t").rpartition(":")[2] != b.digest("t").rpartition(":")[2]
    assert a.scheme != b.scheme and is_keyed(a.digest("t")) and not is_keyed(Hashing().digest("t"))
    assert Hashing().token("x.y", "input", '"1"') == Hashing().token("x.z", "p", '"2"') == SENSITIVE


def test_the_key_never_shows_in_a_repr() -> None:
    secrets = registered_secrets({"FREETIER_FINGERPRINT_KEY": KEY.decode(), "TF_VAR_x": "v-1"})
    assert secrets.fingerprint_key == KEY and KEY.decode() in secrets.values
    assert (KEY.decode() in repr(secrets), KEY.decode() in repr(Hashing(KEY))) == (False, False)
    assert registered_secrets({}).fingerprint_key is None


def test_a_short_key_is_refused_without_quoting_it() -> None:
    with pytest.raises(ConfigError) as info:
        fingerprint_key("too-short")
    assert "shorter than 32 characters" in str(info.value)
    assert "too-short" not in str(info.value)
    assert fingerprint_key("") is None and fingerprint_key(None) is None


@pytest.mark.parametrize(
    ("reviewed", "now", "reason"),
    [
        (Hashing(KEY).digest("t"), Hashing(KEY), None),
        (Hashing().digest("t"), Hashing(), None),
        ("0" * 64, Hashing(KEY), "made by an older freetier"),
        ("0" * 64, Hashing(), "made by an older freetier"),
        (Hashing().digest("t"), Hashing(KEY), "made without FREETIER_FINGERPRINT_KEY"),
        (Hashing(KEY).digest("t"), Hashing(), "FREETIER_FINGERPRINT_KEY is not set here"),
        (Hashing(OTHER).digest("t"), Hashing(KEY), "made with another key"),
        ("md5:abc", Hashing(KEY), "not one freetier makes"),
        ("", Hashing(), "not one freetier makes"),
    ],
    ids=[
        "same-key",
        "both-public",
        "legacy-vs-keyed",
        "legacy-vs-public",
        "public-vs-keyed",
        "keyed-vs-public",
        "other-key",
        "unknown",
        "empty",
    ],
)
def test_what_the_gate_may_compare(reviewed: str, now: Hashing, reason: str | None) -> None:
    why = incomparable(reviewed, now)
    assert why is None if reason is None else reason in (why or "")
