r"""Secrets, and every form the tools around us print them in. Pure; the subprocess runner and
the plan cores both mask with it.

A value is masked raw and as it gets printed: terraform's plan text quotes strings as Go's
`strconv.Quote` does (`\"`, `\\`, `\t`, `\x01`, `\u2028`), HCL escapes templates (`$${`)
and writes `\uXXXX`, JSON escapes them (Python's way, ASCII-only or not, and Go's, which
also escapes `<`, `>` and `&`), one of those inside another (a `jsonencode()`d value in the
plan text), and base64: whole, and at each of the three offsets it can start at inside longer
data (the characters that also carry neighbouring bytes cannot be masked, and a run shorter
than `MIN_BASE64_CORE` is left alone: it would hide unrelated text). A multi-line value is
also masked line by line (lines shorter than `MIN_LINE_LEN` are too common to mask), since
terraform prints such strings as heredocs, each line as it is.

>>> masking = Masking.of(['pa"ss\tword'])
>>> print(masking.text('in = "pa\\"ss\\tword", json = "pa\\"ss\\tword", b64 = cGEic3MJd29yZA=='))
in = "(sensitive)", json = "(sensitive)", b64 = (sensitive)
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MASK = "(sensitive)"
FINGERPRINT_KEY_ENV = "FREETIER_FINGERPRINT_KEY"  # keys the published plan fingerprints
# Credentials freetier itself handles; every TF_VAR_ value too (tofu secrets travel so).
SECRET_ENV = (
    "GITHUB_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "OCI_CLI_KEY_CONTENT",
    FINGERPRINT_KEY_ENV,
    "FREETIER_AGE_KEY",  # the age identity `freetier bootstrap` puts in the sops-age Secret
)
TF_VAR_PREFIX = "TF_VAR_"
MIN_LINE_LEN = 6  # a line of a multi-line secret shorter than this is too common to mask
MIN_BASE64_CORE = 6


def env_secrets(env: Mapping[str, str], extra_names: Iterable[str] = ()) -> tuple[str, ...]:
    """The values of the registered variables in `env`: SECRET_ENV, every TF_VAR_ and
    `extra_names`; longest first, none empty or only blanks."""
    names = [*SECRET_ENV, *extra_names, *(k for k in env if k.startswith(TF_VAR_PREFIX))]
    values = {env[n] for n in names if env.get(n, "").strip()}
    return tuple(sorted(values, key=len, reverse=True))


def all_forms(values: Iterable[str], *, with_base64: bool = True) -> set[str]:
    """Every printed form of every value."""
    forms: set[str] = set()
    for value in values:
        forms |= printed_forms(value, with_base64=with_base64)
    return forms


def printed_forms(value: str, *, with_base64: bool = True) -> set[str]:
    """`value` raw and in every printed form above (none for a blank value)."""
    if not value.strip():
        return set()
    forms = {value}
    if not _ESCAPE_FREE.fullmatch(value) or "${" in value or "%{" in value:
        escaped = {encode(value) for encode in ESCAPES}
        forms |= {*escaped, *(encode(e) for e in escaped for encode in ESCAPES)}
    if "\n" in value:
        forms.update(s for line in value.split("\n") if len(s := line.strip()) >= MIN_LINE_LEN)
    if with_base64:
        forms.update(base64_forms(value.encode("utf-8", "surrogateescape")))
    return forms


def go_quote(text: str) -> str:
    r"""The inside of Go's `strconv.Quote(text)`: how terraform's plan text shows a string.

    >>> print(go_quote('a"b\\c\td\x01e\u00e9\u2028'))
    a\"b\\c\td\x01eé\u2028
    """
    return _quote(text, hcl=False)


def hcl_quote(text: str) -> str:
    r"""The inside of an HCL string literal: `\n`, `\r`, `\t`, `\uXXXX` for other control
    and non-printable characters, templates escaped.

    >>> print(hcl_quote('${a}\x01\b\t'))
    $${a}\u0001\u0008\t
    """
    return _quote(text, hcl=True).replace("${", "$${").replace("%{", "%%{")


def json_body(text: str, *, ascii_only: bool = False) -> str:
    """The inside of Python's `json.dumps(text)`."""
    return json.dumps(text, ensure_ascii=ascii_only)[1:-1]


