"""Flux's post-build variable substitution (`spec.postBuild`), on the text of one object. Pure.

Supported as kustomize-controller does by default: `${var}`, `${var:=default}`,
`${var:-default}`, `${var=default}`, `${var-default}`, and `$${var}` for a literal `${var}`.
A variable with no value and no default becomes the empty string (non-strict mode).

>>> substitute("image: app:${tag:=1.0} host: ${host} keep: $${x}", {"host": "a.example"})
'image: app:1.0 host: a.example keep: ${x}'
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

DISABLED_KEY = "kustomize.toolkit.fluxcd.io/substitute"
_VAR = re.compile(r"\$(\$?)\{([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[=-])([^}]*))?\}")


def substitute(text: str, values: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        escaped, name, operator, default = match.groups()
        if escaped:
            return match.group(0)[1:]
        value = values.get(name)
        if operator is None:
            return value or ""
        if value is None or (operator.startswith(":") and value == ""):
            return default or ""
        return value

    return _VAR.sub(one, text)


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
    """The variables a ConfigMap or Secret holds; None when they are SOPS-encrypted."""
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
    if isinstance(string_data, Mapping):
        out.update({str(k): str(v) for k, v in string_data.items()})
    return out
