"""Flux's post-build variable substitution (`spec.postBuild`), on the text of one object. Pure.

Follows kustomize-controller's envsubst (github.com/fluxcd/pkg, envsubst/parse and
kustomize/kustomize_varsub.go), which differs from a shell in ways that matter:
- `$$` is a literal `$` in text (so `$${var}` stays `${var}`), but not inside a default;
- defaults nest: `${a:=${b:=x}}`; every default operator (`:=`, `:-`, `=`, `:+`...) yields
  the default when the value is empty *or* unset; `${var-x}` (no colon) does not parse;
- also `${#var}`, `${var:1:2}`, `${var/a/b}`, `${var#pre}`, `${var%suf}`, `${var^^}`...;
- a malformed expression (`${}`, `${a b}`, an unclosed `${`) fails the whole object;
- strict mode (`--feature-gates=StrictPostBuildSubstitutions=true`): a variable without a
  value and without a default fails the object; otherwise it becomes "".

Variables whose value cannot be known here (from a Secret made outside the repository or
encrypted with SOPS) are `unknown`: a reference to one is left as written, so checks after
substitution see a placeholder rather than a wrong value.

>>> substitute("image: app:${tag:=1.0} host: ${host} keep: $${x}", {"host": "a.example"})
'image: app:1.0 host: a.example keep: ${x}'
>>> substitute("db: ${user:=${app}}", {"app": "web"})
'db: web'
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

DISABLED_KEY = "kustomize.toolkit.fluxcd.io/substitute"
NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")  # what Flux accepts as a variable name
_DEFAULT_OPS = frozenset({"-", "+", "=", "?", ":-", ":+", ":=", ":?"})


class SubstitutionError(Exception):
    """Flux would fail the object: a malformed expression, or strict mode and no value."""


@dataclass
class _Func:
    name: str  # the variable
    op: str  # "" for a bare ${name}
    args: list[Any]  # nodes: str or _Func or list
    text: str  # as written, to keep for an unknown variable


class _Parser:
    """A recursive-descent reading of the envsubst grammar over `text`."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def peek(self, ahead: int = 0) -> str:
        j = self.i + ahead
        return self.s[j] if j < len(self.s) else ""

    def text_nodes(self) -> list[Any]:
        """Top level: text with `$$` escapes, and `${...}` expressions."""
        out: list[Any] = []
        buf: list[str] = []
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch == "$" and self.peek(1) == "{":
                if buf:
                    out.append("".join(buf))
                    buf = []
                out.append(self.func())
            elif ch == "$" and self.peek(1) == "$":
                buf.append("$")
                self.i += 2
            else:
                buf.append(ch)
                self.i += 1
        if buf:
            out.append("".join(buf))
        return out

    def func(self) -> _Func:
        start = self.i
        self.i += 2  # ${
        if self.peek() == "#":
            self.i += 1
            name = self.ident()
            self.close()
            return _Func(name, "#len", [], self.s[start : self.i])
        name = self.ident()
        ch = self.peek()
        if ch == ":" and self.peek(1) in ("=", "-", "?", "+"):
            op, args = self.take(2), self.default_args()
        elif ch == "=":
            op, args = self.take(1), self.default_args()
        elif ch == ":":
            op, args = self.take(1), self.substring_args()
        elif ch in (",", "^"):
            op, args = self.doubled(ch), []
            self.close()
        elif ch in ("#", "%"):
            op, args = self.doubled(ch), [self.param(lambda c: c != "}")]
            self.close()
        elif ch == "/":
            op, args = self.replace_op(), self.replace_args()
        else:
            op, args = "", []
            if ch != "}":
                raise SubstitutionError("missing closing brace")
            self.i += 1
        return _Func(name, op, args, self.s[start : self.i])

    def take(self, count: int) -> str:
        self.i += count
        return self.s[self.i - count : self.i]

    def doubled(self, ch: str) -> str:
        """`,` or `,,` (and `^`, `#`, `%` alike)."""
        self.i += 1
        if self.peek() == ch:
            self.i += 1
            return ch + ch
        return ch

    def substring_args(self) -> list[Any]:
        args = [self.param(lambda c: c not in ":}")]
        if self.peek() == ":":
            self.i += 1
            args.append(self.param(lambda c: c != "}"))
        self.close()
        return args

    def replace_op(self) -> str:
        self.i += 1
        if self.peek() in ("/", "#", "%"):
            return "/" + self.take(1)
        return "/"

    def replace_args(self) -> list[Any]:
        args = [self.param(lambda c: c != "/", escapes=True)]
        if self.peek() != "/":
            raise SubstitutionError("bad substitution")
        self.i += 1
        if self.peek() != "}":
            args.append(self.param(lambda c: c != "}", escapes=True))
        self.close()
        return args

    def ident(self) -> str:
        start = self.i
        while self.i < len(self.s) and (self.s[self.i].isalnum() or self.s[self.i] == "_"):
            self.i += 1
        if self.i == start:
            raise SubstitutionError("unable to parse variable name")
        return self.s[start : self.i]

    def close(self) -> None:
        if self.peek() != "}":
            raise SubstitutionError("bad substitution")
        self.i += 1

    def default_args(self) -> list[Any]:
        args: list[Any] = []
        while self.peek() != "}":
            if self.i >= len(self.s):
                raise SubstitutionError("unable to parse substitution within function")
            args.append(self.param(lambda c: c != "}"))
        self.i += 1
        return args

    def param(self, accept: Callable[[str], bool], escapes: bool = False) -> Any:
        """One argument: a nested `${...}` or a run of accepted characters (at least one)."""
        if self.peek() == "$" and self.peek(1) == "{":
            return self.func()
        buf: list[str] = []
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch == "$" and self.peek(1) == "{":
                break
            if escapes and ch == "\\" and self.peek(1) in ("/", "\\"):
                buf.append(self.s[self.i + 1])
                self.i += 2
                continue
            if not accept(ch):
                break
            buf.append(ch)
            self.i += 1
        if not buf:
            raise SubstitutionError("unable to parse substitution within function")
        return "".join(buf)