def go_json(text: str, *, go_before_1_22: bool = False) -> str:
    r"""The inside of Go's `json.Marshal(text)` (terraform's `-json` output, `show -json`):
    `<`, `>`, `&` and line separators as `\uXXXX` too; `\b` and `\f` so since Go 1.22.

    >>> print(go_json('<"\\\b>'), go_json('\b', go_before_1_22=True))
    \u003c\"\\\b\u003e \u0008
    """
    out: list[str] = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif char in _JSON_ESCAPES and not (go_before_1_22 and char in "\b\f"):
            out.append(_JSON_ESCAPES[char])
        elif code < 0x20 or char in "<>&\u2028\u2029":
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def base64_forms(data: bytes) -> set[str]:
    """Base64 of `data` whole (padded), and the characters carrying only `data` at each of the
    three byte offsets it can start at; both alphabets."""
    forms = {base64.b64encode(data).decode()}
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data + bytes(2)).decode()
        core = encoded[-(-8 * offset // 6) : 8 * (offset + len(data)) // 6]
        if len(core) >= MIN_BASE64_CORE:
            forms.add(core)
    return forms | {f.translate(_URLSAFE) for f in forms}


@dataclass(frozen=True)
class Masking:
    """Registered secrets in all their forms, compiled once; `text` masks a string and `json`
    every string (keys too) of a parsed JSON value."""

    pattern: re.Pattern[str] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, values: Iterable[str]) -> Masking:
        return cls(secrets_regex(all_forms(values)))

    def text(self, text: str) -> str:
        return text if self.pattern is None else self.pattern.sub(MASK, text)

    def json(self, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            return self.text(value)
        if kind is dict:
            return {self.text(k): self.json(v) for k, v in value.items()}
        if kind is list:
            return [self.json(item) for item in value]
        return value


def secrets_regex(values: Iterable[str]) -> re.Pattern[str] | None:
    """One regex matching any of `values`, longest first, built as a trie so that a search
    costs about the same for 1 value or 1,000; None when there is nothing to match."""
    trie: dict[str, Any] = {}
    for value in values:
        if value:
            node = trie
            for char in value:
                node = node.setdefault(char, {})
            node[_END] = {}
    if not trie:
        return None
    try:
        return re.compile(_trie_regex(trie))
    except RecursionError:  # thousands of values nested in each other: plain alternation
        ordered = sorted({v for v in values if v}, key=len, reverse=True)
        return re.compile("|".join(map(re.escape, ordered)))


def _quote(text: str, *, hcl: bool) -> str:
    named = _HCL_ESCAPES if hcl else _C_ESCAPES
    out: list[str] = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif char in named:
            out.append(named[char])
        elif (code < 0x20 or code == 0x7F) and not hcl:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return "".join(out)


# Printable ASCII but `"`, `\`, `<`, `>` and `&`: what every escape above leaves as it is.
_ESCAPE_FREE = re.compile(r"[ !#-%'-;=?-\[\]-~]*")
_JSON_ESCAPES = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_C_ESCAPES = {**_JSON_ESCAPES, "\a": "\\a", "\v": "\\v"}
_HCL_ESCAPES = {c: _JSON_ESCAPES[c] for c in "\n\r\t"}
_URLSAFE = str.maketrans("+/", "-_")
ESCAPES: tuple[Callable[[str], str], ...] = (
    go_quote,
    hcl_quote,
    json_body,
    lambda text: json_body(text, ascii_only=True),
    go_json,
    lambda text: go_json(text, go_before_1_22=True),
)
_END = ""  # marks the end of a value in the trie (no key of a real char is empty)


def _trie_regex(node: dict[str, Any]) -> str:
    """The regex of a trie node: runs of single children become literals; an optional tail
    is greedy, so the longest value wins."""
    branches: list[str] = []
    for char, child in node.items():
        if char == _END:
            continue
        run = char
        while len(child) == 1 and _END not in child:
            ((char, child),) = child.items()
            run += char
        branches.append(re.escape(run) + _trie_regex(child))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if _END in node else body
