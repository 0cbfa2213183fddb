"""Every form a secret is printed in: checked against the real encoders where Python has them
(json, base64), against Go's documented strconv.Quote and encoding/json output otherwise (the
canary tests check them against the real terraform), and the trie regex that finds them."""

from __future__ import annotations

import base64
import doctest
import inspect
import json
import sys

import pytest

import freetier.masking as masking_module
from freetier.masking import (
    MASK,
    Masking,
    env_secrets,
    go_json,
    go_quote,
    hcl_quote,
    printed_forms,
    secrets_regex,
)

# One of each character some encoder escapes; pieces of letters between them.
CANARY = 'Qa1"Qb2\\Qc3\tQd4\nQe5\x01Qf6<&>Qg7\u00e9\u2028Qh8${Qi9}\x7fQj0'
PIECES = ("Qa1", "Qb2", "Qc3", "Qd4", "Qe5", "Qf6", "Qg7", "Qh8", "Qi9", "Qj0")


def test_doctests() -> None:
    assert doctest.testmod(masking_module).failed == 0


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ('a"b', 'a\\"b'),
        ("a\\b", "a\\\\b"),
        ("\a\b\f\n\r\t\v", "\\a\\b\\f\\n\\r\\t\\v"),
        ("\x00\x01\x1f\x7f", "\\x00\\x01\\x1f\\x7f"),
        ("\u00a0\u2028\ufeff", "\\u00a0\\u2028\\ufeff"),
        ("\U000e0001", "\\U000e0001"),
        ("é<&>${x}", "é<&>${x}"),
    ],
    ids=["quote", "backslash", "named", "control", "non-printable", "astral", "printable"],
)
def test_go_quote_as_strconv_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


def test_hcl_quote_escapes_templates_and_controls_as_u() -> None:
    assert hcl_quote('${a}%{b}"\x01\n') == '$${a}%%{b}\\"\\u0001\\n'
    assert hcl_quote("\a\b\v\r\t") == "\\u0007\\u0008\\u000b\\r\\t"  # HCL has no \a, \b, \v


def test_go_json_decodes_back_and_escapes_html() -> None:
    for old in (False, True):
        body = go_json(CANARY, go_before_1_22=old)
        assert json.loads(f'"{body}"') == CANARY
        assert not {"<", ">", "&", "\u2028"} & set(body)
    assert "\\b" in go_json("\b") and "\\u0008" in go_json("\b", go_before_1_22=True)


def pieces_left(text: str) -> int:
    """How many of CANARY's letter pieces `text` still shows."""
    return sum(piece in text for piece in PIECES)


def test_every_real_encoding_is_masked() -> None:
    once = [json.dumps(CANARY, ensure_ascii=a) for a in (False, True)]
    printed = [
        CANARY,
        go_quote(CANARY),  # terraform's plan text
        hcl_quote(CANARY),  # a tfvars file
        *once,  # Python's json
        go_json(CANARY),  # terraform's -json output
        *(json.dumps(o, ensure_ascii=a) for o in once for a in (False, True)),  # twice
        *(go_quote(o) for o in once),  # a jsonencode()d value in the plan text
        base64.b64encode(CANARY.encode()).decode(),
        base64.urlsafe_b64encode(CANARY.encode()).decode(),
        "\n".join(f"    {line}" for line in CANARY.split("\n")),  # a heredoc
    ]
    masking = Masking.of([CANARY])
    assert [pieces_left(masking.text(f"x = {text} ;")) for text in printed] == [0] * len(printed)
    assert pieces_left(CANARY) == len(PIECES)


def test_plain_values_have_only_their_raw_and_base64_forms() -> None:
    forms = printed_forms("plain-value_1")
    assert {f for f in forms if "plain" in f} == {"plain-value_1"}
    assert "cGxhaW4tdmFsdWVfMQ==" in forms
    assert printed_forms("plain", with_base64=False) == {"plain"}
    assert printed_forms("   ") == set() and printed_forms("") == set()


@pytest.mark.parametrize("before", [b"", b"x", b"xy", b"xyz", b"\xff\x00\x10"])
@pytest.mark.parametrize("after", [b"", b"!", b"!?", b"\x00\x00\x00"])
def test_base64_is_masked_at_every_offset(before: bytes, after: bytes) -> None:
    """Every base64 character that carries only bits of the secret is masked, wherever the
    secret starts inside the encoded data (and all of it when the secret is encoded alone)."""
    secret = "a-secret-of-some-length"
    encoded = base64.b64encode(before + secret.encode() + after).decode()
    masked = Masking.of([secret]).text(encoded)
    assert masked.count(MASK) == 1
    hidden = len(encoded) - (len(masked) - len(MASK))
    start, end = 8 * len(before), 8 * (len(before) + len(secret))  # the secret's bits
    only_secret = end // 6 - -(-start // 6)  # characters wholly inside those bits
    # At its end the secret's own padding may go too (`...Gg=` is its whole encoding's tail).
    assert only_secret <= hidden <= only_secret + (3 if not after else 0)


def test_masking_text_and_json() -> None:
    masking = Masking.of([CANARY])
    for form in printed_forms(CANARY):
        assert masking.text(f"<<{form}>>") == f"<<{MASK}>>"
    parsed = json.loads(json.dumps({CANARY: [f"x{CANARY}", 1, None, {"k": CANARY}]}))
    assert masking.json(parsed) == {MASK: [f"x{MASK}", 1, None, {"k": MASK}]}
    assert Masking().text(CANARY) == CANARY  # nothing registered


def test_env_secrets_are_the_registered_names_and_every_tf_var() -> None:
    env = {
        "GITHUB_TOKEN": "gh-token",
        "FREETIER_FINGERPRINT_KEY": "fp-key",
        "TF_VAR_region": "region-value",
        "TF_VAR_blank": "  ",
        "HOME": "/root",
        "MY_SECRET": "mine",
    }
    assert env_secrets(env) == ("region-value", "gh-token", "fp-key")
    extra = env_secrets(env, ["MY_SECRET", "UNSET"])
    assert extra == ("region-value", "gh-token", "fp-key", "mine")


def test_secrets_regex_matches_the_longest_value() -> None:
    rx = secrets_regex(["ab", "abcd", "abce", "b", "xyz"])
    assert rx is not None
    assert rx.findall("abcdabceabcxyzb") == ["abcd", "abce", "ab", "xyz", "b"]
    assert secrets_regex(["", ""]) is None


def test_secrets_regex_many_values() -> None:
    values = [f"sensitive-value-{i}" for i in range(2000)]
    rx = secrets_regex(values)
    assert rx is not None
    assert rx.sub(MASK, "a sensitive-value-1999 b sensitive-value-7 c") == f"a {MASK} b {MASK} c"


def test_secrets_regex_values_nested_too_deep_for_a_trie() -> None:
    """Values each a prefix of the next nest the trie deeper than the recursion limit allows
    (over 1,000 of them); a plain alternation takes over. Shown with a low limit, as fast."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 100)
    try:
        nested = secrets_regex(["a" * n for n in range(1, 300)])
    finally:
        sys.setrecursionlimit(limit)
    assert nested is not None
    assert nested.pattern.startswith("a" * 299 + "|")  # the alternation, not the trie
    assert nested.fullmatch("a" * 299)
    assert nested.findall("a" * 301) == ["a" * 299, "aa"]