class _Unknown(Exception):
    """A value this run cannot know: keep the expression as written."""


def _evaluate(node: Any, values: Mapping[str, str], strict: bool, unknown: bool) -> str:
    if isinstance(node, str):
        return node
    func: _Func = node
    args = [_evaluate(arg, values, strict, unknown) for arg in func.args]
    present = func.name in values
    value = values.get(func.name, "")
    if not present and func.op not in _DEFAULT_OPS:
        if unknown:
            raise _Unknown
        if strict:
            raise SubstitutionError(f'variable not set (strict mode): "{func.name}"')
    return _apply(func.op, value, args)


def _apply(op: str, value: str, args: list[str]) -> str:
    if op in _DEFAULT_OPS or op == "":
        return value if value or not args else "".join(args)
    if op == "#len":
        return str(len(value.encode()))
    if op in (",", ",,", "^", "^^"):
        change = str.lower if op[0] == "," else str.upper
        return change(value) if len(op) == 2 else change(value[:1]) + value[1:]
    if op == ":":
        return _substring(value, args)
    if op in ("/", "//"):
        new = args[1] if len(args) > 1 else ""
        return value.replace(args[0], new, -1 if op == "//" else 1)
    if op == "/#":
        return (
            args[1] + value[len(args[0]) :]
            if len(args) == 2 and value.startswith(args[0])
            else value
        )
    if op == "/%":
        ok = len(args) == 2 and value.endswith(args[0])
        return value[: len(value) - len(args[0])] + args[1] if ok else value
    if op in ("#", "##"):
        return _trim(value, args[0], longest=op == "##")
    if op in ("%", "%%"):
        return _trim(value[::-1], args[0][::-1], longest=op == "%%")[::-1]
    return value


def _substring(value: str, args: list[str]) -> str:
    try:
        pos = int(args[0])
    except ValueError:
        return value
    if pos < 0:
        pos = max(0, len(value) + pos)
    if len(args) == 1:
        return value[pos:]
    try:
        length = int(args[1])
    except ValueError:
        return value
    return value[pos:] if pos + length >= len(value) else value[pos : pos + length]


def _trim(value: str, pattern: str, *, longest: bool) -> str:
    lengths = range(len(value), 0, -1)
    matches = [n for n in lengths if fnmatch.fnmatchcase(value[:n], pattern)]
    if not matches:
        return value
    return value[(matches[0] if longest else matches[-1]) :]


def substitute(
    text: str, values: Mapping[str, str], *, strict: bool = False, unknown: bool = False
) -> str:
    """`text` with its variables replaced as Flux does. `unknown`: some variables' values are
    not known here, so a reference without a value and without a default is kept as written.
    SubstitutionError where Flux would fail the object."""
    out = []
    for node in _Parser(text).text_nodes():
        try:
            out.append(_evaluate(node, values, strict, unknown))
        except _Unknown:
            out.append(node.text)
    return "".join(out)


def placeholder(value: Any) -> bool:
    """A variable left as written because its value cannot be known here (it lives in a
    Secret made outside the repository): no schema can judge the value."""
    return isinstance(value, str) and "${" in value


def has_variables(text: str) -> bool:
    return "${" in text


def disabled(body: Mapping[str, Any]) -> bool:
    """Objects labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled`."""
    meta = body.get("metadata")
    if not isinstance(meta, Mapping):
        return False
    for field in ("annotations", "labels"):
        marks = meta.get(field)
        if isinstance(marks, Mapping) and marks.get(DISABLED_KEY) == "disabled":
            return True
    return False


def values_of(body: Mapping[str, Any]) -> dict[str, str] | None:
    """The variables a ConfigMap or Secret holds, newlines removed as Flux removes them; None
    when they are SOPS-encrypted (their values cannot be known here)."""
    if "sops" in body:
        return None
    out: dict[str, str] = {}
    data = body.get("data")
    if isinstance(data, Mapping):
        for key, value in data.items():
            if body.get("kind") == "Secret":
                try:
                    value = base64.b64decode(str(value), validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    continue
            out[str(key)] = str(value)
    string_data = body.get("stringData")
    if isinstance(string_data, Mapping) and body.get("kind") == "Secret":
        out.update({str(k): str(v) for k, v in string_data.items()})
    return {key: value.replace("\n", "") for key, value in out.items()}
